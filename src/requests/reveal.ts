/**
 * One identity of a request, in clear, for a system that must act on it (a webhook receiver told
 * `erasure.requested` by id only, say): asked for one at a time, by a principal with
 * `requests:verify`, and audited — who asked, which identity and its type, never its value. An
 * identity whose value the request no longer holds (destroyed once done with) is gone: 410.
 */
import type { Ctx } from '../deps.js';
import { GoneError, NotFoundError } from '../errors.js';
import { auditRequest, requestLock } from './audit.js';
import { requireRequest } from './service.js';

export async function revealIdentity(ctx: Ctx, requestId: string, identityId: number): Promise<{ id: number; type: string; value: string }> {
  const req = await requireRequest(ctx, requestId);
  const identity = (await ctx.db.requests.identities(req.id)).find((i) => i.id === identityId);
  if (!identity) throw new NotFoundError('IDENTITY_NOT_FOUND', 'the request holds no such identity');
  if (identity.value === null) throw new GoneError('IDENTITY_DESTROYED', 'the request no longer holds this identity’s value (destroyed once done with)');
  await ctx.db.tx((t) => auditRequest(ctx, t, req, 'request.identity_revealed', { identity: identity.id, type: identity.type }), { locks: [requestLock(req.id)] });
  return { id: identity.id, type: identity.type, value: identity.value };
}
