/**
 * Login throttling: a sliding window of failed attempts per account and per client address,
 * both kept as keyed pseudonyms (never the email or the address in clear).
 *
 * Invariants:
 * - an attempt is RESERVED (written as a failure) in the same write transaction that checks the
 *   counts, before any password is verified: a burst of concurrent guesses cannot all pass the
 *   check while the first argon2 verifications are still running, so at most
 *   MAX_LOGIN_FAILURES passwords are ever verified per account and MAX_ADDRESS_FAILURES per
 *   address within LOGIN_WINDOW_MS — across every instance on the database: the check and the
 *   reservation hold the account's and the address's locks (throttleLocks);
 * - a reservation left behind by a crash counts as a failure (fail closed);
 * - an account adds at most MAX_LOGIN_FAILURES to its address's count (it is blocked after
 *   that), so one account's failures — a mistyped password, or a guesser at one account — never
 *   lock out the other staff who come through the same address (a reverse proxy whose
 *   X-Forwarded-For is not trusted makes everyone one address).
 */
import type { Stores } from '../db/handle.js';
import type { LoginFailure } from '../db/stores/limits.js';
import { TooManyRequestsError } from '../errors.js';
import type { Ctx } from '../deps.js';
import ipaddr from 'ipaddr.js';

export const LOGIN_WINDOW_MS = 15 * 60 * 1000;
/** Failed logins for one account within the window before its logins are refused. */
export const MAX_LOGIN_FAILURES = 5;
/**
 * The address a login is throttled by: an IPv4 address as it is; an IPv6 address by its /64 —
 * one host (or one attacker) is routinely given a whole /64, and counting each of its 2^64
 * addresses apart would let it rotate past the limit.
 */
export function throttledAddress(address: string): string {
  if (!ipaddr.isValid(address)) return address;
  const parsed = ipaddr.parse(address);
  if (parsed.kind() === 'ipv4') return parsed.toString();
  const v6 = parsed as ipaddr.IPv6;
  if (v6.isIPv4MappedAddress()) return v6.toIPv4Address().toString();
  const parts = v6.parts.slice(0, 4).map((p) => p.toString(16));
  return `${parts.join(':')}::/64`;
}

/** Failed logins from one client address, whatever the accounts, before its logins are refused. */
export const MAX_ADDRESS_FAILURES = 20;

export type LoginAttempt = LoginFailure;

/**
 * The locks that serialise the check-and-reserve of one account and one address across every
 * instance on the database (SQLite: implied by its single writer). Also taken by whatever
 * forgets or writes back the account's failures, so a success never interleaves with a check.
 */
export function throttleLocks(accountRef: string, clientRef?: string): string[] {
  return clientRef === undefined ? [`login-account:${accountRef}`] : [`login-account:${accountRef}`, `login-client:${clientRef}`];
}

/**
 * Checks both counters and reserves the attempt (one transaction holding the account's and the
 * address's locks), or throws TOO_MANY_ATTEMPTS with the seconds until enough failures have
 * left the window.
 */
export async function reserveLoginAttempt(ctx: Ctx, accountRef: string, clientRef: string): Promise<LoginAttempt> {
  const now = ctx.now();
  return ctx.db.tx(
    async (t) => {
      // A failure counts for LOGIN_WINDOW_MS: at exactly `at + window` (what Retry-After promised) it is gone.
      await t.limits.pruneLoginFailures(now - LOGIN_WINDOW_MS);
      const recent = await t.limits.recentLoginFailures(accountRef, clientRef, now - LOGIN_WINDOW_MS);
      assertUnderLimit(recent.filter((f) => f.accountRef === accountRef), MAX_LOGIN_FAILURES, now);
      assertUnderLimit(recent.filter((f) => f.clientRef === clientRef), MAX_ADDRESS_FAILURES, now);
      const id = await t.limits.insertLoginFailure({ accountRef, clientRef, at: now });
      return { id, accountRef, clientRef, at: now };
    },
    { locks: throttleLocks(accountRef, clientRef) },
  );
}

function assertUnderLimit(failures: { at: number }[], limit: number, now: number): void {
  if (failures.length < limit) return;
  // The block lifts when enough failures have aged out to fall back under the limit.
  const unblocksAt = failures[failures.length - limit]!.at + LOGIN_WINDOW_MS;
  const retryAfter = Math.max(1, Math.ceil((unblocksAt - now) / 1000));
  throw new TooManyRequestsError('TOO_MANY_ATTEMPTS', 'too many failed logins; try again later', retryAfter);
}

/**
 * Keeps a reserved attempt as a failure (inside the caller's transaction, which holds
 * throttleLocks(accountRef)). A concurrent success on the same account may have cleared it
 * meanwhile: it is written back, so a wrong password always counts.
 */
export async function confirmFailedAttempt(t: Stores, attempt: LoginAttempt): Promise<void> {
  await t.limits.restoreLoginFailure(attempt);
}

/** After a success: the account's failures (its own reservation included) are forgotten. */
export async function clearAccountFailures(t: Stores, accountRef: string): Promise<void> {
  await t.limits.clearAccountFailures(accountRef);
}
