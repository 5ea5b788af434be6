/**
 * Consent receipts: a compact JWS (EdDSA, the audit key set in /.well-known/jwks.json) over a
 * payload that follows the Kantara Consent Receipt v1.1 field names where they fit, plus the
 * purpose text's SHA-256 and the audit entry's index.
 *
 * Signed on request, not on write, so writes stay fast. Ed25519 signatures are deterministic and
 * the payload holds only facts of the (immutable) event, so the same receipt comes back each
 * time under the same key; nothing needs storing.
 */
import type { Ctx } from '../deps.js';
import { NotFoundError } from '../errors.js';
import { subjectRefOf } from '../subjects/service.js';
import { getConsentEvent } from './history.js';
import { getPurposeVersion, requirePurpose } from './purposes.js';

export const RECEIPT_TYP = 'kantara-cr+jwt';

export async function getConsentReceipt(ctx: Ctx, eventId: string): Promise<{ jws: string; payload: Record<string, unknown> }> {
  const event = await getConsentEvent(ctx, eventId);
  if (!event) throw new NotFoundError('CONSENT_EVENT_NOT_FOUND', 'no such consent event');
  const purpose = (await requirePurpose(ctx, event.purpose)).view;
  const version = await getPurposeVersion(ctx, event.purpose, event.purposeVersion);
  const base = ctx.config.publicUrl?.replace(/\/$/, '');
  const payload = {
    version: 'KI-CR-v1.1.0',
    jurisdiction: 'EU',
    consentTimestamp: Math.floor(Date.parse(event.occurredAt) / 1000),
    collectionMethod: event.method ?? event.source.channel,
    consentReceiptID: event.id,
    language: 'fr',
    piiPrincipalId: await subjectRefOf(ctx, ctx.db, event.subjectId),
    piiControllers: [{ piiController: base ?? 'oubli', ...(base ? { url: base } : {}) }],
    policyUrl: `${base ?? ''}/v1/purposes/${encodeURIComponent(purpose.id)}`,
    services: [
      {
        service: purpose.id,
        purposes: [
          {
            purpose: version.title.en,
            purposeCategory: [purpose.legalBasis],
            consentType: purpose.legalBasis === 'dpv:Consent' ? 'EXPLICIT' : 'NOT_APPLICABLE',
            piiCategory: [],
            primaryPurpose: true,
            termination: purpose.validityDays
              ? `after ${purpose.validityDays} days, or on withdrawal at any time`
              : 'on withdrawal at any time',
            thirdPartyDisclosure: purpose.gpcApplies,
            decision: event.decision,
            channel: event.source.channel,
            purposeVersion: event.purposeVersion,
            purposeTextSha256: version.textSha256,
            gpcApplied: event.gpcApplied,
          },
        ],
      },
    ],
    sensitive: false,
    spiCat: [],
    purposeTextSha256: version.textSha256,
    auditIndex: event.auditIndex,
  };
  const jws = await ctx.keys.sign(payload, RECEIPT_TYP);
  return { jws, payload };
}
