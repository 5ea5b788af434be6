/**
 * Separation of duties and the staff's free text. The DPO's decisions on a request (approve,
 * deny, extend, include or exclude an identity) are never taken by the principal that opened
 * it. What staff type (a denial's grounds, an extension's reason, a note on an identity) may
 * name the person: it stays in the request's rows, which go with the request; the append-only
 * audit log keeps only a machine-readable code and a keyed hash that proves which text it was.
 */
import { pseudonym } from '../auth/pseudonym.js';
import type { Ctx } from '../deps.js';
import type { DsrRequest } from '../db/schema/requests.js';
import type { Actor } from '../audit/log.js';
import { ForbiddenError } from '../errors.js';

/** Grounds for refusing to act (GDPR Art. 12(4), 12(5), 12(6)). */
export const DENIAL_REASONS = ['manifestly_unfounded', 'excessive', 'identity_not_verified', 'other'] as const;
export type DenialReason = (typeof DENIAL_REASONS)[number];

/** How requests.createdBy names a principal. */
export function principalOf(actor: Actor): string {
  return `${actor.type}:${actor.id}`;
}

/** 403 SEPARATION_OF_DUTIES when the caller opened the request. */
export function assertNotOpener(ctx: Ctx, req: Pick<DsrRequest, 'createdBy'>, verb: string): void {
  if (req.createdBy === principalOf(ctx.actor)) {
    throw new ForbiddenError('SEPARATION_OF_DUTIES', `the principal that opened a request cannot ${verb} it; another member of staff with the DPO's authority must`);
  }
}

/** Keyed hash of a staff text for the audit log (HMAC under the deployment's pseudonym key). */
export function reasonHash(ctx: Pick<Ctx, 'secrets'>, text: string): string {
  return pseudonym(ctx.secrets.pseudonymKey, 'reason', text);
}
