/**
 * Sign-in by e-mailed code: a person types an email, gets a 6-digit code, types it back, and
 * gets a portal session (./sessions.ts).
 *
 * Invariants:
 * - the answer never depends on whether the email is known: a code is mailed to ANY valid
 *   address, the same page follows, and the people's tables are only read once the code is right;
 * - a code is stored as an HMAC (key: Deps.secrets.pseudonymKey, with the challenge id), the
 *   email sealed; compared in constant time; valid CODE_TTL_MS; MAX_CODE_ATTEMPTS guesses, each
 *   counted by ONE guarded update before the comparison (concurrent guesses cannot exceed it);
 * - code requests and resends count against the email and the client address, and every guess
 *   against the address, in the shared login-throttling counters (src/auth/throttle.ts: a
 *   sliding 15-minute window in the database, across instances) under their own pseudonym
 *   kinds (`pemail`, `pclient`, `pcode`), so the portal never eats into the staff's limits;
 * - a resend waits RESEND_AFTER_MS after the previous mail of the same challenge;
 * - no email, code or address in clear in the database, the audit log or the logs.
 */
import { createHmac, randomInt, timingSafeEqual } from 'node:crypto';
import type { Ctx } from '../deps.js';
import { ForbiddenError, GoneError, TooManyRequestsError, UnauthenticatedError, ValidationError } from '../errors.js';
import { normalizeIdentity } from '../identity.js';
import { pseudonym } from '../auth/pseudonym.js';
import { clearAccountFailures, reserveLoginAttempt, throttledAddress, throttleLocks } from '../auth/throttle.js';
import { seal, unseal } from '../secrets/seal.js';
import { findSubjectIdByIdentity, subjectRefOf } from '../subjects/service.js';
import { assertPlainAddress, MailError } from '../mail/mailer.js';
import { codeMail } from '../mail/code-mail.js';
import type { Lang } from '../web/i18n.js';
import { isToken, newToken, openPortalSession, sha256 } from './sessions.js';

export const CODE_TTL_MS = 15 * 60_000;
export const MAX_CODE_ATTEMPTS = 5;
export const RESEND_AFTER_MS = 60_000;

const emailContext = (id: string) => `oubli/portal-code-email/v1\0${id}`;

function codeMac(ctx: Pick<Ctx, 'secrets'>, id: string, code: string): string {
  return createHmac('sha256', ctx.secrets.pseudonymKey).update(`oubli/portal-code/v1\0${id}\0${code}`).digest('base64url');
}

const newCode = () => String(randomInt(0, 1_000_000)).padStart(6, '0');

/** The email as an identity, or ValidationError INVALID_EMAIL (nothing with a control character gets further). */
export function normalizePortalEmail(raw: unknown): string {
  if (typeof raw !== 'string' || raw.length > 320 || /[\p{Cc}]/u.test(raw)) throw new ValidationError('INVALID_EMAIL', 'not a valid email address');
  try {
    const email = normalizeIdentity({ type: 'email', value: raw }).value;
    assertPlainAddress(email);
    return email;
  } catch {
    throw new ValidationError('INVALID_EMAIL', 'not a valid email address');
  }
}

const refs = (ctx: Ctx, email: string, client: string) => ({
  emailRef: pseudonym(ctx.secrets.pseudonymKey, 'pemail', email),
  clientRef: pseudonym(ctx.secrets.pseudonymKey, 'pclient', throttledAddress(client)),
});

async function mailCode(ctx: Ctx, to: string, code: string, lang: Lang): Promise<void> {
  try {
    await ctx.mailer.send({ to, lang, ...codeMail(ctx.config.portal, lang, code) });
  } catch (err) {
    ctx.logger.warn({ reason: err instanceof MailError ? err.reason : 'unexpected', requestId: undefined }, 'portal sign-in code not sent');
    throw new MailError(err instanceof MailError ? err.reason : 'unexpected');
  }
}

/**
 * Mails a code to `email` and answers the challenge token (for the person's cookie). Throws
 * ValidationError INVALID_EMAIL, TooManyRequestsError TOO_MANY_ATTEMPTS, or MailError.
 */
export async function requestCode(ctx: Ctx, input: { email: unknown; client: string; lang: Lang }): Promise<string> {
  const email = normalizePortalEmail(input.email);
  const { emailRef, clientRef } = refs(ctx, email, input.client);
  await reserveLoginAttempt(ctx, emailRef, clientRef);
  const token = newToken();
  const id = sha256(token);
  const code = newCode();
  const now = ctx.now();
  await ctx.db.tx(async (t) => {
    await t.portal.pruneCodes(now);
    await t.portal.insertCode({
      id,
      emailRef,
      email: seal(ctx.secrets.masterKey, emailContext(id), Buffer.from(email)),
      codeMac: codeMac(ctx, id, code),
      attempts: 0,
      sentAt: now,
      expiresAt: now + CODE_TTL_MS,
    });
  });
  try {
    await mailCode(ctx, email, code, input.lang);
  } catch (err) {
    await ctx.db.tx((t) => t.portal.deleteCode(id));
    throw err;
  }
  return token;
}

/** Mails a new code for the same challenge (the old one stops working). */
export async function resendCode(ctx: Ctx, input: { token: unknown; client: string; lang: Lang }): Promise<void> {
  if (!isToken(input.token)) throw new GoneError('CODE_EXPIRED', 'no such code');
  const id = sha256(input.token);
  const now = ctx.now();
  const row = await ctx.db.portal.code(id);
  if (!row || row.expiresAt <= now) throw new GoneError('CODE_EXPIRED', 'no such code');
  const wait = row.sentAt + RESEND_AFTER_MS - now;
  if (wait > 0) throw new TooManyRequestsError('RESEND_TOO_SOON', 'a code was sent a moment ago', Math.ceil(wait / 1000));
  const email = unseal(ctx.secrets.masterKey, emailContext(id), row.email)?.toString();
  if (!email) throw new GoneError('CODE_EXPIRED', 'no such code');
  const { clientRef } = refs(ctx, email, input.client);
  await reserveLoginAttempt(ctx, row.emailRef, clientRef);
  const code = newCode();
  if (!(await ctx.db.tx((t) => t.portal.replaceCode(id, { codeMac: codeMac(ctx, id, code), sentAt: now, expiresAt: now + CODE_TTL_MS })))) {
    throw new GoneError('CODE_EXPIRED', 'no such code');
  }
  await mailCode(ctx, email, code, input.lang);
}

/** `123 456`, `123-456` → `123456`; anything else than 6 digits: ValidationError CODE_FORMAT. */
export function normalizeCode(raw: unknown): string {
  const code = typeof raw === 'string' && raw.length <= 40 ? raw.replace(/[\s-]/g, '') : '';
  if (!/^\d{6}$/.test(code)) throw new ValidationError('CODE_FORMAT', 'a code has 6 digits');
  return code;
}

/**
 * Checks a code; on success the code is spent and a session opened (its cookie token answered).
 * Throws ValidationError CODE_FORMAT (not counted), UnauthenticatedError CODE_WRONG (details:
 * attempts left), ForbiddenError CODE_LOCKED, GoneError CODE_EXPIRED, or TOO_MANY_ATTEMPTS.
 */
export async function verifyCode(ctx: Ctx, input: { token: unknown; code: unknown; client: string }): Promise<{ sessionToken: string }> {
  const code = normalizeCode(input.code);
  if (!isToken(input.token)) throw new GoneError('CODE_EXPIRED', 'no such code');
  const id = sha256(input.token);
  const clientRef = pseudonym(ctx.secrets.pseudonymKey, 'pclient', throttledAddress(input.client));
  const guessRef = pseudonym(ctx.secrets.pseudonymKey, 'pcode', id);
  // A spent code answers as such without a guess being counted (none is checked).
  const before = await ctx.db.portal.code(id);
  if (before && before.expiresAt > ctx.now() && before.attempts >= MAX_CODE_ATTEMPTS) throw new ForbiddenError('CODE_LOCKED', 'too many wrong codes');
  // Every guess counts against the address (guessing across many emails from one place).
  const attempt = await reserveLoginAttempt(ctx, guessRef, clientRef);
  const now = ctx.now();
  const row = await ctx.db.tx((t) => t.portal.takeAttempt(id, now, MAX_CODE_ATTEMPTS));
  if (!row) {
    const stale = await ctx.db.portal.code(id);
    if (stale && stale.expiresAt > now) throw new ForbiddenError('CODE_LOCKED', 'too many wrong codes');
    throw new GoneError('CODE_EXPIRED', 'no such code');
  }
  const want = Buffer.from(row.codeMac);
  const got = Buffer.from(codeMac(ctx, id, code));
  if (got.length !== want.length || !timingSafeEqual(got, want)) {
    const left = MAX_CODE_ATTEMPTS - row.attempts;
    if (left <= 0) throw new ForbiddenError('CODE_LOCKED', 'too many wrong codes');
    throw new UnauthenticatedError('CODE_WRONG', 'wrong code', { attemptsLeft: left });
  }
  const email = unseal(ctx.secrets.masterKey, emailContext(id), row.email)?.toString();
  if (!email) throw new GoneError('CODE_EXPIRED', 'no such code');
  return ctx.db.tx(
    async (t) => {
      // Spent once: a second request with the same right code (a replay, a double submit) loses.
      if (!(await t.portal.deleteCode(id))) throw new GoneError('CODE_EXPIRED', 'no such code');
      await clearAccountFailures(t, attempt.accountRef);
      const subjectId = (await findSubjectIdByIdentity(t, { type: 'email', value: email })) ?? null;
      const sessionToken = await openPortalSession(ctx, t, { email, emailRef: row.emailRef, subjectId });
      await ctx.audit.append(t, {
        type: 'portal.signed_in',
        actor: { type: 'subject', id: subjectId ? await subjectRefOf(ctx, t, subjectId) : row.emailRef },
        data: { client: clientRef, knownPerson: subjectId !== null },
      });
      return { sessionToken };
    },
    { locks: throttleLocks(attempt.accountRef) },
  );
}
