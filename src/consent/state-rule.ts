/**
 * The ordering rule: which event is a person's current state for a purpose.
 *
 * - The event with the latest EFFECTIVE time wins, min(occurredAt, recordedAt); ties go to the
 *   later recorded. A late-arriving store import, dated in the past, never overrides a newer web
 *   choice; an event dated in the future (within the clock skew) takes effect when it is
 *   recorded, so a withdrawal recorded after a grant wins whatever date the grant claims.
 * - Repeating the current decision (a second withdrawal) leaves the state and its `since` as
 *   they were — except a repeated grant, which renews the consent (its validity counts again).
 *
 * Applied by the writer to the stored state under the person's lock (src/consent/write.ts), so
 * two writers — two instances — never decide from the same stale state; events of one write are
 * applied in their order. Pure.
 */
import type { ConsentState, Decision } from '../db/schema/consents.js';

/** When an event takes effect. */
export const effectiveAt = (occurredAt: number, recordedAt: number): number => Math.min(occurredAt, recordedAt);

/** Whether an event (`decision`, taking effect at `at`) becomes the state in place of `current`. */
export function supersedes(current: Pick<ConsentState, 'decision' | 'occurredAt'> | undefined, decision: Decision, at: number): boolean {
  if (!current) return true;
  if (at < current.occurredAt) return false;
  return !(decision === current.decision && decision !== 'granted');
}
