/**
 * Data-subject request verbs. Every transition is a guarded update (`where status in (…)`)
 * plus its audit entry in one transaction holding the request's lock; a request in another
 * state gets 409 INVALID_STATE naming its current state. The engines are woken after each
 * commit that gave them work.
 */
import type { Ctx } from '../deps.js';
import type { Stores } from '../db/handle.js';
import type { Channel, DsrRequest, RequestStage, RequestStatus, RequestType } from '../db/schema/requests.js';
import type { RequestIdentity } from '../db/schema/request-identities.js';
import { ConflictError, NotFoundError, ValidationError } from '../errors.js';
import { maskIdentity, normalizeIdentity, TYPE_PATTERN, type Identity } from '../identity.js';
import { ensureSubject } from '../subjects/service.js';
import { addEffects, advance, applyEffects, noEffects, startRequest, type Effects } from './advance.js';
import { auditRequest, bufferAudit, requestLock } from './audit.js';
import { planErasureAgain } from './plan.js';
import { dueAt as computeDueAt, MAX_EXTENSION_MONTHS } from './deadlines.js';
import { assertNotOpener, reasonHash, type DenialReason } from './duties.js';

export const TERMINAL: readonly RequestStatus[] = ['completed', 'failed', 'denied', 'cancelled', 'expired'];
export const OPEN: readonly RequestStatus[] = ['pending_verification', 'awaiting_approval', 'running', 'needs_review', 'needs_attention'];

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

export async function openRequest(ctx: Ctx, input: OpenRequestInput): Promise<{ request: DsrRequest; notSearchable: string[] }> {
  const identities = normalizeIdentities(ctx, input.identities);
  const searchable = searchableTypes(ctx);
  const notSearchable = [...new Set(identities.filter((i) => !searchable.has(i.type)).map((i) => i.type))];
  const now = ctx.now();
  const id = ctx.ids('req');
  const verified = input.verified === true;
  const status: RequestStatus = !verified ? 'pending_verification' : ctx.requireApproval.includes(input.type) ? 'awaiting_approval' : 'running';
  const { request, fx } = await ctx.db.tx(
    async (t) => {
      // Made per attempt: PostgreSQL may run this body again after a deadlock.
      const buffered = bufferAudit(ctx);
      const bctx = buffered.ctx;
      // The person's audit pseudonym: the registry subject holding their first identity — only
      // once the request is verified: an unproven claim creates nothing in the registry.
      const subjectId = verified ? await ensureSubject(bctx, t, primaryIdentity(identities)) : null;
      const dueAt = computeDueAt(now, ctx.config.timeZone);
      const channel = input.channel ?? 'api';
      await t.requests.insert({
        id,
        type: input.type,
        status,
        channel,
        locale: input.locale ?? 'fr',
        verified,
        subjectId,
        receivedAt: now,
        dueAt,
        createdBy: `${ctx.actor.type}:${ctx.actor.id}`,
        updatedAt: now,
      });
      for (const i of identities) {
        await t.requests.insertIdentity({
          requestId: id,
          type: i.type,
          value: i.value,
          masked: maskIdentity(i),
          source: 'request',
          reason: 'given with the request',
          round: 0,
          searchable: searchable.has(i.type),
          why: { code: 'given' },
        });
      }
      await auditRequest(bctx, t, { id, subjectId }, 'request.received', {
        type: input.type,
        channel,
        verified,
        identityTypes: identities.map((i) => i.type),
        ...(notSearchable.length ? { notSearchable } : {}),
        dueAt: new Date(dueAt).toISOString(),
      });
      const fx = status === 'running' ? await startRequest(bctx, t, id) : noEffects();
      await buffered.flush(t);
      return { request: (await t.requests.get(id))!, fx };
    },
    { locks: [requestLock(id)] },
  );
  await applyEffects(ctx, fx);
  return { request, notSearchable };
}

/** The identity whose registry subject names the person in the audit log: the email, else the first. */
function primaryIdentity<T extends Identity>(identities: readonly T[]): T {
  return identities.find((i) => i.type === 'email') ?? identities[0]!;
}

/** The request as committed, or 404 REQUEST_NOT_FOUND. */
export async function requireRequest(ctx: Pick<Ctx, 'db'>, id: string, h: Stores = ctx.db): Promise<DsrRequest> {
  const row = await h.requests.get(id);
  if (!row) throw new NotFoundError('REQUEST_NOT_FOUND', 'no such request');
  return row;
}

function invalidState(req: DsrRequest, verb: string, allowed: readonly RequestStatus[]): ConflictError {
  return new ConflictError('INVALID_STATE', `cannot ${verb} a request that is ${req.status} (allowed from: ${allowed.join(', ')})`, {
    status: req.status,
  });
}

interface Transition {
  verb: string;
  from: readonly RequestStatus[];
  to: (req: DsrRequest) => RequestStatus;
  audit: string;
  data?: Record<string, unknown>;
  reason?: { text: string; code: string };
  /** Checks and changes before the status moves (the request as it was). */
  before?: (t: Stores, req: DsrRequest) => Promise<void>;
  /** Follow-up work after it moved (the request as it was). */
  after?: (t: Stores, req: DsrRequest) => Promise<Effects | void>;
}

/** One guarded transition + audit entry (+ follow-up work) in one transaction. */
async function transition(ctx: Ctx, id: string, tr: Transition): Promise<DsrRequest> {
  const { request, fx } = await ctx.db.tx(
    async (t) => {
      const req = await requireRequest(ctx, id, t);
      if (!tr.from.includes(req.status)) throw invalidState(req, tr.verb, tr.from);
      const target = tr.to(req);
      await tr.before?.(t, req);
      if (!(await t.requests.setStatus(id, tr.from, target, ctx.now(), tr.reason?.text ?? null, tr.reason?.code ?? null))) throw invalidState(req, tr.verb, tr.from);
      await auditRequest(ctx, t, (await t.requests.get(id))!, tr.audit, { from: req.status, to: target, ...tr.data });
      const fx = (await tr.after?.(t, req)) ?? noEffects();
      return { request: (await t.requests.get(id))!, fx };
    },
    { locks: [requestLock(id)] },
  );
  await applyEffects(ctx, fx);
  return request;
}

/** The person's identity was checked (one-time code, or an agent): run or wait for approval. */
export function verifyRequest(ctx: Ctx, id: string): Promise<DsrRequest> {
  return transition(ctx, id, {
    verb: 'verify',
    from: ['pending_verification'],
    to: (r) => (ctx.requireApproval.includes(r.type) ? 'awaiting_approval' : 'running'),
    audit: 'request.identity_verified',
    before: async (t, r) => {
      // Verified now: the person's registry subject (found or created) becomes its pseudonym.
      const given = (await t.requests.identities(r.id)).filter((i): i is RequestIdentity & { value: string } => i.source === 'request' && i.value !== null);
      const primary = given.length ? primaryIdentity(given) : null;
      const subjectId = primary ? await ensureSubject(ctx, t, { type: primary.type, value: primary.value }) : null;
      await t.requests.markVerified(r.id, subjectId);
    },
    after: (t, r) => (ctx.requireApproval.includes(r.type) ? Promise.resolve() : startRequest(ctx, t, r.id)),
  });
}

/** The DPO's approval; never the opener's (separation of duties). */
export function approveRequest(ctx: Ctx, id: string): Promise<DsrRequest> {
  return transition(ctx, id, {
    verb: 'approve',
    from: ['awaiting_approval'],
    to: () => 'running',
    audit: 'request.approved',
    before: async (_t, r) => assertNotOpener(ctx, r, 'approve'),
    after: (t, r) => startRequest(ctx, t, r.id),
  });
}

/**
 * Art. 12(4): refusing to act. The text (shown to the person) stays in the request's row; the
 * audit entry keeps the Art. 12 ground and a keyed hash of the text.
 */
export function denyRequest(ctx: Ctx, id: string, reasonCode: DenialReason, reason: string): Promise<DsrRequest> {
  return transition(ctx, id, {
    verb: 'deny',
    from: ['pending_verification', 'awaiting_approval'],
    to: () => 'denied',
    audit: 'request.denied',
    data: { reasonCode, reasonHash: reasonHash(ctx, reason) },
    reason: { text: reason, code: reasonCode },
    before: async (_t, r) => assertNotOpener(ctx, r, 'deny'),
  });
}

export function cancelRequest(ctx: Ctx, id: string): Promise<DsrRequest> {
  return transition(ctx, id, {
    verb: 'cancel',
    from: OPEN,
    to: () => 'cancelled',
    audit: 'request.cancelled',
    after: async (t, r) => t.tasks.cancelOpen(r.id, ctx.now()),
  });
}

/** Re-runs only the failed tasks (or, after a failed verification, the erasure). */
export function retryRequest(ctx: Ctx, id: string): Promise<DsrRequest> {
  return transition(ctx, id, {
    verb: 'retry',
    from: ['needs_attention', 'failed'],
    to: () => 'running',
    audit: 'request.retried',
    after: async (t, r) => {
      const failed = await t.tasks.failedPhases(r.id);
      const requeued = await t.tasks.requeueFailed(r.id, ctx.now());
      let planned = 0;
      if (requeued > 0) {
        // Resume from the earliest phase that failed; planning skips what is already done.
        const stage: RequestStage = failed.has('access') ? 'access' : failed.has('erase') ? 'erase' : failed.has('verify') ? 'verify' : 'finalize';
        await t.requests.resumeAt(r.id, stage);
      } else if (r.verification && !r.verification.ok) {
        // Erase again with every identity held for the person, then verify again.
        const round = r.round + 1;
        await t.requests.resumeAt(r.id, 'erase', { round });
        planned = await planErasureAgain(ctx, t, r.id, round);
      }
      await auditRequest(ctx, t, r, 'request.tasks_requeued', { tasks: requeued });
      return addEffects({ tasks: requeued + planned, forgotten: 0 }, await advance(ctx, t, r.id));
    },
  });
}

/** Art. 12(3): more time, with a reason (kept in the row; the audit entry keeps its keyed hash). */
export function extendRequest(ctx: Ctx, id: string, months: number, reason: string): Promise<DsrRequest> {
  return ctx.db.tx(
    async (t) => {
      const req = await requireRequest(ctx, id, t);
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
      const ok = await t.requests.extend(id, { expectedMonths: req.extendedMonths, totalMonths: total, reason, dueAt: due, now: ctx.now(), open: OPEN });
      if (!ok) throw invalidState(req, 'extend', OPEN);
      await auditRequest(ctx, t, req, 'request.extended', { months, totalMonths: total, reasonHash: reasonHash(ctx, reason), dueAt: new Date(due).toISOString() });
      return (await t.requests.get(id))!;
    },
    { locks: [requestLock(id)] },
  );
}
