/**
 * The DPO's decisions on identities under review (a request in `needs_review`): include one
 * (it, and every record it leads to, is the person's) or exclude it (never searched, erased or
 * exported for this request). Each decision is a guarded update of an undecided, pending
 * identity plus its audit entry, in one transaction: of two concurrent decisions on the same
 * identity exactly one wins, the other gets 409. The judgement is then recomputed: what the
 * decision settles follows at once, and once nothing waits the request runs again.
 */
import { writeTx } from '../db/client.js';
import type { Ctx } from '../deps.js';
import type { DsrRequest } from '../db/schema/requests.js';
import type { IdentityDecision } from '../db/schema/request-identities.js';
import { ConflictError, NotFoundError } from '../errors.js';
import { auditRequest, resumeAfterReview } from '../engine/plan.js';
import { getRequestRow, identitiesOf, stmts } from '../engine/store.js';
import { notifyEngine } from '../engine/worker.js';
import { assertNotOpener, principalOf, reasonHash } from './duties.js';
import { requireRequest } from './service.js';

export function decideIdentity(ctx: Ctx, requestId: string, identityId: number, decision: IdentityDecision, reason: string): DsrRequest {
  const out = writeTx(ctx.db, () => {
    const req = requireRequest(ctx, requestId);
    if (req.status !== 'needs_review') {
      throw new ConflictError('INVALID_STATE', `identities are decided while the request needs review (it is ${req.status})`, { status: req.status });
    }
    assertNotOpener(ctx, req, decision);
    const row = identitiesOf(ctx.db, requestId).find((i) => i.id === identityId && i.value !== null);
    if (!row) throw new NotFoundError('IDENTITY_NOT_FOUND', 'no such identity in this request');
    const changed = stmts(ctx.db).decideIdentity.run({ id: identityId, requestId, decision, by: principalOf(ctx.actor), at: ctx.now(), reason }).changes;
    if (changed !== 1) {
      throw new ConflictError('IDENTITY_NOT_PENDING', `this identity is not under review (it is ${row.state}${row.decision ? `, ${row.decision}d` : ''})`, {
        state: row.state,
        decision: row.decision,
      });
    }
    auditRequest(ctx, req, decision === 'include' ? 'request.identity_included' : 'request.identity_excluded', {
      identity: identityId,
      type: row.type,
      ...(row.why?.code ? { why: row.why.code } : {}),
      reasonHash: reasonHash(ctx, reason),
    });
    resumeAfterReview(ctx, requestId);
    return getRequestRow(ctx.db, requestId)!;
  });
  notifyEngine(ctx.db);
  return out;
}
