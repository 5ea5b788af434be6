import { createHash, randomBytes } from 'node:crypto';
import { eq } from 'drizzle-orm';
import { writeTx, type Db } from '../db/client.js';
import { sessions } from '../db/schema/sessions.js';
import { users, type Role } from '../db/schema/users.js';
import { UnauthenticatedError } from '../errors.js';
import type { Ctx } from '../deps.js';
import type { Database } from '../db/database.js';
import { verifyPassword } from './passwords.js';
import { pseudonym } from './pseudonym.js';
import { clearAccountFailures, confirmFailedAttempt, reserveLoginAttempt } from './throttle.js';
import { normalizeStaffEmail } from './users.js';

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
  const clientRef = pseudonym(ctx.secrets.pseudonymKey, 'client', input.client);
  const attempt = reserveLoginAttempt(ctx, accountRef, clientRef);

  const user = ctx.db.select().from(users).where(eq(users.email, email)).get();
  const ok = await verifyPassword(user?.passwordHash, input.password);

  if (!ok || !user || user.disabledAt !== null) {
    writeTx(ctx.db, (tx) => {
      confirmFailedAttempt(tx, attempt);
      ctx.audit.append({
        type: 'auth.login_failed',
        actor: { type: 'user', id: user?.id ?? accountRef },
        data: { reason: user ? 'bad_password' : 'unknown_account', client: clientRef },
      });
    });
    throw new UnauthenticatedError('INVALID_CREDENTIALS', 'email or password is wrong');
  }

  return writeTx(ctx.db, (tx) => {
    clearAccountFailures(tx, accountRef);
    // Re-read inside the transaction: a disable or password change that committed during the
    // verification must not be followed by a session it would have ended.
    const current = tx.select({ passwordHash: users.passwordHash, disabledAt: users.disabledAt }).from(users).where(eq(users.id, user.id)).get();
    if (!current || current.disabledAt !== null || current.passwordHash !== user.passwordHash) {
      throw new UnauthenticatedError('INVALID_CREDENTIALS', 'email or password is wrong');
    }
    const session = openSession(ctx, tx, user.id);
    ctx.audit.append({ type: 'auth.login_succeeded', actor: { type: 'user', id: user.id }, data: { client: clientRef } });
    return { ...session, userId: user.id, role: user.role };
  });
}

/** Writes a new session for the user (inside the caller's transaction); returns its token. */
export function openSession(ctx: Ctx, tx: Db, userId: string): { token: string; expiresAt: number } {
  const token = randomBytes(32).toString('base64url');
  const now = ctx.now();
  const expiresAt = now + ctx.config.sessionHours * 3600_000;
  tx.insert(sessions).values({ id: hashToken(token), userId, createdAt: now, expiresAt }).run();
  return { token, expiresAt };
}

/** Deletes every session of the user (inside the caller's transaction); returns how many ended. */
export function endUserSessions(tx: Db, userId: string): number {
  return tx.delete(sessions).where(eq(sessions.userId, userId)).run().changes;
}

export function logout(ctx: Ctx, sessionId: string): void {
  writeTx(ctx.db, (tx) => {
    const gone = tx.delete(sessions).where(eq(sessions.id, sessionId)).returning({ id: sessions.id }).get();
    if (gone) ctx.audit.append({ type: 'auth.logout', actor: ctx.actor, data: {} });
  });
}

/** Resolves a session cookie to its user (runs on every dashboard request). */
export async function findSession(db: Database, token: string, now: number): Promise<{ sessionId: string; userId: string; role: Role } | undefined> {
  if (token.length > 128) return undefined;
  return db.auth.session(hashToken(token), now);
}
