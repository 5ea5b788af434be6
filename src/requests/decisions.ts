/**
 * The DPO's decisions on identities under review (a request in `needs_review`): include one
 * (it, and every record it leads to, is the person's) or exclude it (never searched, erased or
 * exported for this request). Each decision is a guarded update of an undecided, pending
 * identity plus its audit entry, in one transaction holding the request's lock: of two
 * concurrent decisions on the same identity exactly one wins, the other gets 409. The judgement
 * is then recomputed: what the decision settles follows at once, and once nothing waits the
 * request runs again.
 */
import type { Ctx } from '../deps.js';
import type { DsrRequest } from '../db/schema/requests.js';
import type { IdentityDecision } from '../db/schema/request-identities.js';
import { ConflictError, NotFoundError } from '../errors.js';
import { applyEffects, noEffects, resumeAfterReview } from './advance.js';
import { auditRequest, requestLock } from './audit.js';
import { assertNotOpener, principalOf, reasonHash } from './duties.js';
import { requireRequest } from './service.js';

export async function decideIdentity(ctx: Ctx, requestId: string, identityId: number, decision: IdentityDecision, reason: string): Promise<DsrRequest> {
  const { request, fx } = await ctx.db.tx(
    async (t) => {
      const req = await requireRequest(ctx, requestId, t);
      if (req.status !== 'needs_review') {
        throw new ConflictError('INVALID_STATE', `identities are decided while the request needs review (it is ${req.status})`, { status: req.status });
      }
      assertNotOpener(ctx, req, decision);
      const row = (await t.requests.identities(requestId)).find((i) => i.id === identityId && i.value !== null);
      if (!row) throw new NotFoundError('IDENTITY_NOT_FOUND', 'no such identity in this request');
      const decided = await t.requests.decideIdentity({ requestId, id: identityId, decision, by: principalOf(ctx.actor), at: ctx.now(), reason });
      if (!decided) {
        throw new ConflictError('IDENTITY_NOT_PENDING', `this identity is not under review (it is ${row.state}${row.decision ? `, ${row.decision}d` : ''})`, {
          state: row.state,
          decision: row.decision,
        });
      }
      await auditRequest(ctx, t, req, decision === 'include' ? 'request.identity_included' : 'request.identity_excluded', {
        identity: identityId,
        type: row.type,
        ...(row.why?.code ? { why: row.why.code } : {}),
        reasonHash: reasonHash(ctx, reason),
      });
      const fx = (await resumeAfterReview(ctx, t, requestId)) ?? noEffects();
      return { request: (await t.requests.get(requestId))!, fx };
    },
    { locks: [requestLock(requestId)] },
  );
  await applyEffects(ctx, fx);
  return request;
}
