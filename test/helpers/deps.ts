/**
 * Test dependencies: a fresh database (SQLite, or PostgreSQL when OUBLI_TEST_DATABASE_URL is set:
 * test/helpers/db.ts) with the committed migrations applied, ephemeral signing keys, a
 * controllable clock, a silent logger. No port, no shared state. Every database made here is
 * scanned for personal data in its audit log after each test.
 */
import { ApiKeyCache } from '../../src/auth/api-key-cache.js';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { loadConfig, type Config } from '../../src/config.js';
import { openTestDatabase, postgresTestUrl } from './db.js';
import { PostgresDatabase } from '../../src/db/postgres.js';
import { PG_MIGRATIONS } from '../../src/db/open.js';
import type { Database } from '../../src/db/database.js';
import { createIdGenerator } from '../../src/ids.js';
import { AuditLog } from '../../src/audit/log.js';
import { SigningKeys } from '../../src/audit/keys.js';
import { TreeHeads } from '../../src/audit/tree-heads.js';
import { newLogId } from '../../src/audit/log-id.js';
import { registerAuditDb } from './audit-pii.js';
import type { Ctx, Deps } from '../../src/deps.js';
import { createApp } from '../../src/app.js';
import { HealthChecks } from '../../src/deployment/health.js';
import { DEFAULT_UNIQUE_TYPES } from '../../src/requests/review.js';
import { PurposeCatalog } from '../../src/consent/catalog.js';
import { createWebhookClient } from '../../src/webhooks/client.js';
import { announceCheckpoint } from '../../src/webhooks/events.js';
import { ConsentWriter } from '../../src/consent/record.js';
import { createMailer } from '../../src/mail/mailer.js';
import { Metrics } from '../../src/metrics/metrics.js';

export const T0 = Date.parse('2026-03-01T09:00:00.000Z');

export interface TestClock {
  now: () => number;
  set(ms: number): void;
  advance(ms: number): void;
}

export function testClock(start = T0): TestClock {
  let t = start;
  return { now: () => t, set: (ms) => (t = ms), advance: (ms) => (t += ms) };
}

export interface TestDeps extends Deps {
  clock: TestClock;
}

export async function createTestDeps(
  overrides: {
    env?: Record<string, string>;
    config?: Partial<Config>;
    /** Instead of the file's test database. */
    db?: Database;
    /** prom-client's process metrics in deps.metrics (off by default). */
    processMetrics?: boolean;
  } = {},
): Promise<TestDeps> {
  const clock = testClock();
  const config = {
    ...loadConfig({ OUBLI_DATA_DIR: join(tmpdir(), `oubli-test-${randomBytes(6).toString('hex')}`), ...overrides.env }),
    ...overrides.config,
  };
  const db = overrides.db ?? (await openTestDatabase());
  registerAuditDb(db);
  const keys = SigningKeys.ephemeral(clock.now);
  const audit = new AuditLog(db, clock.now);
  const logId = await audit.open(newLogId(config.publicUrl));
  const purposes = new PurposeCatalog(db);
  await purposes.start();
  const apiKeys = new ApiKeyCache(db);
  await apiKeys.start();
  const ids = createIdGenerator(clock.now);
  const secrets = { pseudonymKey: randomBytes(32), masterKey: randomBytes(32) };
  return {
    clock,
    config,
    db,
    now: clock.now,
    ids,
    logger: pino({ level: 'silent' }),
    audit,
    keys,
    treeHeads: new TreeHeads(db, audit, keys, logId, clock.now, { onNewHead: (t, head) => announceCheckpoint({ db, ids, now: clock.now, secrets }, t, head) }),
    secrets,
    connectors: [],
    requireApproval: [],
    health: new HealthChecks(clock.now),
    uniqueIdentityTypes: DEFAULT_UNIQUE_TYPES,
    purposes,
    apiKeys,
    consentWrites: new ConsentWriter(db),
    webhookClient: createWebhookClient({ allowPrivate: config.webhookAllowPrivate }),
    mailer: createMailer(config, clock.now),
    // No process metrics: each set runs its own timers, and most tests never scrape.
    metrics: new Metrics({ db, audit, now: clock.now }, { process: overrides.processMetrics }),
    startup: { ready: true },
  };
}

/**
 * A second instance beside `deps`: the same data dir, keys, secrets, clock and connectors —
 * what another `oubli serve` of the same deployment has — and on PostgreSQL its own pool on the
 * same database. On SQLite it shares `deps.db`: two connections of ONE process on one file
 * would interleave their transactions' statements between awaits and lock each other out (in
 * production a second process waits on the file's lock instead; the CLI and kill -9 suites
 * cover that). `dataDir` names the shared data dir by another path (a mount point elsewhere).
 * Close it with `closePeerDeps`.
 */
export async function createPeerDeps(deps: TestDeps, opts: { dataDir?: string } = {}): Promise<TestDeps> {
  const db =
    deps.db.dialect === 'sqlite'
      ? deps.db
      : await PostgresDatabase.open({ url: postgresTestUrl()!, migrationsFolder: PG_MIGRATIONS, poolSize: 4, applicationName: 'oubli-test-peer' });
  const audit = new AuditLog(db, deps.clock.now);
  const logId = await audit.open(newLogId(deps.config.publicUrl));
  return {
    ...deps,
    config: { ...deps.config, ...(opts.dataDir ? { dataDir: opts.dataDir } : {}) },
    db,
    ids: createIdGenerator(deps.clock.now),
    audit,
    treeHeads: new TreeHeads(db, audit, deps.keys, logId, deps.clock.now),
    health: new HealthChecks(deps.clock.now),
    metrics: new Metrics({ db, audit, now: deps.clock.now }),
  };
}

/** Closes what createPeerDeps opened (never the database it shares with `deps`). */
export async function closePeerDeps(peer: TestDeps, deps: TestDeps): Promise<void> {
  if (peer.db !== deps.db) await peer.db.close();
}

export function systemCtx(deps: Deps): Ctx {
  return { ...deps, actor: { type: 'system', id: 'test' } };
}

/** An app over fresh test deps, plus helpers to call it. */
export async function createTestApp(overrides: Parameters<typeof createTestDeps>[0] = {}) {
  const deps = await createTestDeps(overrides);
  const app = createApp(deps);
  return { deps, app };
}
