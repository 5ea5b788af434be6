import { sqliteTable, text, integer, index } from 'drizzle-orm/sqlite-core';
import type { CollectionMatch } from '../../../connectors/types.js';

/**
 * `access`, `erase`, `verify`: one connector call each. `finalize`: oubli's own last step of an
 * access or portability request (the export build), claimed like any task so that exactly one
 * instance builds it and a crash resumes it.
 */
export const TASK_PHASES = ['access', 'erase', 'verify', 'finalize'] as const;
export type TaskPhase = (typeof TASK_PHASES)[number];
/** The phases that call a connector. */
export type ConnectorPhase = Exclude<TaskPhase, 'finalize'>;
/** `connectorId` of finalize tasks: no silo (connector ids are [a-z0-9_-], never '@'). */
export const FINALIZE_CONNECTOR = '@export';
export const TASK_STATUSES = ['queued', 'running', 'done', 'failed', 'waiting', 'cancelled'] as const;
export type TaskStatus = (typeof TASK_STATUSES)[number];

export interface TaskCounts {
  collections: {
    name: string;
    found?: number;
    deleted?: number;
    masked?: number;
    retained?: number;
    retainedBecause?: string;
    retainedFields?: string[];
    portable?: boolean;
    /** Access and verify tasks: how the connector searched this collection, per criterion. */
    matchedBy?: CollectionMatch[];
  }[];
  found: number;
  deleted: number;
  masked: number;
  retained: number;
  discovered?: number;
  pendingRef?: string;
  /**
   * Connectors answering through a callback: when this series of calls began — the time of
   * the message every attempt, retry and reminder of it sends (src/engine/waiting.ts). Kept
   * across retryable failures; a task failed for good and retried by the DPO starts a new one.
   */
  asked?: number;
  /** Ids (request_identities) of the identities the call searched by. */
  searched?: number[];
  /**
   * Access: what the call found, as ids — each identity with the ids of those that led to it
   * (null: the connector did not say); `id` null when the identity limit kept it from being
   * recorded. The evidence src/requests/review.ts judges; no value ever appears here.
   */
  evidence?: { id: number | null; type: string; by: number[] | null; collection?: string }[];
  /**
   * A task `waiting` for its silo's callback (src/engine/waiting.ts): when it first asked, the
   * deadline, the reminder period and how many reminders went out. Its `nextAttemptAt` is the
   * next reminder or the deadline, whichever comes first.
   */
  wait?: { since: number; answerBy: number; remindEveryMs: number | null; reminders: number };
}

/**
 * One connector call to make for a request (connector × phase × round). A worker claims a due
 * task by setting a lease; the outcome is recorded only by the lease holder. `done` is final:
 * a task recorded done is never run again.
 */
export const tasks = sqliteTable(
  'tasks',
  {
    id: text('id').primaryKey(),
    requestId: text('request_id').notNull(),
    connectorId: text('connector_id').notNull(),
    phase: text('phase').$type<TaskPhase>().notNull(),
    round: integer('round').notNull(),
    status: text('status').$type<TaskStatus>().notNull(),
    attempts: integer('attempts').notNull().default(0),
    nextAttemptAt: integer('next_attempt_at').notNull(),
    leaseOwner: text('lease_owner'),
    leaseExpiresAt: integer('lease_expires_at'),
    /** Highest request_identities.id the call was made with (identity expansion). */
    identityWatermark: integer('identity_watermark').notNull(),
    lastErrorCode: text('last_error_code'),
    lastError: text('last_error'),
    result: text('result', { mode: 'json' }).$type<TaskCounts>(),
    createdAt: integer('created_at').notNull(),
    finishedAt: integer('finished_at'),
  },
  (t) => [
    index('tasks_due_idx').on(t.status, t.nextAttemptAt),
    index('tasks_request_idx').on(t.requestId, t.phase, t.round),
    // The worker claims per connector (up to its free slots): without this, each claim scans the queue.
    index('tasks_connector_due_idx').on(t.connectorId, t.status, t.nextAttemptAt),
    // An erase or verify call reads its own silo's access calls for the request (not all of them).
    index('tasks_request_connector_idx').on(t.requestId, t.connectorId, t.phase),
  ],
);
export type Task = typeof tasks.$inferSelect;
