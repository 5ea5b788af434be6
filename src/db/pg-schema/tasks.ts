import { index, integer, jsonb, pgTable, text } from 'drizzle-orm/pg-core';
import type { TaskCounts, TaskPhase, TaskStatus } from '../schema/tasks.js';
import { int } from './types.js';

export const tasks = pgTable(
  'tasks',
  {
    id: text('id').primaryKey(),
    requestId: text('request_id').notNull(),
    connectorId: text('connector_id').notNull(),
    phase: text('phase').$type<TaskPhase>().notNull(),
    round: integer('round').notNull(),
    status: text('status').$type<TaskStatus>().notNull(),
    attempts: integer('attempts').notNull().default(0),
    nextAttemptAt: int('next_attempt_at').notNull(),
    leaseOwner: text('lease_owner'),
    leaseExpiresAt: int('lease_expires_at'),
    identityWatermark: int('identity_watermark').notNull(),
    lastErrorCode: text('last_error_code'),
    lastError: text('last_error'),
    result: jsonb('result').$type<TaskCounts>(),
    createdAt: int('created_at').notNull(),
    finishedAt: int('finished_at'),
  },
  (t) => [
    index('tasks_due_idx').on(t.status, t.nextAttemptAt),
    index('tasks_request_idx').on(t.requestId, t.phase, t.round),
    index('tasks_connector_due_idx').on(t.connectorId, t.status, t.nextAttemptAt),
    // An erase or verify call reads its own silo's access calls for the request (not all of them).
    index('tasks_request_connector_idx').on(t.requestId, t.connectorId, t.phase),
  ],
);
