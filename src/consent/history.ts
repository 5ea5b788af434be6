/** A person's consent events as the API shows them: the ledger, oldest first, and one event. */
import type { Deps } from '../deps.js';
import type { ConsentEvent, Decision, SourceChannel } from '../db/schema/consents.js';
import type { Identity } from '../identity.js';
import { NotFoundError } from '../errors.js';
import { findSubjectIdByIdentity } from '../subjects/service.js';

export interface ConsentEventView {
  id: string;
  purpose: string;
  decision: Decision;
  occurredAt: string;
  recordedAt: string;
  source: { channel: SourceChannel; collectedBy?: string; location?: string };
  method: string | null;
  purposeVersion: number;
  evidence: Record<string, unknown> | null;
  gpcApplied: boolean;
  auditIndex: number;
}

const iso = (ms: number) => new Date(ms).toISOString();

function eventView(r: ConsentEvent): ConsentEventView {
  return {
    id: r.id,
    purpose: r.purposeId,
    decision: r.decision,
    occurredAt: iso(r.occurredAt),
    recordedAt: iso(r.recordedAt),
    source: {
      channel: r.channel,
      ...(r.collectedBy !== null ? { collectedBy: r.collectedBy } : {}),
      ...(r.location !== null ? { location: r.location } : {}),
    },
    method: r.method,
    purposeVersion: r.purposeVersion,
    evidence: r.evidence === null ? null : (JSON.parse(r.evidence) as Record<string, unknown>),
    gpcApplied: r.gpc === 1,
    auditIndex: r.auditIdx,
  };
}

/** Every event of a person, oldest `occurredAt` first (ties: recording order). */
export async function consentHistory(ctx: Pick<Deps, 'db'>, subjectId: string): Promise<ConsentEventView[]> {
  return (await ctx.db.consents.history(subjectId)).map(eventView);
}

export async function getConsentEvent(ctx: Pick<Deps, 'db'>, eventId: string): Promise<(ConsentEventView & { subjectId: string }) | undefined> {
  const row = await ctx.db.consents.event(eventId);
  return row ? { ...eventView(row), subjectId: row.subjectId } : undefined;
}

/** The ledger of the person holding `identity`; 404 SUBJECT_NOT_FOUND when nobody does. */
export async function consentHistoryOf(ctx: Pick<Deps, 'db'>, identity: Identity): Promise<{ subjectId: string; events: ConsentEventView[] }> {
  const subjectId = await findSubjectIdByIdentity(ctx.db, identity);
  if (!subjectId) throw new NotFoundError('SUBJECT_NOT_FOUND', 'nobody holds this identifier');
  return { subjectId, events: await consentHistory(ctx, subjectId) };
}
