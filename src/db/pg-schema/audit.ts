import { index, integer, pgTable, primaryKey, text } from 'drizzle-orm/pg-core';
import { bytea, int } from './types.js';
import type { VerificationStatus } from '../schema/audit.js';

export const auditEntries = pgTable(
  'audit_entries',
  {
    idx: int('idx').primaryKey(),
    type: text('type').notNull(),
    requestId: text('request_id'),
    entry: text('entry').notNull(),
    leafHash: bytea('leaf_hash').notNull(),
  },
  (t) => [index('audit_entries_request_idx').on(t.requestId, t.idx)],
);

export const auditNodes = pgTable(
  'audit_nodes',
  {
    level: integer('level').notNull(),
    idx: int('idx').notNull(),
    hash: bytea('hash').notNull(),
  },
  (t) => [primaryKey({ columns: [t.level, t.idx] })],
);

export const auditTreeHeads = pgTable('audit_tree_heads', {
  size: int('size').primaryKey(),
  root: text('root').notNull(),
  timestamp: int('timestamp').notNull(),
  kid: text('kid').notNull(),
  jws: text('jws').notNull(),
});

export const auditLogs = pgTable('audit_logs', {
  id: integer('id').primaryKey(),
  logId: text('log_id').notNull(),
  createdAt: int('created_at').notNull(),
  size: int('size').notNull().default(0),
  frontier: bytea('frontier'),
  root: bytea('root'),
});

export const auditVerifications = pgTable('audit_verifications', {
  id: text('id').primaryKey(),
  status: text('status').$type<VerificationStatus>().notNull(),
  startedBy: text('started_by').notNull(),
  startedAt: int('started_at').notNull(),
  heartbeatAt: int('heartbeat_at').notNull(),
  finishedAt: int('finished_at'),
  checked: int('checked').notNull(),
  total: int('total').notNull(),
  treeHeads: integer('tree_heads'),
  root: text('root'),
  problem: text('problem'),
});
