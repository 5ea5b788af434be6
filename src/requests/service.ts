/**
 * Data-subject request verbs. Every transition is a guarded UPDATE (`where status in (…)`)
 * plus its audit entry in one write transaction; a request in another state gets
 * 409 INVALID_STATE naming its current state. The engine is woken after each commit.
 */
import { writeTx } from '../db/client.js';
import type { Ctx } from '../deps.js';
import type { Channel, DsrRequest, RequestStatus, RequestType } from '../db/schema/requests.js';
import { ConflictError, NotFoundError, ValidationError } from '../errors.js';
import { maskIdentity, normalizeIdentity, TYPE_PATTERN, type Identity } from '../identity.js';
import { ensureSubject } from '../subjects/service.js';
import { advance, auditRequest, outcomeCounts, planErasureAgain, startRequest } from '../engine/plan.js';
import { getRequestRow, identitiesOf, setStatus, stmts, tasksOf, toRequest, type IdentityRow } from '../engine/store.js';
import { identityViews } from '../engine/identities.js';
import { notifyEngine } from '../engine/worker.js';
import { dueAt as computeDueAt, dueDate, formatDate, MAX_EXTENSION_MONTHS } from './deadlines.js';
import { assertNotOpener, reasonHash, type DenialReason } from './duties.js';

export const TERMINAL: readonly RequestStatus[] = ['completed', 'failed', 'denied', 'cancelled', 'expired'];
const OPEN: readonly RequestStatus[] = ['pending_verification', 'awaiting_approval', 'running', 'needs_review', 'needs_attention'];

export interface OpenRequestInput {
  type: RequestType;
  identities: Identity[];
  channel?: Channel;
  locale?: 'fr' | 'en';
  verified?: boolean;
}

/** Normalizes the identities a person gave; any well-formed type is accepted, searchable or not. */
export function normalizeIdentities(ctx: Pick<Ctx, 'config'>, input: Identity[]): Identity[] {
  const out: Identity[] = [];
  const seen = new Set<string>();
  input.forEach((raw, i) => {
    const type = String(raw.type ?? '').trim().toLowerCase();
    if (!TYPE_PATTERN.test(type)) {
      throw new ValidationError('INVALID_IDENTITY', `identities[${i}]: type must match ${TYPE_PATTERN.source}`);
    }
    let id: Identity;
    try {
      id = normalizeIdentity({ type, value: raw.value }, { defaultRegion: ctx.config.phoneRegion, extraTypes: [type] });
    } catch (err) {
      throw new ValidationError('INVALID_IDENTITY', `identities[${i}]: ${(err as Error).message}`);
    }
    const key = `${id.type}\u0000${id.value}`;
    if (!seen.has(key)) {
      seen.add(key);
      out.push(id);
    }
  });
  if (out.length === 0) throw new ValidationError('NO_IDENTITY', 'at least one identity is required');
  return out;
}

function searchableTypes(ctx: Ctx): Set<string> {
  return new Set(ctx.connectors.flatMap((c) => c.lookupBy));
}

export function openRequest(ctx: Ctx, input: OpenRequestInput): { request: DsrRequest; notSearchable: string[] } {
  const identities = normalizeIdentities(ctx, input.identities);
  const searchable = searchableTypes(ctx);
  const notSearchable = [...new Set(identities.filter((i) => !searchable.has(i.type)).map((i) => i.type))];
  const now = ctx.now();
  const id = ctx.ids('req');
  const verified = input.verified === true;
  const status: RequestStatus = !verified ? 'pending_verification' : ctx.requireApproval.includes(input.type) ? 'awaiting_approval' : 'running';
  const request = writeTx(ctx.db, () => {
    // The person's audit pseudonym: the registry subject holding their first identity — only
    // once the request is verified: an unproven claim creates nothing in the registry.
    const subjectId = verified ? ensureSubject(ctx, primaryIdentity(identities)) : null;
    const s = stmts(ctx.db);
    s.insertRequest.run({
      id,
      type: input.type,
      status: status === 'running' ? 'running' : status,
      channel: input.channel ?? 'api',
      locale: input.locale ?? 'fr',
      verified: verified ? 1 : 0,
      subjectId,
      receivedAt: now,
      dueAt: computeDueAt(now, ctx.config.timeZone),
      createdBy: `${ctx.actor.type}:${ctx.actor.id}`,
      updatedAt: now,
    });
    for (const i of identities) {
      s.insertIdentity.run({
        requestId: id,
        type: i.type,
        value: i.value,
        masked: maskIdentity(i),
        source: 'request',
        collection: null,
        reason: 'given with the request',
        round: 0,
        searchable: searchable.has(i.type) ? 1 : 0,
        state: 'included',
        weak: 0,
        depth: 0,
        why: JSON.stringify({ code: 'given' }),
      });
    }
    const row = getRequestRow(ctx.db, id)!;
    auditRequest(ctx, row, 'request.received', {
      type: input.type,
      channel: row.channel,
      verified,
      identityTypes: identities.map((i) => i.type),
      ...(notSearchable.length ? { notSearchable } : {}),
      dueAt: new Date(row.dueAt).toISOString(),
    });
    if (status === 'running') startRequest(ctx, id);
    return getRequestRow(ctx.db, id)!;
  });
  if (request.status === 'running') notifyEngine(ctx.db);
  return { request, notSearchable };
}

/** The identity whose registry subject names the person in the audit log: the email, else the first. */
function primaryIdentity<T extends Identity>(identities: readonly T[]): T {
  return identities.find((i) => i.type === 'email') ?? identities[0]!;
}

export function requireRequest(ctx: Ctx, id: string): DsrRequest {
  const row = getRequestRow(ctx.db, id);
  if (!row) throw new NotFoundError('REQUEST_NOT_FOUND', 'no such request');
  return row;
}

function invalidState(req: DsrRequest, verb: string, allowed: readonly RequestStatus[]): ConflictError {
  return new ConflictError('INVALID_STATE', `cannot ${verb} a request that is ${req.status} (allowed from: ${allowed.join(', ')})`, {
    status: req.status,
  });
}

/** One guarded transition + audit entry (+ follow-up work) in one transaction. */
function transition(
  ctx: Ctx,
  id: string,
  verb: string,
  from: readonly RequestStatus[],
  to: (req: DsrRequest) => RequestStatus,
  auditType: string,
  data: Record<string, unknown> = {},
  reason: { text: string; code: string } | null = null,
  after?: (req: DsrRequest) => void,
  before?: (req: DsrRequest) => void,
): DsrRequest {
  const out = writeTx(ctx.db, () => {
    const req = requireRequest(ctx, id);
    const target = to(req);
    if (!from.includes(req.status)) throw invalidState(req, verb, from);
    before?.(req);
    if (!setStatus(ctx.db, id, from, target, ctx.now(), reason?.text ?? null, reason?.code ?? null)) throw invalidState(req, verb, from);
    auditRequest(ctx, getRequestRow(ctx.db, id)!, auditType, { from: req.status, to: target, ...data });
    after?.(req);
    return getRequestRow(ctx.db, id)!;
  });
  notifyEngine(ctx.db);
  return out;
}

/** The person's identity was checked (one-time code, or an agent): run or wait for approval. */
export function verifyRequest(ctx: Ctx, id: string): DsrRequest {
  return transition(
    ctx,
    id,
    'verify',
    ['pending_verification'],
    (r) => (ctx.requireApproval.includes(r.type) ? 'awaiting_approval' : 'running'),
    'request.identity_verified',
    {},
    null,
    (r) => {
      if (!ctx.requireApproval.includes(r.type)) startRequest(ctx, r.id);
    },
    (r) => {
      // Verified now: the person's registry subject (found or created) becomes its pseudonym.
      const given = identitiesOf(ctx.db, r.id).filter((i): i is IdentityRow & { value: string } => i.source === 'request' && i.value !== null);
      const primary = given.length ? primaryIdentity(given) : null;
      const subjectId = primary ? ensureSubject(ctx, { type: primary.type, value: primary.value }) : null;
      ctx.db.$client.prepare('update requests set verified = 1, subject_id = coalesce(subject_id, ?) where id = ?').run(subjectId, r.id);
    },
  );
}

/** The DPO's approval; never the opener's (separation of duties). */
export function approveRequest(ctx: Ctx, id: string): DsrRequest {
  return transition(ctx, id, 'approve', ['awaiting_approval'], () => 'running', 'request.approved', {}, null, (r) => startRequest(ctx, r.id), (r) =>
    assertNotOpener(ctx, r, 'approve'),
  );
}

/**
 * Art. 12(4): refusing to act. The text (shown to the person) stays in the request's row; the
 * audit entry keeps the Art. 12 ground and a keyed hash of the text.
 */
export function denyRequest(ctx: Ctx, id: string, reasonCode: DenialReason, reason: string): DsrRequest {
  return transition(
    ctx,
    id,
    'deny',
    ['pending_verification', 'awaiting_approval'],
    () => 'denied',
    'request.denied',
    { reasonCode, reasonHash: reasonHash(ctx, reason) },
    { text: reason, code: reasonCode },
    undefined,
    (r) => assertNotOpener(ctx, r, 'deny'),
  );
}

export function cancelRequest(ctx: Ctx, id: string): DsrRequest {
  return transition(ctx, id, 'cancel', OPEN, () => 'cancelled', 'request.cancelled', {}, null, (r) => {
    stmts(ctx.db).cancelTasks.run({ id: r.id, now: ctx.now() });
  });
}

/** Re-runs only the failed tasks (or, after a failed verification, the erasure). */
export function retryRequest(ctx: Ctx, id: string): DsrRequest {
  return transition(ctx, id, 'retry', ['needs_attention', 'failed'], () => 'running', 'request.retried', {}, null, (r) => {
    const failedPhases = new Set(tasksOf(ctx.db, r.id).filter((t) => t.status === 'failed').map((t) => t.phase));
    const requeued = stmts(ctx.db).requeueFailed.run({ id: r.id, now: ctx.now() }).changes;
    if (requeued > 0) {
      // Resume from the earliest phase that failed; planning skips what is already done.
      const stage = failedPhases.has('access') ? 'access' : failedPhases.has('erase') ? 'erase' : 'verify';
      ctx.db.$client.prepare('update requests set stage = ? where id = ?').run(stage, r.id);
    } else if (r.verification && !r.verification.ok) {
      // Erase again with every identity held for the person, then verify again.
      const round = r.round + 1;
      ctx.db.$client.prepare("update requests set stage = 'erase', round = ?, verification = null where id = ?").run(round, r.id);
      planErasureAgain(ctx, r, round);
    }
    auditRequest(ctx, r, 'request.tasks_requeued', { tasks: requeued });
    advance(ctx, r.id);
  });
}

/** Art. 12(3): more time, with a reason (kept in the row; the audit entry keeps its keyed hash). */
export function extendRequest(ctx: Ctx, id: string, months: number, reason: string): DsrRequest {
  const out = writeTx(ctx.db, () => {
    const req = requireRequest(ctx, id);
    if (!OPEN.includes(req.status)) throw invalidState(req, 'extend', OPEN);
    assertNotOpener(ctx, req, 'extend');
    const total = req.extendedMonths + months;
    if (total > MAX_EXTENSION_MONTHS) {
      throw new ConflictError(
        'EXTENSION_LIMIT',
        `a deadline can be extended by at most ${MAX_EXTENSION_MONTHS} months in total (already ${req.extendedMonths})`,
        { extendedMonths: req.extendedMonths },
      );
    }
    const due = computeDueAt(req.receivedAt, ctx.config.timeZone, total);
    const r = ctx.db.$client
      .prepare(
        `update requests set extended_months = ?, extension_reason = ?, due_at = ?, updated_at = ? where id = ? and extended_months = ? and status in (select value from json_each(?))`,
      )
      .run(total, reason, due, ctx.now(), id, req.extendedMonths, JSON.stringify(OPEN));
    if (r.changes !== 1) throw invalidState(req, 'extend', OPEN);
    auditRequest(ctx, req, 'request.extended', { months, totalMonths: total, reasonHash: reasonHash(ctx, reason), dueAt: new Date(due).toISOString() });
    return getRequestRow(ctx.db, id)!;
  });
  return out;
}

export function isOverdue(req: DsrRequest, now: number): boolean {
  return !TERMINAL.includes(req.status) && now > req.dueAt;
}

/** The DPO's view: masked identities, per connector and phase: status, attempts, error, counts. */
export function requestView(ctx: Ctx, req: DsrRequest) {
  const now = ctx.now();
  const tasks = tasksOf(ctx.db, req.id);
  return {
    ...summary(req, now, ctx.config.timeZone),
    statusReason: req.statusReason,
    statusReasonCode: req.statusReasonCode,
    verified: req.verified,
    extendedMonths: req.extendedMonths,
    extensionReason: req.extensionReason,
    stage: req.stage,
    identities: identityViews(identitiesOf(ctx.db, req.id)),
    tasks: tasks.map((t) => ({
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
        ? { available: req.exportPath !== null, expiresAt: req.exportExpiresAt ? new Date(req.exportExpiresAt).toISOString() : null }
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
export function listRequests(ctx: Ctx, f: ListFilter) {
  const where: string[] = [];
  const params: unknown[] = [];
  if (f.status) {
    where.push('status = ?');
    params.push(f.status);
  }
  if (f.type) {
    where.push('type = ?');
    params.push(f.type);
  }
  if (f.overdue !== undefined) {
    const terminal = TERMINAL.map(() => '?').join(',');
    where.push(f.overdue ? `(due_at < ? and status not in (${terminal}))` : `not (due_at < ? and status not in (${terminal}))`);
    params.push(ctx.now(), ...TERMINAL);
  }
  if (f.cursor) {
    where.push('id < ?');
    params.push(f.cursor);
  }
  const rows = ctx.db.$client
    .prepare(
      `select id from requests ${where.length ? `where ${where.join(' and ')}` : ''} order by id desc limit ?`,
    )
    .pluck()
    .all(...params, f.limit + 1) as string[];
  const page = rows.slice(0, f.limit).map((id) => getRequestRow(ctx.db, id)!);
  const now = ctx.now();
  return {
    items: page.map((r) => summary(r, now, ctx.config.timeZone)),
    nextCursor: rows.length > f.limit ? page.at(-1)!.id : null,
  };
}

export { toRequest };
