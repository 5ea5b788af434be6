/**
 * Writing validated consent events, inside the caller's transaction: the one code path of a
 * single event, a group commit and a batch.
 *
 * Invariants:
 * - an event, its audit entry, the state change it causes and its outbox row commit together,
 *   or not at all (the caller's transaction);
 * - the people are resolved — and created, on first consent — and locked before anything is
 *   decided (src/subjects/service.ts resolveSubjects): their states are then read once and the
 *   ordering rule (src/consent/state-rule.ts) applied to the events in their order, so a later
 *   event of the same write sees what an earlier one did, and no other writer changes those
 *   states before this transaction ends;
 * - repeating the current decision is recorded in the ledger (what the person did stays
 *   provable) but writes no state and no outbox row;
 * - audit entries name the person by `subjectRef` only; webhook messages (consent.updated, one
 *   per state change, in the same transaction) by subject id only.
 */
import type { Stores } from '../db/handle.js';
import type { Ctx } from '../deps.js';
import type { ConsentState, Decision } from '../db/schema/consents.js';
import type { NewConsentEvent } from '../db/stores/consents.js';
import type { NewOutboxRow } from '../db/stores/outbox.js';
import type { AuditInput } from '../audit/log.js';
import type { Identity } from '../identity.js';
import { NotFoundError } from '../errors.js';
import { identityKey, resolveSubjects } from '../subjects/service.js';
import type { PreparedEvent } from './prepare.js';
import { effectiveAt, supersedes } from './state-rule.js';
import { emitWebhooks, type WebhookMessageInput } from '../webhooks/events.js';

export const CONSENT_UPDATED = 'consent.updated' as const;

/** One validated event and who records it. */
export interface PendingConsent {
  ctx: Ctx;
  event: PreparedEvent;
}

export interface RecordedConsent {
  id: string;
  subjectId: string;
  purpose: string;
  decision: Decision;
  occurredAt: string;
  gpcApplied: boolean;
  /** False when the event did not change the current state (older than it, or a repeat). */
  stateChanged: boolean;
}

const iso = (ms: number) => new Date(ms).toISOString();
const stateKey = (subjectId: string, purposeId: string) => `${subjectId}\u0000${purposeId}`;

function auditInput(ctx: Ctx, id: string, subjectRef: string, e: PreparedEvent): AuditInput {
  return {
    type: 'consent.recorded',
    actor: ctx.actor,
    subjectRef,
    data: {
      event: id,
      purpose: e.purpose.id,
      decision: e.decision,
      channel: e.channel,
      purposeVersion: e.purposeVersion,
      gpc: e.gpcApplied,
      occurredAt: iso(e.occurredAt),
    },
  };
}

/** Writes the events in order, in the transaction `t`; one result per event, in order. */
export async function writeConsents(t: Stores, items: PendingConsent[]): Promise<RecordedConsent[]> {
  const n = items.length;
  if (n === 0) return [];
  const first = items[0]!.ctx;
  const identities = new Map<string, Identity>();
  const byId: string[] = [];
  for (const { event } of items) {
    if (event.identity) identities.set(identityKey(event.identity), event.identity);
    else byId.push(event.subjectId!);
  }
  const people = await resolveSubjects(first, t, [...identities.values()], byId);

  const subjectIds = new Array<string>(n);
  const ids = new Array<string>(n);
  const audits = new Array<AuditInput>(n);
  for (let i = 0; i < n; i++) {
    const { ctx, event } = items[i]!;
    const subjectId = event.identity ? people.byIdentity.get(identityKey(event.identity))! : event.subjectId!;
    const ref = people.refs.get(subjectId);
    if (ref === undefined) throw new NotFoundError('SUBJECT_NOT_FOUND', 'no such subject (or it was erased)');
    subjectIds[i] = subjectId;
    ids[i] = ctx.ids('evt');
    audits[i] = auditInput(ctx, ids[i]!, ref, event);
  }
  // Everything that does not need the audit log's sequencer is read before it is taken: it
  // serialises every writer until this transaction commits. The ordering rule is applied in
  // order to the states as stored (locked: see the header); a person just created has none.
  const states = new Map<string, ConsentState>();
  const existing = [...new Set(subjectIds)].filter((id) => !people.created.has(id));
  if (existing.length > 0) for (const s of await t.consents.statesOfSubjects(existing)) states.set(stateKey(s.subjectId, s.purposeId), s);
  const subscribers = await t.webhooks.subscribers();
  const appended = await first.audit.appendMany(t, audits);

  const changed = new Map<string, ConsentState>();
  const events = new Array<NewConsentEvent>(n);
  const outbox: NewOutboxRow[] = [];
  const announced: WebhookMessageInput[] = [];
  const out = new Array<RecordedConsent>(n);
  for (let i = 0; i < n; i++) {
    const e = items[i]!.event;
    const subjectId = subjectIds[i]!;
    const id = ids[i]!;
    events[i] = {
      id,
      subjectId,
      purposeId: e.purpose.id,
      decision: e.decision,
      occurredAt: e.occurredAt,
      recordedAt: e.recordedAt,
      channel: e.channel,
      collectedBy: e.collectedBy,
      location: e.location,
      method: e.method,
      purposeVersion: e.purposeVersion,
      evidence: e.evidence,
      gpc: e.gpcApplied ? 1 : 0,
      auditIdx: appended[i]!.index,
    };
    const key = stateKey(subjectId, e.purpose.id);
    const at = effectiveAt(e.occurredAt, e.recordedAt);
    const stateChanged = supersedes(states.get(key), e.decision, at);
    if (stateChanged) {
      const next: ConsentState = { subjectId, purposeId: e.purpose.id, decision: e.decision, occurredAt: at, channel: e.channel, eventId: id };
      states.set(key, next);
      changed.set(key, next);
      outbox.push({
        type: CONSENT_UPDATED,
        payload: `{"subject":${JSON.stringify(subjectId)},"purpose":${JSON.stringify(e.purpose.id)},"decision":"${e.decision}","occurredAt":"${iso(e.occurredAt)}"}`,
        createdAt: e.recordedAt,
      });
      announced.push({
        type: CONSENT_UPDATED,
        orderKey: subjectId,
        at: e.recordedAt,
        data: { subject: subjectId, purpose: e.purpose.id, decision: e.decision, occurredAt: iso(e.occurredAt), channel: e.channel },
      });
    }
    out[i] = { id, subjectId, purpose: e.purpose.id, decision: e.decision, occurredAt: iso(e.occurredAt), gpcApplied: e.gpcApplied, stateChanged };
  }
  await t.consents.writeEvents(events, [...changed.values()], outbox);
  await emitWebhooks(first, t, announced, subscribers);
  return out;
}
