import { createHash, randomBytes } from 'node:crypto';
import type { Role } from '../db/schema/users.js';
import { UnauthenticatedError } from '../errors.js';
import type { Ctx } from '../deps.js';
import type { Database } from '../db/database.js';
import type { Stores } from '../db/handle.js';
import { verifyPassword } from './passwords.js';
import { pseudonym } from './pseudonym.js';
import { clearAccountFailures, confirmFailedAttempt, reserveLoginAttempt, throttledAddress, throttleLocks } from './throttle.js';
import { normalizeStaffEmail, userLock } from './users.js';

export { LOGIN_WINDOW_MS, MAX_ADDRESS_FAILURES, MAX_LOGIN_FAILURES } from './throttle.js';
export const SESSION_COOKIE = 'oubli_session';

const hashToken = (token: string) => createHash('sha256').update(token).digest('hex');

interface LoginInput {
  email: string;
  password: string;
  /** Client address; only its keyed hash is stored. */
  client: string;
}

/**
 * Checks credentials and opens a session. Throttled (src/auth/throttle.ts): the attempt is
 * reserved before the password is verified; past the limits for the account or the client
 * address, attempts get TOO_MANY_ATTEMPTS until failures leave the window — even with the right
 * password, and without the password being checked.
 */
export async function login(ctx: Ctx, input: LoginInput): Promise<{ token: string; userId: string; role: Role; expiresAt: number }> {
  let email: string;
  try {
    email = normalizeStaffEmail(input.email);
  } catch {
    email = input.email.trim().toLowerCase();
  }
  const accountRef = pseudonym(ctx.secrets.pseudonymKey, 'acct', email);
  const clientRef = pseudonym(ctx.secrets.pseudonymKey, 'client', throttledAddress(input.client));
  const attempt = await reserveLoginAttempt(ctx, accountRef, clientRef);

  const user = await ctx.db.auth.userByEmail(email);
  const ok = await verifyPassword(user?.passwordHash, input.password);

  if (!ok || !user || user.disabledAt !== null) {
    await ctx.db.tx(
      async (t) => {
        await confirmFailedAttempt(t, attempt);
        await ctx.audit.append(t, {
          type: 'auth.login_failed',
          actor: { type: 'user', id: user?.id ?? accountRef },
          data: { reason: user ? 'bad_password' : 'unknown_account', client: clientRef },
        });
      },
      { locks: throttleLocks(accountRef) },
    );
    throw new UnauthenticatedError('INVALID_CREDENTIALS', 'email or password is wrong');
  }

  return ctx.db.tx(
    async (t) => {
      await clearAccountFailures(t, accountRef);
      // Re-read inside the transaction: a disable or password change that committed during the
      // verification must not be followed by a session it would have ended.
      const current = await t.auth.user(user.id);
      if (!current || current.disabledAt !== null || current.passwordHash !== user.passwordHash) {
        throw new UnauthenticatedError('INVALID_CREDENTIALS', 'email or password is wrong');
      }
      const session = await openSession(ctx, t, user.id);
      await ctx.audit.append(t, { type: 'auth.login_succeeded', actor: { type: 'user', id: user.id }, data: { client: clientRef } });
      return { ...session, userId: user.id, role: user.role };
    },
    // The user's row is locked too: a concurrent password change or disable commits before or
    // after this transaction, never between its re-read and its session.
    { locks: [...throttleLocks(accountRef), userLock(user.id)] },
  );
}

/** Writes a new session for the user (inside the caller's transaction); returns its token. */
export async function openSession(ctx: Ctx, t: Stores, userId: string): Promise<{ token: string; expiresAt: number }> {
  const token = randomBytes(32).toString('base64url');
  const now = ctx.now();
  const expiresAt = now + ctx.config.sessionHours * 3600_000;
  await t.auth.insertSession({ id: hashToken(token), userId, createdAt: now, expiresAt });
  return { token, expiresAt };
}

/** Deletes every session of the user (inside the caller's transaction); returns how many ended. */
export function endUserSessions(t: Stores, userId: string): Promise<number> {
  return t.auth.deleteUserSessions(userId);
}

export async function logout(ctx: Ctx, sessionId: string): Promise<void> {
  await ctx.db.tx(async (t) => {
    if (await t.auth.deleteSession(sessionId)) await ctx.audit.append(t, { type: 'auth.logout', actor: ctx.actor, data: {} });
  });
}

/** Resolves a session cookie to its user (runs on every dashboard request). */
export async function findSession(db: Database, token: string, now: number): Promise<{ sessionId: string; userId: string; role: Role } | undefined> {
  if (token.length > 128) return undefined;
  return db.auth.session(hashToken(token), now);
}
