/**
 * Bench fixture for the consent registry: a SQLite file with the real schema and N people × 5
 * purposes, written with prepared statements in big transactions (bypassing HTTP only).
 *
 * It writes exactly the rows recordConsent would for one event per (person, purpose): subject,
 * key (sealed under a fixed bench master key), identifier, consent event, current state, outbox
 * row, and one audit entry per event with its Merkle nodes. The audit entries are loaded IN BULK: serialised by a fixed-shape RFC 8785
 * writer (checked against `canonicalize` on the first entry of every chunk) and hashed with the
 * tree frontier kept in memory, instead of going through AuditLog.appendMany one call per event.
 * Afterwards 200 random entries are checked: leaf hash and inclusion proof against the root.
 */
import { ApiKeyCache } from '../../src/auth/api-key-cache.js';
import { createMailer } from '../../src/mail/mailer.js';
import { Metrics } from '../../src/metrics/metrics.js';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, rmSync } from 'node:fs';
import canonicalize from 'canonicalize';
import pino from 'pino';
import Sqlite, { type SqliteConnection } from '../../connectors/sql/sqlite-binding.js';
import type { Database } from '../../src/db/database.js';
import { SqliteDatabase } from '../../src/db/sqlite.js';
import { PostgresDatabase } from '../../src/db/postgres.js';
import { PG_MIGRATIONS, SQLITE_MIGRATIONS } from '../../src/db/open.js';
import { AuditLog } from '../../src/audit/log.js';
import { leafHash, verifyInclusion } from '../../src/audit/verify.js';
import { fastLeafHash, fastNodeHash } from '../../src/audit/hash.js';
import { SigningKeys } from '../../src/audit/keys.js';
import { TreeHeads } from '../../src/audit/tree-heads.js';
import { loadConfig } from '../../src/config.js';
import { createIdGenerator, encodeTime } from '../../src/ids.js';
import { newLogId } from '../../src/audit/log-id.js';
import type { Ctx } from '../../src/deps.js';
import { createPurpose } from '../../src/consent/purposes.js';
import { PurposeCatalog } from '../../src/consent/catalog.js';
import { createWebhookClient } from '../../src/webhooks/client.js';
import { ConsentWriter } from '../../src/consent/record.js';
import { subjectRefFromKey } from '../../src/subjects/service.js';
import { sealSubjectKey } from '../../src/subjects/key-seal.js';
import { HealthChecks } from '../../src/deployment/health.js';

export const BENCH_PURPOSES = ['newsletter', 'partner-offers', 'recommendations', 'targeted-ads', 'analytics'] as const;
export const emailOf = (i: number) => `person${i}@bench.example`;

/** Fixed, so the fixture and the bench server (another process) open the same sealed keys. */
const BENCH_MASTER_KEY = createHash('sha256').update('oubli bench master key').digest();

/** The bench's store: a SQLite file path, or a postgres:// URL. */
export async function openBenchDatabase(target: string): Promise<Database> {
  if (target.startsWith('postgres')) {
    return PostgresDatabase.open({ url: target, migrationsFolder: PG_MIGRATIONS, poolSize: Number(process.env.BENCH_POOL ?? 10), applicationName: 'oubli-bench' });
  }
  return SqliteDatabase.open(target, { migrationsFolder: SQLITE_MIGRATIONS });
}

/** The service's dependencies over `db`, as src/runtime.ts builds them (ephemeral signing key). */
export async function benchCtx(db: Database): Promise<Ctx> {
  const now = Date.now;
  const audit = new AuditLog(db, now);
  const keys = SigningKeys.ephemeral(now);
  const logId = await audit.open(newLogId(undefined));
  const purposes = new PurposeCatalog(db);
  await purposes.start();
  return {
    config: loadConfig({ OUBLI_DATA_DIR: '/tmp/oubli-bench-unused' }),
    db,
    now,
    ids: createIdGenerator(now),
    logger: pino({ level: 'silent' }),
    audit,
    keys,
    treeHeads: new TreeHeads(db, audit, keys, logId, now),
    secrets: { pseudonymKey: randomBytes(32), masterKey: BENCH_MASTER_KEY },
    connectors: [],
    mailer: createMailer({ dataDir: '/tmp/oubli-bench-unused', mailFrom: 'bench@localhost' }, now),
    requireApproval: [],
    health: new HealthChecks(now),
    uniqueIdentityTypes: ['email', 'customer_id', 'loyalty_card'],
    purposes,
    apiKeys: new ApiKeyCache(db),
    consentWrites: new ConsentWriter(db),
    webhookClient: createWebhookClient({ allowPrivate: true }),
    metrics: new Metrics({ db, audit, now }),
    startup: { ready: true },
    actor: { type: 'system', id: 'bench' },
  };
}

/** Creates the bench's five purposes. */
export async function createBenchPurposes(ctx: Ctx): Promise<void> {
  const texts = (id: string) => ({ fr: `Texte de la finalité ${id}.`, en: `Text of purpose ${id}.` });
  for (const id of BENCH_PURPOSES) {
    await createPurpose(ctx, {
      id,
      title: { fr: id, en: id },
      text: texts(id),
      legalBasis: 'dpv:Consent',
      channels: ['email', 'web'],
      validityDays: id === 'analytics' ? 395 : null,
      gpcApplies: id === 'targeted-ads' || id === 'partner-offers',
    });
  }
}

const ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz';
/**
 * Same layout as src/ids.ts (prefix, 10 time chars, 16 random base32 chars), without BigInt.
 * Each id takes the next millisecond from `start`, as if people and events had arrived one per
 * millisecond: ids stay time-sorted, so B-tree inserts append as they do in production.
 */
function fastIds(start: number) {
  let ms = start;
  let pool = randomBytes(16 * 65536);
  let off = 0;
  return (prefix: string) => {
    if (off + 16 > pool.length) {
      pool = randomBytes(16 * 65536);
      off = 0;
    }
    let tail = '';
    for (let i = 0; i < 16; i++) tail += ALPHABET[pool[off++]! & 31];
    return `${prefix}_${encodeTime(ms++)}${tail}`;
  };
}

/**
 * Buffers rows and inserts them ROWS at a time with one multi-row VALUES statement: the
 * per-call cost of better-sqlite3 is paid once per ROWS rows instead of once per row. The
 * parameter array is allocated once and reused (no garbage per row).
 */
function inserter(sqlite: SqliteConnection, head: string, cols: number, rows = 128) {
  const one = `(${Array.from({ length: cols }, () => '?').join(', ')})`;
  const full = sqlite.prepare(`${head} values ${Array.from({ length: rows }, () => one).join(', ')}`);
  const single = sqlite.prepare(`${head} values ${one}`);
  const buf: unknown[] = new Array(rows * cols);
  let n = 0;
  return {
    add2(a: unknown, b: unknown) {
      buf[n++] = a;
      buf[n++] = b;
      if (n === buf.length) (full.run(buf), (n = 0));
    },
    add3(a: unknown, b: unknown, c: unknown) {
      buf[n++] = a;
      buf[n++] = b;
      buf[n++] = c;
      if (n === buf.length) (full.run(buf), (n = 0));
    },
    add(...values: unknown[]) {
      for (let i = 0; i < values.length; i++) buf[n++] = values[i];
      if (n === buf.length) (full.run(buf), (n = 0));
    },
    flush() {
      for (let i = 0; i < n; i += cols) single.run(buf.slice(i, i + cols));
      n = 0;
    },
  };
}


export interface LoadResult {
  people: number;
  events: number;
  auditEntries: number;
  ms: number;
}

/** Creates (replacing) the fixture at `path`. */
export async function loadFixture(path: string, people: number, log: (s: string) => void = () => {}): Promise<LoadResult> {
  for (const f of [path, `${path}-wal`, `${path}-shm`]) if (existsSync(f)) rmSync(f);
  const t0 = performance.now();
  {
    // Schema, audit log and catalogue through oubli itself.
    const db = SqliteDatabase.open(path, { migrationsFolder: SQLITE_MIGRATIONS });
    await createBenchPurposes(await benchCtx(db));
    await db.close();
  }
  const sqlite = new Sqlite(path);
  // Bulk-load settings (this connection only, except journal_mode which the next open resets
  // to WAL): no rollback journal, no fsync, a big page cache.
  sqlite.pragma('journal_mode = DELETE');
  sqlite.pragma('journal_mode = OFF');
  sqlite.pragma('synchronous = OFF');
  sqlite.pragma('cache_size = -524288');
  // The generated rows are consistent by construction (a person's row before its key and
  // identifier): no foreign-key probe per inserted row.
  sqlite.pragma('foreign_keys = OFF');

  // Indexes whose keys arrive in random order are built once at the end (a sort) instead of
  // row by row; they are recreated from their own stored definitions, so the schema is unchanged.
  const deferred = sqlite
    .prepare(
      "select name, sql from sqlite_master where type = 'index' and name in ('consent_events_stats_idx', 'consent_states_purpose_idx')",
    )
    .all() as { name: string; sql: string }[];
  for (const ix of deferred) sqlite.exec(`drop index ${ix.name}`);

  const now = Date.now();
  const at = new Date(now).toISOString();
  const ids = fastIds(now - people * 7);
  const st = {
    subject: inserter(sqlite, 'insert into subjects (id, created_at)', 2),
    key: inserter(sqlite, 'insert into subject_keys (subject_id, key)', 2),
    ident: inserter(sqlite, 'insert into subject_identifiers (type, value, subject_id, created_at)', 4),
    event: inserter(
      sqlite,
      `insert into consent_events (id, subject_id, purpose_id, decision, occurred_at, recorded_at, channel, collected_by,
       location, method, purpose_version, evidence, gpc, audit_idx)`,
      14,
      64,
    ),
    state: inserter(sqlite, 'insert into consent_states (subject_id, purpose_id, decision, occurred_at, channel, event_id)', 6),
    outbox: inserter(sqlite, 'insert into outbox (type, payload, created_at)', 3),
    entry: inserter(sqlite, 'insert into audit_entries (idx, type, request_id, entry, leaf_hash)', 5),
    node: inserter(sqlite, 'insert into audit_nodes (level, idx, hash)', 3),
  };
  // Merkle frontier: left[l] = hash of the complete left node at level l awaiting its sibling.
  let index = sqlite.prepare('select count(*) from audit_entries').pluck().get() as number;
  const left: Uint8Array[] = [];
  {
    let level = 0;
    while (index >> level > 0) {
      const k = Math.floor(index / 2 ** level);
      if (k % 2 === 1) {
        left[level] = Buffer.from(
          level === 0
            ? (sqlite.prepare('select leaf_hash from audit_entries where idx = ?').pluck().get(k - 1) as Buffer)
            : (sqlite.prepare('select hash from audit_nodes where level = ? and idx = ?').pluck().get(level, k - 1) as Buffer),
        );
      }
      level++;
    }
  }

  const DECISIONS = ['granted', 'granted', 'granted', 'refused', 'withdrawn'] as const;
  const CHANNELS = ['web', 'store', 'app', 'call_center', 'import'] as const;
  const YEAR = 400 * 86_400_000;
  let seed = 42;
  const rnd = () => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed;
  };
  const CHUNK = 20_000;
  let events = 0;
  for (let start = 0; start < people; start += CHUNK) {
    const end = Math.min(people, start + CHUNK);
    const keys = randomBytes(32 * CHUNK);
    sqlite.transaction(() => {
      for (let i = start; i < end; i++) {
        const sub = ids('sub');
        const key = keys.subarray((i - start) * 32, (i - start + 1) * 32);
        st.subject.add2(sub, now);
        st.key.add2(sub, sealSubjectKey(BENCH_MASTER_KEY, sub, key));
        st.ident.add('email', emailOf(i), sub, now);
        const ref = subjectRefFromKey(key);
        for (let p = 0; p < BENCH_PURPOSES.length; p++) {
          const purpose = BENCH_PURPOSES[p]!;
          const r = rnd();
          const decision = DECISIONS[r % 5]!;
          const channel = CHANNELS[(r >> 3) % 5]!;
          const occurredAt = now - (r % YEAR);
          const occurredIso = new Date(occurredAt).toISOString();
          const evt = ids('evt');
          const entry =
            `{"actor":{"id":"bench","type":"system"},"at":"${at}","data":{"channel":"${channel}","decision":"${decision}",` +
            `"event":"${evt}","gpc":false,"occurredAt":"${occurredIso}","purpose":"${purpose}","purposeVersion":1},` +
            `"index":${index},"subjectRef":"${ref}","type":"consent.recorded"}`;
          if (i === start && p === 0) {
            const check = canonicalize(JSON.parse(entry));
            if (check !== entry) throw new Error(`bulk audit serialisation differs from RFC 8785:\n${entry}\n${check}`);
          }
          let h = fastLeafHash(entry);
          st.entry.add(index, 'consent.recorded', null, entry, h);
          let level = 0;
          let idx = index;
          while (idx % 2 === 1) {
            h = fastNodeHash(left[level]!, h);
            level++;
            idx = (idx - 1) / 2;
            st.node.add3(level, idx, h);
          }
          left[level] = h;
          st.event.add(evt, sub, purpose, decision, occurredAt, now, channel, null, null, r % 2 ? 'checkbox' : null, 1, null, 0, index);
          st.state.add(sub, purpose, decision, occurredAt, channel, evt);
          st.outbox.add3(
            'consent.updated',
            `{"subject":"${sub}","purpose":"${purpose}","decision":"${decision}","occurredAt":"${occurredIso}"}`,
            now,
          );
          index++;
          events++;
        }
      }
      for (const ins of Object.values(st)) ins.flush();
    })();
    log(`  loaded ${end.toLocaleString('en')} people (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
  }
  const ti = performance.now();
  for (const ix of deferred) sqlite.exec(ix.sql);
  log(`  deferred indexes: ${((performance.now() - ti) / 1000).toFixed(1)} s`);
  sqlite.pragma('foreign_keys = ON');
  log(`  indexes built (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
  sqlite.close();
  const ms = performance.now() - t0;
  // Opening the log brings its sequencer (size, right frontier, root) up to the bulk-written
  // entries, from the stored nodes. Then random entries are spot-checked: they hash to their
  // stored leaf and are proven included in the root of the whole tree (src/audit/verify.ts).
  const db = SqliteDatabase.open(path, { migrationsFolder: SQLITE_MIGRATIONS });
  const ctx = await benchCtx(db);
  const size = await ctx.audit.size();
  const root = await ctx.audit.root(size);
  for (let k = 0; k < 200; k++) {
    const i = Math.floor(Math.random() * size);
    const [e] = await ctx.audit.entries(i, 1);
    const leaf = leafHash(e!.entry);
    if (Buffer.compare(Buffer.from(leaf), Buffer.from(e!.leafHash)) !== 0 || !verifyInclusion(leaf, i, size, await ctx.audit.inclusionProof(i, size), root)) {
      throw new Error(`bulk-loaded audit entry ${i} does not verify`);
    }
  }
  log(`  audit log spot-checked: 200 random entries verify against the root of ${size.toLocaleString('en')}`);
  await db.close();
  return { people, events, auditEntries: events, ms };
}
