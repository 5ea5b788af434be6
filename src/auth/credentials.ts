/**
 * Changes to a staff user's credentials and standing: a password change by the user, a password
 * set by an operator, disabling and enabling the account.
 *
 * Invariant: whatever changes who may act as the user (a new password, a disabled account) ends
 * every session of that user in the same transaction, with its audit entry (user id and counts
 * only, never the email or a password). A session opened with the old password, or stolen, does
 * not outlive the change.
 */
import { and, eq, isNotNull, isNull } from 'drizzle-orm';
import { writeTx } from '../db/client.js';
import { users, type Role } from '../db/schema/users.js';
import { ConflictError, NotFoundError, UnauthenticatedError, ValidationError } from '../errors.js';
import type { Ctx } from '../deps.js';
import { hashPassword, MIN_PASSWORD_LENGTH, verifyPassword } from './passwords.js';
import { pseudonym } from './pseudonym.js';
import { endUserSessions, openSession } from './sessions.js';
import { clearAccountFailures, confirmFailedAttempt, reserveLoginAttempt } from './throttle.js';

function assertPasswordStrength(password: string): void {
  if (password.length < MIN_PASSWORD_LENGTH) {
    throw new ValidationError('PASSWORD_TOO_SHORT', `password must have at least ${MIN_PASSWORD_LENGTH} characters`);
  }
}

/**
 * The user changes their own password, proving the current one. The check is throttled like a
 * login (same account counter): a stolen session cannot go on guessing. Every session of the
 * user ends, the caller's included; the caller gets a fresh one.
 */
export async function changeOwnPassword(
  ctx: Ctx,
  input: { userId: string; currentPassword: string; newPassword: string; client: string },
): Promise<{ token: string; expiresAt: number; role: Role }> {
  assertPasswordStrength(input.newPassword);
  if (input.newPassword === input.currentPassword) throw new ValidationError('PASSWORD_UNCHANGED', 'the new password is the current one');
  const user = ctx.db.select().from(users).where(eq(users.id, input.userId)).get();
  if (!user || user.disabledAt !== null) throw new UnauthenticatedError('UNAUTHENTICATED', 'no staff session');
  const accountRef = pseudonym(ctx.secrets.pseudonymKey, 'acct', user.email);
  const clientRef = pseudonym(ctx.secrets.pseudonymKey, 'client', input.client);
  const attempt = reserveLoginAttempt(ctx, accountRef, clientRef);
  if (!(await verifyPassword(user.passwordHash, input.currentPassword))) {
    writeTx(ctx.db, (tx) => {
      confirmFailedAttempt(tx, attempt);
      ctx.audit.append({ type: 'user.password_change_failed', actor: ctx.actor, data: { userId: user.id, client: clientRef } });
    });
    throw new UnauthenticatedError('INVALID_CREDENTIALS', 'the current password is wrong');
  }
  const passwordHash = await hashPassword(input.newPassword);
  return writeTx(ctx.db, (tx) => {
    // Guarded on the hash just verified: a concurrent change or disable wins, this one fails.
    const changed = tx
      .update(users)
      .set({ passwordHash })
      .where(and(eq(users.id, user.id), eq(users.passwordHash, user.passwordHash), isNull(users.disabledAt)))
      .returning({ id: users.id })
      .get();
    if (!changed) throw new ConflictError('PASSWORD_CHANGED_MEANWHILE', 'the account changed meanwhile; log in again');
    clearAccountFailures(tx, accountRef);
    const sessionsEnded = endUserSessions(tx, user.id);
    const session = openSession(ctx, tx, user.id);
    ctx.audit.append({ type: 'user.password_changed', actor: ctx.actor, data: { userId: user.id, sessionsEnded } });
    return { ...session, role: user.role };
  });
}

/** An operator sets a user's password (CLI, the demo's fresh credentials); the user's sessions end. */
export async function setUserPassword(ctx: Ctx, userId: string, password: string): Promise<{ sessionsEnded: number }> {
  assertPasswordStrength(password);
  const passwordHash = await hashPassword(password);
  return writeTx(ctx.db, (tx) => {
    const found = tx.update(users).set({ passwordHash }).where(eq(users.id, userId)).returning({ id: users.id }).get();
    if (!found) throw new NotFoundError('USER_NOT_FOUND', 'no such user');
    const sessionsEnded = endUserSessions(tx, userId);
    ctx.audit.append({ type: 'user.password_set', actor: ctx.actor, data: { userId, sessionsEnded } });
    return { sessionsEnded };
  });
}

/**
 * Disables the account: no login, and its sessions are deleted now (not merely refused).
 * Idempotent: disabling a disabled user changes and audits nothing.
 */
export function disableUser(ctx: Ctx, userId: string): { changed: boolean; sessionsEnded: number } {
  return writeTx(ctx.db, (tx) => {
    if (!tx.select({ id: users.id }).from(users).where(eq(users.id, userId)).get()) throw new NotFoundError('USER_NOT_FOUND', 'no such user');
    const changed = tx.update(users).set({ disabledAt: ctx.now() }).where(and(eq(users.id, userId), isNull(users.disabledAt))).run().changes === 1;
    const sessionsEnded = endUserSessions(tx, userId);
    if (changed) ctx.audit.append({ type: 'user.disabled', actor: ctx.actor, data: { userId, sessionsEnded } });
    return { changed, sessionsEnded };
  });
}

/** Lets a disabled user log in again (with their existing password). Idempotent. */
export function enableUser(ctx: Ctx, userId: string): { changed: boolean } {
  return writeTx(ctx.db, (tx) => {
    if (!tx.select({ id: users.id }).from(users).where(eq(users.id, userId)).get()) throw new NotFoundError('USER_NOT_FOUND', 'no such user');
    const changed = tx.update(users).set({ disabledAt: null }).where(and(eq(users.id, userId), isNotNull(users.disabledAt))).run().changes === 1;
    if (changed) ctx.audit.append({ type: 'user.enabled', actor: ctx.actor, data: { userId } });
    return { changed };
  });
}
