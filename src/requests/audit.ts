/**
 * A request's audit entries: they carry the request id and, while the person's pseudonym key
 * exists, their subjectRef — never a value they gave. Appended in the caller's transaction.
 */
import type { AppendedEntry, AuditInput, AuditLog } from '../audit/log.js';
import type { Ctx } from '../deps.js';
import type { Stores } from '../db/handle.js';
import type { DsrRequest } from '../db/schema/requests.js';
import { NotFoundError } from '../errors.js';
import { subjectRefOf } from '../subjects/service.js';
import type { WebhookEvent } from '../db/schema/webhooks.js';
import { emitWebhooks, requestEvent } from '../webhooks/events.js';
import { queueRequestMail, requestMailKind } from '../mail/request-mails.js';

/** The lock that serialises, across instances, every change to one request (see advance.ts). */
export const requestLock = (id: string) => `request:${id}`;

/**
 * Pseudonyms already opened in one transaction, for the many entries that name the same people
 * (a group of task outcomes). A subject forgotten in that transaction is forgotten here too:
 * no later entry of the transaction names them.
 */
export class SubjectRefs {
  private readonly known = new Map<string, string | undefined>();

  async of(ctx: Ctx, h: Stores, subjectId: string): Promise<string | undefined> {
    if (this.known.has(subjectId)) return this.known.get(subjectId);
    const ref = await readRef(ctx, h, subjectId);
    this.known.set(subjectId, ref);
    return ref;
  }

  forget(subjectId: string): void {
    this.known.set(subjectId, undefined);
  }
}

/** A Ctx that may carry its transaction's SubjectRefs. */
type RefCtx = Ctx & { subjectRefs?: SubjectRefs };

async function readRef(ctx: Ctx, h: Stores, subjectId: string): Promise<string | undefined> {
  try {
    return await subjectRefOf(ctx, h, subjectId);
  } catch (err) {
    if (err instanceof NotFoundError) return undefined; // forgotten: entries stop pointing at anyone
    throw err;
  }
}

/** Audit pseudonym of the request's person, while their key exists. */
export function subjectRefFor(ctx: Ctx, h: Stores, req: Pick<DsrRequest, 'subjectId'>): Promise<string | undefined> {
  if (!req.subjectId) return Promise.resolve(undefined);
  const refs = (ctx as RefCtx).subjectRefs;
  return refs ? refs.of(ctx, h, req.subjectId) : readRef(ctx, h, req.subjectId);
}

/** Tells the transaction's SubjectRefs, if any, that this person's key was destroyed. */
export function subjectForgotten(ctx: Ctx, subjectId: string): void {
  (ctx as RefCtx).subjectRefs?.forget(subjectId);
}

/**
 * Appends a request's audit entry; when the entry is one subscribers are told of
 * (src/webhooks/events.ts) or the person is mailed about (src/mail/request-mails.ts), its
 * webhook messages and its e-mail are written in the same transaction.
 */
export async function auditRequest(ctx: Ctx, t: Stores, req: Pick<DsrRequest, 'id' | 'subjectId'>, type: string, data: Record<string, unknown> = {}): Promise<void> {
  const subjectRef = await subjectRefFor(ctx, t, req);
  await ctx.audit.append(t, { type, actor: ctx.actor, requestId: req.id, ...(subjectRef ? { subjectRef } : {}), data });
  const event = requestEvent(type, data);
  const mail = requestMailKind(type);
  if (!event && !mail) return;
  const row = await t.requests.get(req.id);
  if (!row) return;
  if (event) await announceRequest(ctx, t, row, event, data);
  if (mail) await queueRequestMail(ctx, t, row, mail);
}

/** The thin payload of a request's event: ids, type, status, dates — nothing the person gave. */
async function announceRequest(ctx: Ctx, t: Stores, row: DsrRequest, event: WebhookEvent, data: Record<string, unknown>): Promise<void> {
  const requestId = row.id;
  const reason = typeof data.reason === 'string' && /^[a-z_]{1,64}$/.test(data.reason) ? data.reason : (row.statusReasonCode ?? undefined);
  await emitWebhooks(ctx, t, [
    {
      type: event,
      orderKey: requestId,
      at: ctx.now(),
      data: {
        requestId,
        requestType: row.type,
        status: row.status,
        channel: row.channel,
        dueAt: new Date(row.dueAt).toISOString(),
        ...(event === 'erasure.requested' && typeof data.tasks === 'number' ? { silos: data.tasks } : {}),
        ...(event === 'request.needs_attention' || event === 'request.failed' ? (reason ? { reason } : {}) : {}),
      },
    },
  ]);
}

/**
 * A Ctx for one transaction that writes several entries (a group of task outcomes, a request
 * opened and started): they are appended together when `flush(t)` is called before the
 * transaction ends — one sequencer update and one root for all, in the order they were made —
 * and each person's pseudonym is opened once. `append` answers no index meanwhile: nothing on
 * these paths reads it. Make it inside the transaction's body (which PostgreSQL may run again
 * after a deadlock) and `flush` it there too.
 */
export function bufferAudit(ctx: Ctx): { ctx: Ctx; flush(t: Stores): Promise<void> } {
  const audit: AuditLog = ctx.audit;
  let pending: AuditInput[] = [];
  const none: AppendedEntry = { index: -1, leafHash: new Uint8Array(0) };
  const buffered = Object.create(audit, {
    append: { value: async (_t: Stores, input: AuditInput) => (pending.push(input), none) },
    appendMany: { value: async (_t: Stores, inputs: AuditInput[]) => (pending.push(...inputs), inputs.map(() => none)) },
  }) as AuditLog;
  const refCtx: RefCtx = { ...ctx, audit: buffered, subjectRefs: new SubjectRefs() };
  return {
    ctx: refCtx,
    async flush(t) {
      const inputs = pending;
      pending = [];
      if (inputs.length) await audit.appendMany(t, inputs);
    },
  };
}
