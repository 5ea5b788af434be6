/**
 * Row access for requests, their identities and tasks: prepared statements cached per
 * connection (the engine's loop and the request routes are hot paths). Synchronous, so every
 * function here can run inside a writeTx.
 */
import type BetterSqlite3 from 'better-sqlite3';
import { statementsFor, type Db, type Sqlite } from '../db/client.js';
import type { DsrRequest, RequestStage, RequestStatus, Verification } from '../db/schema/requests.js';
import type { IdentityDecision, IdentityState, IdentityWhy } from '../db/schema/request-identities.js';
import type { TaskCounts, TaskPhase, TaskStatus } from '../db/schema/tasks.js';

type Stmt = BetterSqlite3.Statement<unknown[], unknown>;

export interface TaskRow {
  id: string;
  requestId: string;
  connectorId: string;
  phase: TaskPhase;
  round: number;
  status: TaskStatus;
  attempts: number;
  nextAttemptAt: number;
  leaseOwner: string | null;
  leaseExpiresAt: number | null;
  identityWatermark: number;
  lastErrorCode: string | null;
  lastError: string | null;
  result: TaskCounts | null;
  createdAt: number;
  finishedAt: number | null;
}

export interface IdentityRow {
  id: number;
  requestId: string;
  type: string;
  value: string | null;
  masked: string;
  source: string;
  collection: string | null;
  reason: string | null;
  round: number;
  searchable: boolean;
  state: IdentityState;
  weak: boolean;
  depth: number;
  why: IdentityWhy | null;
  decision: IdentityDecision | null;
  decidedBy: string | null;
  decidedAt: number | null;
  decisionReason: string | null;
}

const REQUEST_COLS = `id, type, status, status_reason as statusReason, status_reason_code as statusReasonCode, channel, locale, verified, subject_id as subjectId,
  received_at as receivedAt, due_at as dueAt, extended_months as extendedMonths, extension_reason as extensionReason,
  stage, round, verification, created_by as createdBy, updated_at as updatedAt, completed_at as completedAt,
  export_path as exportPath, export_expires_at as exportExpiresAt`;
const TASK_COLS = `id, request_id as requestId, connector_id as connectorId, phase, round, status, attempts,
  next_attempt_at as nextAttemptAt, lease_owner as leaseOwner, lease_expires_at as leaseExpiresAt,
  identity_watermark as identityWatermark, last_error_code as lastErrorCode, last_error as lastError, result,
  created_at as createdAt, finished_at as finishedAt`;
const IDENTITY_COLS = `id, request_id as requestId, type, value, masked, source, collection, reason, round, searchable, state, weak, depth, why,
  decision, decided_by as decidedBy, decided_at as decidedAt, decision_reason as decisionReason`;

function statements(sqlite: Sqlite) {
  const p = (sql: string): Stmt => sqlite.prepare(sql);
  return {
    request: p(`select ${REQUEST_COLS} from requests where id = ?`),
    requestLite: p(`select id, type, status, stage, round, subject_id as subjectId from requests where id = ?`),
    insertRequest: p(`insert into requests (id, type, status, status_reason, channel, locale, verified, subject_id, received_at, due_at,
      extended_months, extension_reason, stage, round, verification, created_by, updated_at)
      values (@id, @type, @status, null, @channel, @locale, @verified, @subjectId, @receivedAt, @dueAt, 0, null, null, 0, null, @createdBy, @updatedAt)`),
    setStatus: p(
      `update requests set status = @to, status_reason = @reason, status_reason_code = @code, updated_at = @now where id = @id and status in (select value from json_each(@from))`,
    ),
    setStage: p(`update requests set stage = @stage, round = @round, updated_at = @now where id = @id and status = 'running'`),
    insertIdentity: p(`insert into request_identities (request_id, type, value, masked, source, collection, reason, round, searchable, state, weak, depth, why)
      values (@requestId, @type, @value, @masked, @source, @collection, @reason, @round, @searchable, @state, @weak, @depth, @why) on conflict do nothing`),
    identityByValue: p(`select id from request_identities where request_id = ? and type = ? and value = ?`).pluck(),
    strengthenIdentity: p(`update request_identities set weak = 0 where id = ? and weak = 1 and why is null`),
    setVerdict: p(`update request_identities set state = @state, why = @why, depth = @depth where id = @id`),
    decideIdentity: p(`update request_identities set decision = @decision, decided_by = @by, decided_at = @at, decision_reason = @reason
      where id = @id and request_id = @requestId and decision is null and state = 'pending'`),
    destroyIdentityValues: p(`update request_identities set value = null, decision_reason = null where request_id = ? and (value is not null or decision_reason is not null)`),
    identities: p(`select ${IDENTITY_COLS} from request_identities where request_id = ? order by id`),
    identityCount: p(`select count(*) from request_identities where request_id = ?`).pluck(),
    insertTask: p(`insert into tasks (id, request_id, connector_id, phase, round, status, attempts, next_attempt_at, identity_watermark, created_at)
      values (@id, @requestId, @connectorId, @phase, @round, 'queued', 0, @now, @watermark, @now)`),
    tasksOf: p(`select ${TASK_COLS} from tasks where request_id = ? order by round, created_at, connector_id`),
    openTaskCount: p(`select count(*) from tasks where request_id = ? and status in ('queued', 'running', 'waiting')`).pluck(),
    // Two index-friendly queries instead of one OR (which would scan every task).
    dueTasks: p(`select ${TASK_COLS} from tasks where status = 'queued' and next_attempt_at <= @now order by next_attempt_at limit @limit`),
    dueTasksOf: p(`select ${TASK_COLS} from tasks where status = 'queued' and next_attempt_at <= @now and connector_id = @connector order by next_attempt_at limit @limit`),
    expiredLeases: p(`select ${TASK_COLS} from tasks where status = 'running' and lease_expires_at <= @now limit @limit`),
    nextDue: p(`select min(next_attempt_at) from tasks where status = 'queued'`).pluck(),
    nextLease: p(`select min(lease_expires_at) from tasks where status = 'running'`).pluck(),
    claim: p(`update tasks set status = 'running', attempts = attempts + 1, lease_owner = @owner, lease_expires_at = @until
      where id = @id and ((status = 'queued' and next_attempt_at <= @now) or (status = 'running' and lease_expires_at <= @now))`),
    setTaskResult: p(`update tasks set result = ? where id = ?`),
    finish: p(`update tasks set status = @status, result = @result, last_error_code = @code, last_error = @error, lease_owner = null,
      lease_expires_at = null, finished_at = @finishedAt, next_attempt_at = @next where id = @id and status = 'running' and lease_owner = @owner`),
    cancelTasks: p(`update tasks set status = 'cancelled', lease_owner = null, finished_at = @now where request_id = @id and status in ('queued', 'running', 'waiting')`),
    requeueFailed: p(`update tasks set status = 'queued', attempts = 0, next_attempt_at = @now, finished_at = null where request_id = @id and status = 'failed'`),
    finalizing: p(`select id from requests where status = 'running' and stage = 'finalize' limit 16`).pluck(),
  };
}

export const stmts = statementsFor(statements);

interface RawRequest extends Omit<DsrRequest, 'verified' | 'verification'> {
  verified: number;
  verification: string | null;
}

export function toRequest(raw: unknown): DsrRequest | undefined {
  if (!raw) return undefined;
  const r = raw as RawRequest;
  return { ...r, verified: r.verified === 1, verification: r.verification ? (JSON.parse(r.verification) as Verification) : null };
}

/** The columns the engine's hot path needs. */
export type RequestLite = Pick<DsrRequest, 'id' | 'type' | 'status' | 'stage' | 'round' | 'subjectId'>;

export function getRequestLite(db: Db, id: string): RequestLite | undefined {
  return stmts(db).requestLite.get(id) as RequestLite | undefined;
}

export function getRequestRow(db: Db, id: string): DsrRequest | undefined {
  return toRequest(stmts(db).request.get(id));
}

export function toTask(raw: unknown): TaskRow {
  const t = raw as TaskRow & { result: string | null };
  return { ...t, result: t.result ? (JSON.parse(t.result) as TaskCounts) : null };
}

export function tasksOf(db: Db, requestId: string): TaskRow[] {
  return stmts(db).tasksOf.all(requestId).map(toTask);
}

type RawIdentity = Omit<IdentityRow, 'searchable' | 'weak' | 'why'> & { searchable: number; weak: number; why: string | null };

export function identitiesOf(db: Db, requestId: string): IdentityRow[] {
  return (stmts(db).identities.all(requestId) as RawIdentity[]).map((r) => ({
    ...r,
    searchable: r.searchable === 1,
    weak: r.weak === 1,
    why: r.why ? (JSON.parse(r.why) as IdentityWhy) : null,
  }));
}

/** Guarded status change; false when the request was not in one of `from`. */
export function setStatus(
  db: Db,
  id: string,
  from: readonly RequestStatus[],
  to: RequestStatus,
  now: number,
  reason: string | null = null,
  code: string | null = null,
): boolean {
  return stmts(db).setStatus.run({ id, from: JSON.stringify(from), to, reason, code, now }).changes === 1;
}

/** Destroys the request's copy of the person's identifiers (and the DPO's notes on them). */
export function destroyIdentityValues(db: Db, requestId: string): number {
  return stmts(db).destroyIdentityValues.run(requestId).changes;
}

export function setStage(db: Db, id: string, stage: RequestStage, round: number, now: number): void {
  stmts(db).setStage.run({ id, stage, round, now });
}
