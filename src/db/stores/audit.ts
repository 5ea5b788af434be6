/**
 * The audit log's rows: entries, stored subtree nodes, signed tree heads and the one-row log
 * (identity + sequencer). The Merkle logic is src/audit/log.ts; this is storage only.
 *
 * Measured exceptions, kept here (the append and proof hot paths):
 * - batches of rows: on SQLite, plain better-sqlite3 statements inserting CHUNK rows at a time
 *   (then single rows), prepared once per connection — drizzle's placeholder filling costs more
 *   than the insert itself at a million entries; on PostgreSQL, one `insert … select from
 *   unnest(array, …)` per batch: one parameter per column instead of one per value, which the
 *   client builds and the server parses several times faster than a multi-row VALUES list;
 * - proof nodes: on SQLite, plain prepared point reads (a microsecond each, no round trip); on
 *   PostgreSQL, one query for all of them;
 * - the verifier's streams of entries and nodes: on SQLite, plain statements answering rows as
 *   better-sqlite3 builds them (drizzle's row mapping is a tenth of `oubli audit verify`).
 */
import { and, asc, desc, eq, gt, gte, lte, sql } from 'drizzle-orm';
import type { NodePgDatabase } from 'drizzle-orm/node-postgres';
import type { Database, Handle } from '../database.js';
import { forUpdate } from '../dialect.js';
import type { AuditLogRow, AuditVerification, TreeHeadRow } from '../schema/audit.js';
import type { SqliteDatabase } from '../sqlite.js';
import type { SqliteConnection, SqliteStatement } from '../../../connectors/sql/sqlite-binding.js';

const BATCH = 1000;
/** Rows per prepared multi-row insert on SQLite. */
const CHUNK = 50;

export interface EntryRow {
  idx: number;
  type: string;
  requestId: string | null;
  entry: string;
  leafHash: Buffer;
}

export interface NodeRow {
  level: number;
  idx: number;
  hash: Buffer;
}

export type Sequencer = Pick<AuditLogRow, 'size' | 'frontier' | 'root'>;

const p = sql.placeholder;

function statements(db: Database) {
  const { auditEntries: e, auditNodes: n, auditTreeHeads: h, auditLogs: l } = db.tables;
  return {
    node: db.statement<{ hash: Buffer }>('audit.node', (q) =>
      q.select({ hash: n.hash }).from(n).where(and(eq(n.level, p('level')), eq(n.idx, p('idx')))),
    ),
    leaf: db.statement<{ hash: Buffer }>('audit.leaf', (q) => q.select({ hash: e.leafHash }).from(e).where(eq(e.idx, p('idx')))),
    sequencer: db.statement<Sequencer>('audit.sequencer', (q) =>
      q.select({ size: l.size, frontier: l.frontier, root: l.root }).from(l).where(eq(l.id, 1)),
    ),
    sequencerForUpdate: db.statement<Sequencer>('audit.sequencerForUpdate', (q) =>
      forUpdate(db, q.select({ size: l.size, frontier: l.frontier, root: l.root }).from(l).where(eq(l.id, 1))),
    ),
    setSequencer: db.statement('audit.setSequencer', (q) =>
      q.update(l).set({ size: sql`${p('size')}`, frontier: sql`${p('frontier')}`, root: sql`${p('root')}` }).where(eq(l.id, 1)),
    ),
    entryChunk: db.statement<{ idx: number; entry: string; leafHash: Buffer }>('audit.entryChunk', (q) =>
      q.select({ idx: e.idx, entry: e.entry, leafHash: e.leafHash }).from(e).where(gte(e.idx, p('from'))).orderBy(asc(e.idx)).limit(p('limit')),
    ),
    levelChunk: db.statement<{ idx: number; hash: Buffer }>('audit.levelChunk', (q) =>
      q
        .select({ idx: n.idx, hash: n.hash })
        .from(n)
        .where(and(eq(n.level, p('level')), gte(n.idx, p('from'))))
        .orderBy(asc(n.idx))
        .limit(p('limit')),
    ),
    latestHead: db.statement<TreeHeadRow>('audit.latestHead', (q) => q.select().from(h).orderBy(desc(h.size)).limit(1)),
    headBySize: db.statement<TreeHeadRow>('audit.headBySize', (q) => q.select().from(h).where(eq(h.size, p('size')))),
  };
}

/** The SQLite hot-path statements of one connection (see the header). */
function sqliteStatements(conn: SqliteConnection) {
  const rows = (n: number, cols: number) => Array.from({ length: n }, () => `(${Array(cols).fill('?').join(', ')})`).join(', ');
  return {
    entries: conn.prepare(`insert into audit_entries (idx, type, request_id, entry, leaf_hash) values ${rows(CHUNK, 5)}`),
    entry: conn.prepare('insert into audit_entries (idx, type, request_id, entry, leaf_hash) values (?, ?, ?, ?, ?)'),
    nodes: conn.prepare(`insert into audit_nodes (level, idx, hash) values ${rows(CHUNK, 3)}`),
    node: conn.prepare('insert into audit_nodes (level, idx, hash) values (?, ?, ?)'),
    readNode: conn.prepare('select hash from audit_nodes where level = ? and idx = ?').pluck(),
    readLeaf: conn.prepare('select leaf_hash from audit_entries where idx = ?').pluck(),
    entryChunk: conn.prepare('select idx, entry, leaf_hash as leafHash from audit_entries where idx >= ? order by idx limit ?'),
    levelChunk: conn.prepare('select idx, hash from audit_nodes where level = ? and idx >= ? order by idx limit ?'),
  };
}

/** Inserts `rows` CHUNK at a time, then one by one, with the values `flat` gives per row. */
function insertChunked<R>(many: SqliteStatement, one: SqliteStatement, rows: R[], flat: (r: R, out: unknown[]) => void): void {
  const buf: unknown[] = [];
  let i = 0;
  for (; i + CHUNK <= rows.length; i += CHUNK) {
    buf.length = 0;
    for (let j = i; j < i + CHUNK; j++) flat(rows[j]!, buf);
    many.run(buf);
  }
  for (; i < rows.length; i++) {
    buf.length = 0;
    flat(rows[i]!, buf);
    one.run(buf);
  }
}

const flatEntry = (r: EntryRow, out: unknown[]) => void out.push(r.idx, r.type, r.requestId, r.entry, r.leafHash);
const flatNode = (r: NodeRow, out: unknown[]) => void out.push(r.level, r.idx, r.hash);

export class AuditStore {
  constructor(private readonly h: Handle) {}

  private get s() {
    return this.h.db.cached('audit', statements);
  }

  private get t() {
    return this.h.db.tables;
  }

  /** SQLite only: the hot-path statements on this handle's connection (the writer inside a transaction). */
  private get lite() {
    const db = this.h.db as unknown as SqliteDatabase;
    return this.h.inTx ? db.cached('audit.sqlite.writer', () => sqliteStatements(db.writer)) : db.cached('audit.sqlite.reader', () => sqliteStatements(db.reader));
  }

  /** The log's row (identity and sequencer), if the log was created. */
  async log(): Promise<AuditLogRow | undefined> {
    const [row] = await this.h.q.select().from(this.t.auditLogs).where(eq(this.t.auditLogs.id, 1));
    return row;
  }

  /** Creates the log's row unless another process did first; answers the row that stands. */
  async createLog(logId: string, createdAt: number): Promise<AuditLogRow> {
    await this.h.q.insert(this.t.auditLogs).values({ id: 1, logId, createdAt }).onConflictDoNothing();
    return (await this.log())!;
  }

  /** Size, frontier and root as committed (or, inside a transaction, as it sees them). */
  sequencer(): Promise<Sequencer | undefined> {
    return this.s.sequencer.first(this.h);
  }

  /** Reads the sequencer and holds it until the transaction ends (the append lock). */
  lockSequencer(): Promise<Sequencer | undefined> {
    return this.s.sequencerForUpdate.first(this.h);
  }

  async setSequencer(v: { size: number; frontier: Buffer | null; root: Buffer | null }): Promise<void> {
    await this.s.setSequencer.run(this.h, v);
  }

  /**
   * Writes an append under the sequencer's lock: its entries, the nodes they complete and the
   * sequencer's new size and right edge. On PostgreSQL one statement (the lock is held until
   * commit, so every round trip here is time no other writer can append).
   */
  async writeAppend(entries: EntryRow[], nodes: NodeRow[], seq: { size: number; frontier: Buffer | null; root: Buffer | null }): Promise<void> {
    if (this.h.db.dialect === 'sqlite' || entries.length > BATCH) {
      await this.insertEntries(entries);
      await this.insertNodes(nodes);
      return this.setSequencer(seq);
    }
    await this.pg.execute(
      sql`with e as (
            insert into audit_entries (idx, type, request_id, entry, leaf_hash)
            select * from unnest(${sql.param(entries.map((r) => r.idx))}::bigint[], ${sql.param(entries.map((r) => r.type))}::text[],
              ${sql.param(entries.map((r) => r.requestId))}::text[], ${sql.param(entries.map((r) => r.entry))}::text[], ${sql.param(entries.map((r) => r.leafHash))}::bytea[])
          ), n as (
            insert into audit_nodes (level, idx, hash)
            select * from unnest(${sql.param(nodes.map((r) => r.level))}::integer[], ${sql.param(nodes.map((r) => r.idx))}::bigint[], ${sql.param(nodes.map((r) => r.hash))}::bytea[])
          )
          update audit_logs set size = ${seq.size}, frontier = ${seq.frontier}, root = ${seq.root} where id = 1`,
    );
  }

  async insertEntries(rows: EntryRow[]): Promise<void> {
    if (this.h.db.dialect === 'sqlite') {
      const s = this.lite;
      return insertChunked(s.entries, s.entry, rows, flatEntry);
    }
    for (let i = 0; i < rows.length; i += BATCH) {
      const b = rows.slice(i, i + BATCH);
      await this.pg.execute(
        sql`insert into audit_entries (idx, type, request_id, entry, leaf_hash)
            select * from unnest(${sql.param(b.map((r) => r.idx))}::bigint[], ${sql.param(b.map((r) => r.type))}::text[],
              ${sql.param(b.map((r) => r.requestId))}::text[], ${sql.param(b.map((r) => r.entry))}::text[], ${sql.param(b.map((r) => r.leafHash))}::bytea[])`,
      );
    }
  }

  /** The PostgreSQL handle (the batched inserts are PostgreSQL's own SQL). */
  private get pg(): NodePgDatabase {
    return this.h.q as unknown as NodePgDatabase;
  }

  async insertNodes(rows: NodeRow[]): Promise<void> {
    if (rows.length === 0) return;
    if (this.h.db.dialect === 'sqlite') {
      const s = this.lite;
      return insertChunked(s.nodes, s.node, rows, flatNode);
    }
    for (let i = 0; i < rows.length; i += BATCH) {
      const b = rows.slice(i, i + BATCH);
      await this.pg.execute(
        sql`insert into audit_nodes (level, idx, hash)
            select * from unnest(${sql.param(b.map((r) => r.level))}::integer[], ${sql.param(b.map((r) => r.idx))}::bigint[], ${sql.param(b.map((r) => r.hash))}::bytea[])`,
      );
    }
  }

  /** Stored hash of node (level, idx); level 0 is the entry's leaf hash. */
  async node(level: number, idx: number): Promise<Buffer | undefined> {
    const row = level === 0 ? await this.s.leaf.first(this.h, { idx }) : await this.s.node.first(this.h, { level, idx });
    return row?.hash;
  }

  /**
   * A point reader of stored nodes that needs no await, where the store has one (SQLite: its
   * reads are synchronous underneath); undefined otherwise. Proofs then read exactly the nodes
   * they need, once, instead of planning their reads first (see AuditLog.withNodes).
   */
  immediateReader(): ((level: number, idx: number) => Buffer | undefined) | undefined {
    if (this.h.db.dialect !== 'sqlite') return undefined;
    const s = this.lite;
    return (level, idx) => (level === 0 ? s.readLeaf.get(idx) : s.readNode.get(level, idx)) as Buffer | undefined;
  }

  /** Many nodes at once (a proof's worth, or more), keyed `level:idx`; missing ones are absent. */
  async nodes(coords: { level: number; idx: number }[]): Promise<Map<string, Buffer>> {
    const out = new Map<string, Buffer>();
    if (this.h.db.dialect === 'sqlite') {
      const s = this.lite;
      for (const { level, idx } of coords) {
        const hash = (level === 0 ? s.readLeaf.get(idx) : s.readNode.get(level, idx)) as Buffer | undefined;
        if (hash) out.set(`${level}:${idx}`, hash);
      }
      return out;
    }
    for (let i = 0; i < coords.length; i += BATCH) {
      const b = coords.slice(i, i + BATCH);
      const res = await this.pg.execute<{ level: number; idx: string; hash: Buffer }>(
        sql`select c.level, c.idx, coalesce(n.hash, e.leaf_hash) as hash
            from unnest(${sql.param(b.map((c) => c.level))}::integer[], ${sql.param(b.map((c) => c.idx))}::bigint[]) as c(level, idx)
            left join audit_nodes n on c.level > 0 and n.level = c.level and n.idx = c.idx
            left join audit_entries e on c.level = 0 and e.idx = c.idx`,
      );
      for (const r of res.rows) if (r.hash) out.set(`${r.level}:${Number(r.idx)}`, r.hash);
    }
    return out;
  }

  /** Entries with index ≥ `from`, in order, at most `limit`. */
  entries(from: number, limit: number): Promise<EntryRow[]> {
    const { auditEntries: e } = this.t;
    return this.h.q.select().from(e).where(gte(e.idx, from)).orderBy(asc(e.idx)).limit(limit);
  }

  /** Entry texts and leaf hashes with index ≥ `from`, in order, at most `limit` (the verifier streams them). */
  async entryTexts(from: number, limit: number): Promise<{ idx: number; entry: string; leafHash: Buffer }[]> {
    if (this.h.db.dialect === 'sqlite') return this.lite.entryChunk.all(from, limit) as { idx: number; entry: string; leafHash: Buffer }[];
    return this.s.entryChunk.all(this.h, { from, limit });
  }

  /** Nodes of one level with idx ≥ `from`, in order (the verifier streams each level). */
  async nodesOfLevel(level: number, from: number, limit: number): Promise<{ idx: number; hash: Buffer }[]> {
    if (this.h.db.dialect === 'sqlite') return this.lite.levelChunk.all(level, from, limit) as { idx: number; hash: Buffer }[];
    return this.s.levelChunk.all(this.h, { level, from, limit });
  }

  /** Indices of a request's entries, in order. */
  async indicesOfRequest(requestId: string): Promise<number[]> {
    const { auditEntries: e } = this.t;
    const rows = await this.h.q.select({ idx: e.idx }).from(e).where(eq(e.requestId, requestId)).orderBy(asc(e.idx));
    return rows.map((r) => r.idx);
  }

  /** A request's entries (their exact JSON), in order, at most `limit`. */
  async entriesOfRequest(requestId: string, limit: number): Promise<{ idx: number; entry: string }[]> {
    const { auditEntries: e } = this.t;
    return this.h.q.select({ idx: e.idx, entry: e.entry }).from(e).where(eq(e.requestId, requestId)).orderBy(asc(e.idx)).limit(limit);
  }

  /** Number of stored entries (what the sequencer must agree with). */
  async countEntries(): Promise<number> {
    const { auditEntries: e } = this.t;
    const [row] = await this.h.q.select({ n: sql<number>`count(*)`.mapWith(Number) }).from(e);
    return row?.n ?? 0;
  }

  latestHead(): Promise<TreeHeadRow | undefined> {
    return this.s.latestHead.first(this.h);
  }

  headBySize(size: number): Promise<TreeHeadRow | undefined> {
    return this.s.headBySize.first(this.h, { size });
  }

  /** Stores a signed head; a head of the same size signed meanwhile by another process stays. */
  /** Stores a signed head; false when one of that size was already stored. */
  async insertHead(row: TreeHeadRow): Promise<boolean> {
    const { auditTreeHeads: h } = this.t;
    const rows = await this.h.q.insert(h).values(row).onConflictDoNothing().returning({ size: h.size });
    return rows.length === 1;
  }

  /** Signed heads with size in [from, to], smallest first. */
  heads(from = 0, to = Number.MAX_SAFE_INTEGER): Promise<TreeHeadRow[]> {
    const { auditTreeHeads: h } = this.t;
    return this.h.q
      .select()
      .from(h)
      .where(and(gte(h.size, from), lte(h.size, to)))
      .orderBy(asc(h.size));
  }

  /** Signed heads above `size`. */
  headsAbove(size: number): Promise<TreeHeadRow[]> {
    const { auditTreeHeads: h } = this.t;
    return this.h.q.select().from(h).where(gt(h.size, size)).orderBy(asc(h.size));
  }

  // ------------------------------------------------------------------------------ verifications

  /**
   * The running verification whose heartbeat is newer than `liveSince` — locked (PostgreSQL;
   * take the `audit.verification` lock first) so two staff members clicking at once start one.
   */
  async liveVerification(liveSince: number): Promise<AuditVerification | undefined> {
    const { auditVerifications: v } = this.t;
    const [row] = await this.h.q
      .select()
      .from(v)
      .where(and(eq(v.status, 'running'), gt(v.heartbeatAt, liveSince)))
      .orderBy(desc(v.startedAt))
      .limit(1);
    return row;
  }

  async insertVerification(row: AuditVerification): Promise<void> {
    await this.h.q.insert(this.t.auditVerifications).values(row);
  }

  async verificationProgress(id: string, checked: number, now: number): Promise<void> {
    const { auditVerifications: v } = this.t;
    await this.h.q.update(v).set({ checked, heartbeatAt: now }).where(and(eq(v.id, id), eq(v.status, 'running')));
  }

  async finishVerification(id: string, done: Pick<AuditVerification, 'status' | 'checked' | 'treeHeads' | 'root' | 'problem' | 'finishedAt'>): Promise<void> {
    const { auditVerifications: v } = this.t;
    await this.h.q
      .update(v)
      .set({ ...done, heartbeatAt: done.finishedAt ?? 0 })
      .where(and(eq(v.id, id), eq(v.status, 'running')));
  }

  /** The most recent verifications, newest first. */
  verifications(limit: number): Promise<AuditVerification[]> {
    const { auditVerifications: v } = this.t;
    return this.h.q.select().from(v).orderBy(desc(v.startedAt), desc(v.id)).limit(limit);
  }

  verification(id: string): Promise<AuditVerification | undefined> {
    const { auditVerifications: v } = this.t;
    return this.h.q
      .select()
      .from(v)
      .where(eq(v.id, id))
      .then((r) => r[0]);
  }
}
