/**
 * Validation of one consent event against the catalogue, the clock and the identity rules,
 * before anything is written: a bad event fails alone and early (before it joins a group commit,
 * before a batch opens its transaction). What it checks against the database (the person named
 * by id) is checked again inside the write transaction, which alone decides.
 */
import type { CountryCode } from 'libphonenumber-js';
import type { Deps } from '../deps.js';
import type { Decision, SourceChannel } from '../db/schema/consents.js';
import { normalizeIdentity, type Identity } from '../identity.js';
import { NotFoundError, ValidationError } from '../errors.js';
import { requireLiveSubject } from '../subjects/service.js';
import type { CachedPurpose } from './catalog.js';
import { requirePurpose } from './purposes.js';

/** Clock skew tolerated on a caller's `occurredAt`. */
export const MAX_CLOCK_SKEW_MS = 5 * 60_000;

/** One event as the API takes it (validated by the ConsentInput schema). */
export interface ConsentInput {
  subject: { type: string; value: string } | { id: string };
  purpose: string;
  decision: Decision;
  source: { channel: SourceChannel; collectedBy?: string; location?: string };
  method?: string;
  evidence?: { purposeVersion?: number; [k: string]: unknown };
  occurredAt?: string;
  gpc?: boolean;
}

export interface RecordOptions {
  /** True when the request carried `Sec-GPC: 1` exactly. */
  gpcHeader?: boolean;
  phoneRegion?: CountryCode;
}

/** A validated event, ready to write. */
export interface PreparedEvent {
  /** The person by identifier (created on first consent), or by `subjectId`. */
  identity: Identity | null;
  subjectId: string | null;
  purpose: CachedPurpose;
  purposeVersion: number;
  decision: Decision;
  occurredAt: number;
  /** When it is recorded (the service clock at validation). */
  recordedAt: number;
  channel: SourceChannel;
  collectedBy: string | null;
  location: string | null;
  method: string | null;
  evidence: string | null;
  gpcApplied: boolean;
}

type PrepareCtx = Pick<Deps, 'db' | 'purposes'>;

/** The purpose version the event names (default: the current one); reloads the catalogue once when behind. */
async function versionOf(ctx: PrepareCtx, purpose: CachedPurpose, asked: unknown): Promise<{ purpose: CachedPurpose; version: number }> {
  if (asked === undefined) return { purpose, version: purpose.version };
  const valid = (p: CachedPurpose) => Number.isInteger(asked) && (asked as number) >= 1 && (asked as number) <= p.version;
  if (valid(purpose)) return { purpose, version: asked as number };
  // A version created a moment ago on another instance: the cached copy may be behind.
  const fresh = (await ctx.purposes.reloadOnMiss())?.byId.get(purpose.id);
  if (fresh && valid(fresh)) return { purpose: fresh, version: asked as number };
  throw new NotFoundError('PURPOSE_VERSION_NOT_FOUND', `purpose "${purpose.id}" has no version ${String(asked)}`);
}

/** Validates one (schema-valid) event; throws the domain error of the first problem, writes nothing. */
export async function prepareEvent(ctx: PrepareCtx, now: number, input: ConsentInput, opts: RecordOptions): Promise<PreparedEvent> {
  let identity: Identity | null = null;
  let subjectId: string | null = null;
  if ('id' in input.subject) {
    subjectId = await requireLiveSubject(ctx.db, input.subject.id);
  } else {
    identity = normalizeIdentity(input.subject, { defaultRegion: opts.phoneRegion });
  }
  const { purpose, version: purposeVersion } = await versionOf(ctx, await requirePurpose(ctx, input.purpose), input.evidence?.purposeVersion);
  let occurredAt = now;
  if (input.occurredAt !== undefined) {
    occurredAt = Date.parse(input.occurredAt);
    if (Number.isNaN(occurredAt)) throw new ValidationError('INVALID_OCCURRED_AT', 'occurredAt is not a valid date-time');
    if (occurredAt > now + MAX_CLOCK_SKEW_MS) {
      throw new ValidationError('OCCURRED_AT_IN_FUTURE', 'occurredAt is in the future (beyond 5 minutes of clock skew)');
    }
  }
  // Global Privacy Control: a GPC purpose is recorded as refused (a withdrawal stays one).
  const gpcApplied = purpose.gpcApplies && (input.gpc === true || opts.gpcHeader === true);
  const decision: Decision = gpcApplied && input.decision === 'granted' ? 'refused' : input.decision;
  return {
    identity,
    subjectId,
    purpose,
    purposeVersion,
    decision,
    occurredAt,
    recordedAt: now,
    channel: input.source.channel,
    collectedBy: input.source.collectedBy ?? null,
    location: input.source.location ?? null,
    method: gpcApplied ? 'gpc' : (input.method ?? null),
    evidence: input.evidence ? JSON.stringify(input.evidence) : null,
    gpcApplied,
  };
}
