/**
 * When a failed delivery is tried again (Standard Webhooks' advice, as Svix schedules it): soon
 * at first — the first retry within 10 s — then further apart, for more than three days in all
 * (≈ 3.6 days over 11 attempts), each delay with ±10 % jitter so that a receiver coming back is
 * not hit by every queued message at once. A receiver's `Retry-After` (429, 502, 503, 504) is
 * honoured when it asks for longer, up to a day.
 */
import { randomInt } from 'node:crypto';

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;

/** Delay after the n-th failed attempt (n = 1 …): beyond the last, the delivery has failed. */
export const RETRY_DELAYS_MS = [5 * SECOND, 5 * MINUTE, 30 * MINUTE, 2 * HOUR, 5 * HOUR, 10 * HOUR, 10 * HOUR, 14 * HOUR, 20 * HOUR, 24 * HOUR] as const;
export const MAX_ATTEMPTS = RETRY_DELAYS_MS.length + 1;
/** An endpoint failing this long without one success is disabled (and the DPO told). */
export const DISABLE_AFTER_MS = 3 * 24 * HOUR;
const MAX_RETRY_AFTER_MS = 24 * HOUR;

/** Statuses whose Retry-After is a receiver's word on when to come back. */
const HONOURS_RETRY_AFTER = new Set([429, 502, 503, 504]);

/**
 * When to try again after `attempts` failed attempts (null: no more), given the answer's
 * status and its Retry-After in ms (null when absent).
 */
export function nextAttemptAt(now: number, attempts: number, status: number | null, retryAfterMs: number | null): number | null {
  const base = RETRY_DELAYS_MS[attempts - 1];
  if (base === undefined) return null;
  const jitter = Math.round(base * 0.1);
  let delay = base + randomInt(-jitter, jitter + 1);
  if (status !== null && HONOURS_RETRY_AFTER.has(status) && retryAfterMs !== null) delay = Math.max(delay, Math.min(retryAfterMs, MAX_RETRY_AFTER_MS));
  return now + delay;
}
