/**
 * Login throttling: a sliding window of failed attempts per account and per client address,
 * both kept as keyed pseudonyms (never the email or the address in clear).
 *
 * Invariants:
 * - an attempt is RESERVED (written as a failure) in the same write transaction that checks the
 *   counts, before any password is verified: a burst of concurrent guesses cannot all pass the
 *   check while the first argon2 verifications are still running, so at most
 *   MAX_LOGIN_FAILURES passwords are ever verified per account and MAX_ADDRESS_FAILURES per
 *   address within LOGIN_WINDOW_MS;
 * - a reservation left behind by a crash counts as a failure (fail closed);
 * - an account adds at most MAX_LOGIN_FAILURES to its address's count (it is blocked after
 *   that), so one account's failures — a mistyped password, or a guesser at one account — never
 *   lock out the other staff who come through the same address (a reverse proxy whose
 *   X-Forwarded-For is not trusted makes everyone one address).
 */
import { and, eq, gt, lte, or } from 'drizzle-orm';
import { writeTx, type Db } from '../db/client.js';
import { loginFailures } from '../db/schema/login-failures.js';
import { TooManyRequestsError } from '../errors.js';
import type { Ctx } from '../deps.js';

export const LOGIN_WINDOW_MS = 15 * 60 * 1000;
/** Failed logins for one account within the window before its logins are refused. */
export const MAX_LOGIN_FAILURES = 5;
/** Failed logins from one client address, whatever the accounts, before its logins are refused. */
export const MAX_ADDRESS_FAILURES = 20;

export interface LoginAttempt {
  id: number;
  accountRef: string;
  clientRef: string;
  at: number;
}

/**
 * Checks both counters and reserves the attempt (one BEGIN IMMEDIATE transaction), or throws
 * TOO_MANY_ATTEMPTS with the seconds until enough failures have left the window.
 */
export function reserveLoginAttempt(ctx: Ctx, accountRef: string, clientRef: string): LoginAttempt {
  const now = ctx.now();
  return writeTx(ctx.db, (tx) => {
    // A failure counts for LOGIN_WINDOW_MS: at exactly `at + window` (what Retry-After promised) it is gone.
    tx.delete(loginFailures).where(lte(loginFailures.at, now - LOGIN_WINDOW_MS)).run();
    const recent = tx
      .select({ accountRef: loginFailures.accountRef, clientRef: loginFailures.clientRef, at: loginFailures.at })
      .from(loginFailures)
      .where(and(gt(loginFailures.at, now - LOGIN_WINDOW_MS), or(eq(loginFailures.accountRef, accountRef), eq(loginFailures.clientRef, clientRef))))
      .orderBy(loginFailures.at)
      .all();
    assertUnderLimit(recent.filter((f) => f.accountRef === accountRef), MAX_LOGIN_FAILURES, now);
    assertUnderLimit(recent.filter((f) => f.clientRef === clientRef), MAX_ADDRESS_FAILURES, now);
    const { id } = tx.insert(loginFailures).values({ accountRef, clientRef, at: now }).returning({ id: loginFailures.id }).get();
    return { id, accountRef, clientRef, at: now };
  });
}

function assertUnderLimit(failures: { at: number }[], limit: number, now: number): void {
  if (failures.length < limit) return;
  // The block lifts when enough failures have aged out to fall back under the limit.
  const unblocksAt = failures[failures.length - limit]!.at + LOGIN_WINDOW_MS;
  const retryAfter = Math.max(1, Math.ceil((unblocksAt - now) / 1000));
  throw new TooManyRequestsError('TOO_MANY_ATTEMPTS', 'too many failed logins; try again later', retryAfter);
}

/**
 * Keeps a reserved attempt as a failure (inside the caller's transaction). A concurrent success
 * on the same account may have cleared it meanwhile: it is written back, so a wrong password
 * always counts.
 */
export function confirmFailedAttempt(tx: Db, attempt: LoginAttempt): void {
  tx.insert(loginFailures).values(attempt).onConflictDoNothing().run();
}

/** After a success: the account's failures (its own reservation included) are forgotten. */
export function clearAccountFailures(tx: Db, accountRef: string): void {
  tx.delete(loginFailures).where(eq(loginFailures.accountRef, accountRef)).run();
}
