/**
 * The privacy portal's person sessions: opened by a verified sign-in code (./codes.ts), scoped
 * to one person — the subject the email found, or none yet (then the email, sealed, until the
 * first consent creates the person) — and ended by sign-out, 12 hours, or 30 idle minutes.
 *
 * Invariants:
 * - the cookie token is 32 random bytes; only its SHA-256 is stored (a copy of the database
 *   holds no live session), and the email only sealed under the master key;
 * - every POST carries a CSRF token derived (HMAC) from the cookie it is checked against: the
 *   session token once signed in, an anonymous per-browser token before (./csrf below) — a
 *   forged form from another site cannot know it.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Ctx, Deps } from '../deps.js';
import type { Stores } from '../db/handle.js';
import { seal, unseal } from '../secrets/seal.js';

export const PORTAL_SESSION_COOKIE = 'oubli_privacy';
/** The anonymous browser token the sign-in forms' CSRF tokens are derived from. */
export const PORTAL_BROWSER_COOKIE = 'oubli_privacy_browser';
export const SESSION_IDLE_MS = 30 * 60_000;
export const SESSION_MAX_MS = 12 * 3600_000;
/** lastSeenAt moves at most this often (a write per page would be a write per click). */
const TOUCH_EVERY_MS = 60_000;

export const sha256 = (token: string) => createHash('sha256').update(token).digest('hex');
export const newToken = () => randomBytes(32).toString('base64url');
export const isToken = (v: unknown): v is string => typeof v === 'string' && /^[A-Za-z0-9_-]{43}$/.test(v);

const emailContext = (id: string) => `oubli/portal-session-email/v1\0${id}`;

export interface PortalSessionView {
  id: string;
  token: string;
  emailRef: string;
  email: string;
  subjectId: string | null;
}

/** Opens a session in the caller's transaction; answers the cookie token. */
export async function openPortalSession(ctx: Pick<Deps, 'now' | 'secrets'>, t: Stores, input: { email: string; emailRef: string; subjectId: string | null }): Promise<string> {
  const token = newToken();
  const id = sha256(token);
  const now = ctx.now();
  await t.portal.pruneSessions(now, now - SESSION_IDLE_MS);
  await t.portal.insertSession({
    id,
    emailRef: input.emailRef,
    email: seal(ctx.secrets.masterKey, emailContext(id), Buffer.from(input.email)),
    subjectId: input.subjectId,
    createdAt: now,
    lastSeenAt: now,
    expiresAt: now + SESSION_MAX_MS,
  });
  return token;
}

/** The live session of a cookie token (and keeps it alive), or undefined. */
export async function findPortalSession(ctx: Pick<Deps, 'db' | 'now' | 'secrets'>, token: string | undefined): Promise<PortalSessionView | undefined> {
  if (!isToken(token)) return undefined;
  const id = sha256(token);
  const now = ctx.now();
  const row = await ctx.db.portal.session(id, now, now - SESSION_IDLE_MS);
  if (!row) return undefined;
  const email = unseal(ctx.secrets.masterKey, emailContext(id), row.email);
  if (!email) return undefined;
  if (now - row.lastSeenAt >= TOUCH_EVERY_MS) await ctx.db.tx((t) => t.portal.touchSession(id, now));
  return { id, token, emailRef: row.emailRef, email: email.toString(), subjectId: row.subjectId };
}

export async function endPortalSession(ctx: Ctx, session: PortalSessionView): Promise<void> {
  await ctx.db.tx(async (t) => {
    if (await t.portal.deleteSession(session.id)) {
      await ctx.audit.append(t, { type: 'portal.signed_out', actor: ctx.actor, data: {} });
    }
  });
}

/** The CSRF token of the forms shown with this cookie (a session token or a browser token). */
export function csrfToken(ctx: Pick<Deps, 'secrets'>, basis: string): string {
  return createHmac('sha256', ctx.secrets.pseudonymKey).update(`oubli/portal-csrf/v1\0${basis}`).digest('base64url');
}

export function csrfMatches(ctx: Pick<Deps, 'secrets'>, basis: string | undefined, given: unknown): boolean {
  if (!basis || typeof given !== 'string' || given.length > 100) return false;
  const want = Buffer.from(csrfToken(ctx, basis));
  const got = Buffer.from(given);
  return got.length === want.length && timingSafeEqual(got, want);
}
