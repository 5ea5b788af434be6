/** What the DPO and internal systems read of requests: one request in detail, pages of them. */
import { exportKept } from './downloads.js';
import type { Ctx } from '../deps.js';
import type { DsrRequest, RequestStatus, RequestType } from '../db/schema/requests.js';
import { dueDate, formatDate } from './deadlines.js';
import { identityViews } from './identities.js';
import { outcomeCounts } from './plan.js';
import { TERMINAL } from './service.js';

export function isOverdue(req: DsrRequest, now: number): boolean {
  return !TERMINAL.includes(req.status) && now > req.dueAt;
}

/**
 * The DPO's view: masked identities, per connector and phase: status, attempts, error, counts.
 * The export step is no connector's: it shows in `status`, `stage` and `export`, not as a task.
 */
export async function requestView(ctx: Ctx, req: DsrRequest) {
  const now = ctx.now();
  const [tasks, identities] = await Promise.all([ctx.db.tasks.ofRequest(req.id), ctx.db.requests.identities(req.id)]);
  return {
    ...summary(req, now, ctx.config.timeZone),
    statusReason: req.statusReason,
    statusReasonCode: req.statusReasonCode,
    verified: req.verified,
    extendedMonths: req.extendedMonths,
    extensionReason: req.extensionReason,
    stage: req.stage,
    identities: identityViews(identities),
    tasks: tasks
      .filter((t) => t.phase !== 'finalize')
      .map((t) => ({
        id: t.id,
        connector: t.connectorId,
        phase: t.phase,
        round: t.round,
        status: t.status,
        attempts: t.attempts,
        nextAttemptAt: t.status === 'queued' ? new Date(t.nextAttemptAt).toISOString() : null,
        lastError: t.lastErrorCode ? { code: t.lastErrorCode, message: t.lastError ?? '' } : null,
        counts: t.result ? { found: t.result.found, deleted: t.result.deleted, masked: t.result.masked, retained: t.result.retained } : null,
        collections: t.result?.collections ?? [],
      })),
    outcome: outcomeCounts(tasks),
    verification: req.verification,
    export:
      req.type !== 'erasure'
        ? { available: req.exportPath !== null && exportKept(req, now), expiresAt: req.exportExpiresAt ? new Date(req.exportExpiresAt).toISOString() : null }
        : null,
  };
}

export function summary(req: DsrRequest, now: number, timeZone: string) {
  return {
    id: req.id,
    type: req.type,
    status: req.status,
    channel: req.channel,
    locale: req.locale,
    receivedAt: new Date(req.receivedAt).toISOString(),
    dueAt: new Date(req.dueAt).toISOString(),
    dueDate: formatDate(dueDate(req.receivedAt, timeZone, req.extendedMonths)),
    overdue: isOverdue(req, now),
    completedAt: req.completedAt ? new Date(req.completedAt).toISOString() : null,
  };
}

export interface ListFilter {
  status?: RequestStatus;
  type?: RequestType;
  overdue?: boolean;
  cursor?: string;
  limit: number;
}

/** Newest first; `cursor` is the last id of the previous page. */
export async function listRequests(ctx: Ctx, f: ListFilter) {
  const now = ctx.now();
  const rows = await ctx.db.requests.list({
    status: f.status,
    type: f.type,
    overdue: f.overdue === undefined ? undefined : { is: f.overdue, now, terminal: TERMINAL },
    before: f.cursor,
    limit: f.limit,
  });
  const page = rows.slice(0, f.limit);
  return {
    items: page.map((r) => summary(r, now, ctx.config.timeZone)),
    nextCursor: rows.length > f.limit ? page.at(-1)!.id : null,
  };
}
