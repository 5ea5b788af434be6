import { sqliteTable, text, integer, blob, primaryKey, index } from 'drizzle-orm/sqlite-core';

// Audit tables have no foreign keys to anything: their rows outlive people, users and keys.

/** The append-only log. `entry` is the exact RFC 8785 JSON that was hashed into `leafHash`. */
export const auditEntries = sqliteTable(
  'audit_entries',
  {
    idx: integer('idx').primaryKey(),
    type: text('type').notNull(),
    requestId: text('request_id'),
    entry: text('entry').notNull(),
    leafHash: blob('leaf_hash', { mode: 'buffer' }).notNull(),
  },
  // A request's entries: its receipt and the DPO's timeline read them without a scan of the log.
  (t) => [index('audit_entries_request_idx').on(t.requestId, t.idx)],
);

/**
 * Hashes of complete perfect subtrees above the leaves: node (level, idx) covers leaves
 * [idx·2^level, (idx+1)·2^level). Level 0 lives in audit_entries.leaf_hash. With these, any
 * subtree root, inclusion or consistency proof is O(log n) point reads.
 */
export const auditNodes = sqliteTable(
  'audit_nodes',
  {
    level: integer('level').notNull(),
    idx: integer('idx').notNull(),
    hash: blob('hash', { mode: 'buffer' }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.level, t.idx] })],
);

/** Signed tree heads (JWS over {log, size, root, timestamp}). */
export const auditTreeHeads = sqliteTable('audit_tree_heads', {
  size: integer('size').primaryKey(),
  root: text('root').notNull(),
  timestamp: integer('timestamp').notNull(),
  kid: text('kid').notNull(),
  jws: text('jws').notNull(),
});
export type TreeHeadRow = typeof auditTreeHeads.$inferSelect;

/**
 * The log's identity: one row, written at first start. `logId` is in every signed tree head and
 * is the origin line of every checkpoint, so it is unique per deployment and never changes; it
 * lives in the database (not a data dir) because every instance on the database shares the log.
 */
export const auditLogs = sqliteTable('audit_logs', {
  id: integer('id').primaryKey(),
  logId: text('log_id').notNull(),
  createdAt: integer('created_at').notNull(),
  /**
   * The sequencer (as Tessera's SeqCoord): every append locks this row (PostgreSQL: FOR UPDATE;
   * SQLite: its single writer), reads the next index and the right edge of the tree, and writes
   * them back in the same transaction as the entries, so indices are gap-free across instances
   * and an append never reads other nodes. `frontier` holds the hashes of the perfect subtrees
   * that make up the tree of `size` leaves, largest first (32 bytes each; null when empty).
   */
  size: integer('size').notNull().default(0),
  frontier: blob('frontier', { mode: 'buffer' }),
  /** Root of the tree of `size` leaves (null when empty). */
  root: blob('root', { mode: 'buffer' }),
});
export type AuditLogRow = typeof auditLogs.$inferSelect;

export type VerificationStatus = 'running' | 'ok' | 'failed';

/**
 * Full verifications of the log started from the dashboard (src/admin/audit-verification.ts):
 * run by the instance that started them, which beats `heartbeatAt` while it works — a running
 * row whose heartbeat stopped was interrupted (its instance stopped) and may be started again.
 */
export const auditVerifications = sqliteTable('audit_verifications', {
  id: text('id').primaryKey(),
  status: text('status').$type<VerificationStatus>().notNull(),
  startedBy: text('started_by').notNull(),
  startedAt: integer('started_at').notNull(),
  heartbeatAt: integer('heartbeat_at').notNull(),
  finishedAt: integer('finished_at'),
  /** Entries checked so far, of `total` (the log's size when it started). */
  checked: integer('checked').notNull(),
  total: integer('total').notNull(),
  treeHeads: integer('tree_heads'),
  root: text('root'),
  problem: text('problem'),
});
export type AuditVerification = typeof auditVerifications.$inferSelect;
