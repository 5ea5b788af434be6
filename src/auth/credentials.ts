/**
 * Changes to a staff user's credentials and standing: a password change by the user, a password
 * set by an operator, disabling and enabling the account.
 *
 * Invariant: whatever changes who may act as the user (a new password, a disabled account) ends
 * every session of that user in the same transaction, with its audit entry (user id and counts
 * only, never the email or a password). A session opened with the old password, or stolen, does
 * not outlive the change.
 */
import type { Role } from '../db/schema/users.js';
import { ConflictError, NotFoundError, UnauthenticatedError, ValidationError } from '../errors.js';
import type { Ctx } from '../deps.js';
import { hashPassword, MIN_PASSWORD_LENGTH, verifyPassword } from './passwords.js';
import { pseudonym } from './pseudonym.js';
import { endUserSessions, openSession } from './sessions.js';
import { clearAccountFailures, confirmFailedAttempt, reserveLoginAttempt, throttledAddress, throttleLocks } from './throttle.js';
import { userLock } from './users.js';

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
  const user = await ctx.db.auth.user(input.userId);
  if (!user || user.disabledAt !== null) throw new UnauthenticatedError('UNAUTHENTICATED', 'no staff session');
  const accountRef = pseudonym(ctx.secrets.pseudonymKey, 'acct', user.email);
  const clientRef = pseudonym(ctx.secrets.pseudonymKey, 'client', throttledAddress(input.client));
  const attempt = await reserveLoginAttempt(ctx, accountRef, clientRef);
  if (!(await verifyPassword(user.passwordHash, input.currentPassword))) {
    await ctx.db.tx(
      async (t) => {
        await confirmFailedAttempt(t, attempt);
        await ctx.audit.append(t, { type: 'user.password_change_failed', actor: ctx.actor, data: { userId: user.id, client: clientRef } });
      },
      { locks: throttleLocks(accountRef) },
    );
    throw new UnauthenticatedError('INVALID_CREDENTIALS', 'the current password is wrong');
  }
  const passwordHash = await hashPassword(input.newPassword);
  return ctx.db.tx(
    async (t) => {
      // Guarded on the hash just verified: a concurrent change or disable wins, this one fails.
      if (!(await t.auth.replacePasswordHash(user.id, user.passwordHash, passwordHash))) {
        throw new ConflictError('PASSWORD_CHANGED_MEANWHILE', 'the account changed meanwhile; log in again');
      }
      await clearAccountFailures(t, accountRef);
      const sessionsEnded = await endUserSessions(t, user.id);
      const session = await openSession(ctx, t, user.id);
      await ctx.audit.append(t, { type: 'user.password_changed', actor: ctx.actor, data: { userId: user.id, sessionsEnded } });
      return { ...session, role: user.role };
    },
    { locks: [...throttleLocks(accountRef), userLock(user.id)] },
  );
}

/** An operator sets a user's password (CLI, the demo's fresh credentials); the user's sessions end. */
export async function setUserPassword(ctx: Ctx, userId: string, password: string): Promise<{ sessionsEnded: number }> {
  assertPasswordStrength(password);
  const passwordHash = await hashPassword(password);
  return ctx.db.tx(
    async (t) => {
      if (!(await t.auth.setPasswordHash(userId, passwordHash))) throw new NotFoundError('USER_NOT_FOUND', 'no such user');
      const sessionsEnded = await endUserSessions(t, userId);
      await ctx.audit.append(t, { type: 'user.password_set', actor: ctx.actor, data: { userId, sessionsEnded } });
      return { sessionsEnded };
    },
    { locks: [userLock(userId)] },
  );
}

/**
 * Disables the account: no login, and its sessions are deleted now (not merely refused).
 * Idempotent: disabling a disabled user changes and audits nothing.
 */
export async function disableUser(ctx: Ctx, userId: string): Promise<{ changed: boolean; sessionsEnded: number }> {
  return ctx.db.tx(
    async (t) => {
      if (!(await t.auth.user(userId))) throw new NotFoundError('USER_NOT_FOUND', 'no such user');
      const changed = await t.auth.disableUser(userId, ctx.now());
      const sessionsEnded = await endUserSessions(t, userId);
      if (changed) await ctx.audit.append(t, { type: 'user.disabled', actor: ctx.actor, data: { userId, sessionsEnded } });
      return { changed, sessionsEnded };
    },
    { locks: [userLock(userId)] },
  );
}

/** Lets a disabled user log in again (with their existing password). Idempotent. */
export async function enableUser(ctx: Ctx, userId: string): Promise<{ changed: boolean }> {
  return ctx.db.tx(
    async (t) => {
      if (!(await t.auth.user(userId))) throw new NotFoundError('USER_NOT_FOUND', 'no such user');
      const changed = await t.auth.enableUser(userId);
      if (changed) await ctx.audit.append(t, { type: 'user.enabled', actor: ctx.actor, data: { userId } });
      return { changed };
    },
    { locks: [userLock(userId)] },
  );
}
