import { createHash, randomBytes } from 'node:crypto';
import { and, eq, gt, lte, or } from 'drizzle-orm';
import { writeTx, type Db } from '../db/client.js';
import { sessions } from '../db/schema/sessions.js';
import { users, type Role } from '../db/schema/users.js';
import { loginFailures } from '../db/schema/login-failures.js';
import { TooManyRequestsError, UnauthenticatedError } from '../errors.js';
import type { Ctx } from '../deps.js';
import { verifyPassword } from './passwords.js';
import { pseudonym } from './pseudonym.js';
import { normalizeStaffEmail } from './users.js';

export const SESSION_COOKIE = 'oubli_session';
export const LOGIN_WINDOW_MS = 15 * 60 * 1000;
export const MAX_LOGIN_FAILURES = 5;

const hashToken = (token: string) => createHash('sha256').update(token).digest('hex');

interface LoginInput {
  email: string;
  password: string;
  /** Client address; only its keyed hash is stored. */
  client: string;
}

/**
 * Checks credentials and opens a session. Throttled: after MAX_LOGIN_FAILURES failures for the
 * account or from the client within LOGIN_WINDOW_MS, further attempts get TOO_MANY_ATTEMPTS
 * until the oldest failure leaves the window — even with the right password.
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
  assertNotThrottled(ctx, accountRef, clientRef);

  const user = ctx.db.select().from(users).where(eq(users.email, email)).get();
  const ok = await verifyPassword(user?.passwordHash, input.password);
  const now = ctx.now();

  if (!ok || !user || user.disabledAt !== null) {
    writeTx(ctx.db, (tx) => {
      tx.delete(loginFailures).where(lte(loginFailures.at, now - LOGIN_WINDOW_MS)).run();
      tx.insert(loginFailures).values({ accountRef, clientRef, at: now }).run();
      ctx.audit.append({
        type: 'auth.login_failed',
        actor: { type: 'user', id: user?.id ?? accountRef },
        data: { reason: user ? 'bad_password' : 'unknown_account', client: clientRef },
      });
    });
    throw new UnauthenticatedError('INVALID_CREDENTIALS', 'email or password is wrong');
  }

  const token = randomBytes(32).toString('base64url');
  const expiresAt = now + ctx.config.sessionHours * 3600_000;
  writeTx(ctx.db, (tx) => {
    tx.insert(sessions).values({ id: hashToken(token), userId: user.id, createdAt: now, expiresAt }).run();
    tx.delete(loginFailures).where(eq(loginFailures.accountRef, accountRef)).run();
    ctx.audit.append({ type: 'auth.login_succeeded', actor: { type: 'user', id: user.id }, data: { client: clientRef } });
  });
  return { token, userId: user.id, role: user.role, expiresAt };
}

function assertNotThrottled(ctx: Ctx, accountRef: string, clientRef: string): void {
  // A failure counts for LOGIN_WINDOW_MS: at exactly `at + window` (what Retry-After promised) it is gone.
  const since = ctx.now() - LOGIN_WINDOW_MS;
  const failures = ctx.db
    .select({ accountRef: loginFailures.accountRef, clientRef: loginFailures.clientRef, at: loginFailures.at })
    .from(loginFailures)
    .where(and(gt(loginFailures.at, since), or(eq(loginFailures.accountRef, accountRef), eq(loginFailures.clientRef, clientRef))))
    .orderBy(loginFailures.at)
    .all();
  for (const key of ['accountRef', 'clientRef'] as const) {
    const mine = failures.filter((f) => f[key] === (key === 'accountRef' ? accountRef : clientRef));
    if (mine.length >= MAX_LOGIN_FAILURES) {
      // The block lifts when enough failures have aged out to fall back under the limit.
      const unblocksAt = mine[mine.length - MAX_LOGIN_FAILURES]!.at + LOGIN_WINDOW_MS;
      const retryAfter = Math.max(1, Math.ceil((unblocksAt - ctx.now()) / 1000));
      throw new TooManyRequestsError('TOO_MANY_ATTEMPTS', 'too many failed logins; try again later', retryAfter);
    }
  }
}

export function logout(ctx: Ctx, sessionId: string): void {
  writeTx(ctx.db, (tx) => {
    const gone = tx.delete(sessions).where(eq(sessions.id, sessionId)).returning({ id: sessions.id }).get();
    if (gone) ctx.audit.append({ type: 'auth.logout', actor: ctx.actor, data: {} });
  });
}

/** Resolves a session cookie to its user (prepared statement: runs on every dashboard request). */
export function sessionLookup(db: Db, now: () => number) {
  const stmt = db.$client.prepare(
    `select s.id as sessionId, u.id as userId, u.role as role from sessions s join users u on u.id = s.user_id
     where s.id = ? and s.expires_at > ? and u.disabled_at is null`,
  );
  return (token: string): { sessionId: string; userId: string; role: Role } | undefined => {
    if (token.length > 128) return undefined;
    return stmt.get(hashToken(token), now()) as { sessionId: string; userId: string; role: Role } | undefined;
  };
}
