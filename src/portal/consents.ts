/**
 * The consent centre's verbs: a signed-in person's purposes with their current choice, a change
 * of one choice through the consent ledger (channel `web`, with evidence), and the signed
 * receipt of their latest choice for a purpose.
 *
 * Scope: everything is the session's person (./sessions.ts) — by subject id once known, by the
 * session's email before (the first change creates the person, and the session is then bound
 * to them). Nothing here takes a person or an event id from the browser: a purpose id is all
 * the forms send, so nobody can reach another person's consents or receipts.
 */
import { createHash } from 'node:crypto';
import type { Ctx } from '../deps.js';
import type { Decision } from '../db/schema/consents.js';
import { NotFoundError } from '../errors.js';
import type { CachedPurpose } from '../consent/catalog.js';
import { recordConsent, type RecordedConsent } from '../consent/record.js';
import { getConsentReceipt } from '../consent/receipts.js';
import { findSubjectIdByIdentity, getSubject } from '../subjects/service.js';
import type { ConsentStateName } from '../consent/states.js';
import type { PortalSessionView } from './sessions.js';

export interface PortalPurpose {
  purpose: CachedPurpose;
  state: ConsentStateName;
  since: number | null;
  hasEvent: boolean;
}

/** The session's person, binding the session when a person with its email appeared since. */
async function subjectOf(ctx: Ctx, s: PortalSessionView): Promise<string | null> {
  if (s.subjectId) return s.subjectId;
  const found = await findSubjectIdByIdentity(ctx.db, { type: 'email', value: s.email });
  if (found) {
    await ctx.db.tx((t) => t.portal.setSessionSubject(s.id, found));
    s.subjectId = found;
  }
  return found ?? null;
}

/** GoneError-like NotFound when the session's person was erased meanwhile. */
async function assertLive(ctx: Ctx, subjectId: string): Promise<void> {
  const row = await getSubject(ctx.db, subjectId);
  if (!row || row.erasedAt !== null) throw new NotFoundError('SUBJECT_ERASED', 'this person was erased');
}

export async function portalConsents(ctx: Ctx, s: PortalSessionView): Promise<PortalPurpose[]> {
  const { list } = await ctx.purposes.get();
  const subjectId = await subjectOf(ctx, s);
  if (subjectId) await assertLive(ctx, subjectId);
  const states = subjectId ? await ctx.db.consents.statesOfSubjects([subjectId]) : [];
  const now = ctx.now();
  return list.map((purpose) => {
    const row = states.find((r) => r.purposeId === purpose.id);
    if (!row) return { purpose, state: 'unknown', since: null, hasEvent: false };
    if (row.decision === 'granted' && purpose.validityMs > 0 && now - row.occurredAt > purpose.validityMs) {
      return { purpose, state: 'expired', since: row.occurredAt + purpose.validityMs, hasEvent: true };
    }
    return { purpose, state: row.decision, since: row.occurredAt, hasEvent: true };
  });
}

export const PORTAL_DECISIONS: readonly Decision[] = ['granted', 'refused', 'withdrawn'];

/** Records the person's choice (channel web); `purposeVersion` is the version the page showed. */
export async function changePortalConsent(
  ctx: Ctx,
  s: PortalSessionView,
  input: { purpose: string; purposeVersion: number; decision: Decision; userAgent: string | undefined; gpc: boolean },
): Promise<RecordedConsent> {
  const subjectId = await subjectOf(ctx, s);
  if (subjectId) await assertLive(ctx, subjectId);
  const recorded = await recordConsent(
    ctx,
    {
      subject: subjectId ? { id: subjectId } : { type: 'email', value: s.email },
      purpose: input.purpose,
      decision: input.decision,
      source: { channel: 'web', collectedBy: 'privacy-portal' },
      method: 'privacy-portal',
      evidence: {
        purposeVersion: input.purposeVersion,
        page: '/privacy/consents',
        userAgentSha256: createHash('sha256').update(input.userAgent ?? '').digest('hex'),
      },
    },
    { gpcHeader: input.gpc },
  );
  if (!subjectId) {
    await ctx.db.tx((t) => t.portal.setSessionSubject(s.id, recorded.subjectId));
    s.subjectId = recorded.subjectId;
  }
  return recorded;
}

/** The signed receipt of the person's latest event for `purpose`, or NotFoundError. */
export async function portalReceipt(ctx: Ctx, s: PortalSessionView, purpose: string): Promise<{ jws: string; eventId: string }> {
  const subjectId = await subjectOf(ctx, s);
  if (!subjectId) throw new NotFoundError('CONSENT_EVENT_NOT_FOUND', 'no choice recorded yet');
  const states = await ctx.db.consents.statesOfSubjects([subjectId]);
  const row = states.find((r) => r.purposeId === purpose);
  if (!row) throw new NotFoundError('CONSENT_EVENT_NOT_FOUND', 'no choice recorded yet');
  const { jws } = await getConsentReceipt(ctx, row.eventId);
  return { jws, eventId: row.eventId };
}
