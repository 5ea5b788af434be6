/**
 * A request's audit entries: they carry the request id and, while the person's pseudonym key
 * exists, their subjectRef — never a value they gave. Appended in the caller's transaction.
 */
import type { Ctx } from '../deps.js';
import type { Stores } from '../db/handle.js';
import type { DsrRequest } from '../db/schema/requests.js';
import { NotFoundError } from '../errors.js';
import { subjectRefOf } from '../subjects/service.js';

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

export async function auditRequest(ctx: Ctx, t: Stores, req: Pick<DsrRequest, 'id' | 'subjectId'>, type: string, data: Record<string, unknown> = {}): Promise<void> {
  const subjectRef = await subjectRefFor(ctx, t, req);
  await ctx.audit.append(t, { type, actor: ctx.actor, requestId: req.id, ...(subjectRef ? { subjectRef } : {}), data });
}
