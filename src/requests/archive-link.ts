/**
 * Short-lived signed links to one request's archive: `/privacy/archive/<JWT>`, the JWT (HS256,
 * jose) naming the request, signed with a key derived from the master key (the database holds
 * neither). A link opens one archive — one request, so one person — until it expires: 10 minutes
 * from the portal's status page (the person is signed in, the browser follows it at once), a
 * day from the completion e-mail. An expired link leads the person to sign in for a fresh one.
 *
 * A link is a bearer credential, as the mailbox it was sent to: it is never logged (the
 * portal's archive route is not logged with its path), and each download is audited, with the
 * link's id, not the person's address.
 */
import { hkdfSync, randomBytes } from 'node:crypto';
import { SignJWT, jwtVerify } from 'jose';
import type { Ctx } from '../deps.js';

export const PAGE_LINK_TTL_MS = 10 * 60_000;
export const MAIL_LINK_TTL_MS = 24 * 3_600_000;
const AUDIENCE = 'oubli/archive';
/** Longer than any link this module makes: anything longer is not read at all. */
export const MAX_LINK_TOKEN_LENGTH = 512;
const REQUEST_ID = /^req_[0-9a-z]{26}$/;

type KeyCtx = Pick<Ctx, 'secrets' | 'now'>;

function linkKey(masterKey: Buffer): Uint8Array {
  return new Uint8Array(hkdfSync('sha256', masterKey, Buffer.alloc(0), 'oubli/archive-link/v1', 32));
}

/** A link token to the archive of request `requestId`, valid `ttlMs`. */
export function archiveLinkToken(ctx: KeyCtx, requestId: string, ttlMs: number): Promise<string> {
  const now = Math.floor(ctx.now() / 1000);
  return new SignJWT({})
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(requestId)
    .setAudience(AUDIENCE)
    .setJti(randomBytes(9).toString('base64url'))
    .setIssuedAt(now)
    .setExpirationTime(now + Math.ceil(ttlMs / 1000))
    .sign(linkKey(ctx.secrets.masterKey));
}

export type LinkCheck = { ok: true; requestId: string; linkId: string } | { ok: false; expired: boolean };

/**
 * What a link token opens. Only HS256 under this deployment's key, for this audience, naming a
 * request id of oubli's own shape; `expired` tells a genuine link past its time (the person is
 * sent to sign in) from anything else (a tampered or made-up token: not found).
 */
export async function checkArchiveLink(ctx: KeyCtx, token: string): Promise<LinkCheck> {
  if (token.length > MAX_LINK_TOKEN_LENGTH) return { ok: false, expired: false };
  try {
    const { payload } = await jwtVerify(token, linkKey(ctx.secrets.masterKey), {
      algorithms: ['HS256'],
      audience: AUDIENCE,
      currentDate: new Date(ctx.now()),
      requiredClaims: ['sub', 'exp', 'jti'],
    });
    if (typeof payload.sub !== 'string' || !REQUEST_ID.test(payload.sub) || typeof payload.jti !== 'string') return { ok: false, expired: false };
    return { ok: true, requestId: payload.sub, linkId: payload.jti };
  } catch (err) {
    return { ok: false, expired: (err as { code?: string }).code === 'ERR_JWT_EXPIRED' };
  }
}
