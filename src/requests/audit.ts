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

/** Audit pseudonym of the request's person, while their key exists. */
export async function subjectRefFor(ctx: Ctx, h: Stores, req: Pick<DsrRequest, 'subjectId'>): Promise<string | undefined> {
  if (!req.subjectId) return undefined;
  try {
    return await subjectRefOf(ctx, h, req.subjectId);
  } catch (err) {
    if (err instanceof NotFoundError) return undefined; // forgotten: entries stop pointing at anyone
    throw err;
  }
}

export async function auditRequest(ctx: Ctx, t: Stores, req: Pick<DsrRequest, 'id' | 'subjectId'>, type: string, data: Record<string, unknown> = {}): Promise<void> {
  const subjectRef = await subjectRefFor(ctx, t, req);
  await ctx.audit.append(t, { type, actor: ctx.actor, requestId: req.id, ...(subjectRef ? { subjectRef } : {}), data });
}
