/**
 * Authentication (who) and authorisation (may they) for every protected route.
 * API keys come as `Authorization: Bearer oubli_sk_…`; staff as the session cookie.
 */
import type { Context, MiddlewareHandler } from 'hono';
import { getCookie } from 'hono/cookie';
import { getConnInfo } from '@hono/node-server/conninfo';
import type { Scope } from '../db/schema/api-keys.js';
import { findApiKey } from '../auth/api-keys.js';
import { SESSION_COOKIE, findSession } from '../auth/sessions.js';
import { ROLE_SCOPES } from '../auth/scopes.js';
import { ForbiddenError, TooManyRequestsError, UnauthenticatedError } from '../errors.js';
import type { Actor } from '../audit/log.js';
import type { Deps } from '../deps.js';
import type { AppEnv, Principal } from './env.js';
import { clientAddressOf, fromTrustedProxy } from './client-address.js';
import { takeApiRequest } from './rate-limit.js';

/** Resolves the caller, if any, into `c.var.principal`; never rejects by itself. */
export function authenticate(deps: Deps): MiddlewareHandler<AppEnv> {
  // Behind a TLS proxy the request URL is the internal http:// one: browsers send the public origin.
  const publicOrigin = deps.config.publicUrl ? new URL(deps.config.publicUrl).origin : undefined;
  const limited = deps.config.apiRateLimit > 0;
  return async (c, next) => {
    let principal: Principal | null = null;
    const header = c.req.header('authorization');
    if (header !== undefined) {
      const match = /^Bearer\s+(\S+)$/i.exec(header);
      const key = match ? await findApiKey(deps, match[1]!) : undefined;
      // A presented but bad key is an error even where the route would allow a session.
      if (!key) throw new UnauthenticatedError('INVALID_API_KEY', 'the API key is missing, malformed, unknown or revoked');
      if (limited) {
        const retryAfter = await takeApiRequest(deps, key.id);
        if (retryAfter !== undefined) throw new TooManyRequestsError('RATE_LIMITED', 'API rate limit reached for this key', retryAfter);
      }
      principal = { kind: 'api_key', id: key.id, scopes: key.scopes };
    } else {
      const token = getCookie(c, SESSION_COOKIE);
      const session = token ? await findSession(deps.db, token, deps.now()) : undefined;
      if (session) {
        // Cookie-authenticated writes must be JSON (forces a CORS preflight cross-site) and,
        // when the browser says where they come from, same-origin: this is our CSRF guard.
        if (!['GET', 'HEAD', 'OPTIONS'].includes(c.req.method)) assertSameOrigin(c, publicOrigin ?? new URL(c.req.url).origin);
        principal = {
          kind: 'user',
          id: session.userId,
          role: session.role,
          scopes: ROLE_SCOPES[session.role],
          sessionId: session.sessionId,
        };
      }
    }
    c.set('principal', principal);
    await next();
  };
}

/** `ownOrigin`: OUBLI_PUBLIC_URL's origin when set, else the request URL's. */
export function assertSameOrigin(c: Context<AppEnv>, ownOrigin: string): void {
  const site = c.req.header('sec-fetch-site');
  if (site && site !== 'same-origin' && site !== 'none') throw new ForbiddenError('CSRF_REJECTED', 'cross-site request refused');
  const origin = c.req.header('origin');
  if (origin && origin !== ownOrigin) throw new ForbiddenError('CSRF_REJECTED', 'cross-origin request refused');
}

/** 401 without credentials, 403 without the scope. */
export function requireScope(scope: Scope): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const p = c.get('principal');
    if (!p) throw new UnauthenticatedError('UNAUTHENTICATED', 'an API key (Authorization: Bearer) or a staff session is required');
    if (!p.scopes.includes(scope)) throw new ForbiddenError('INSUFFICIENT_SCOPE', `this call needs the ${scope} scope`);
    await next();
  };
}

export function actorOf(c: Context<AppEnv>): Actor {
  const p = c.get('principal');
  if (!p) return { type: 'system', id: 'anonymous' };
  return { type: p.kind === 'api_key' ? 'api_key' : 'user', id: p.id };
}

function socketAddress(c: Context<AppEnv>): string {
  try {
    return getConnInfo(c).remote.address ?? 'unknown';
  } catch {
    return 'unknown'; // app.request() in tests has no socket
  }
}

/** The client's address: the socket's, or the right-most untrusted X-Forwarded-For hop (OUBLI_TRUST_PROXY). */
export function clientAddress(c: Context<AppEnv>): string {
  return clientAddressOf(c.get('deps').config.trustProxy, socketAddress(c), c.req.header('x-forwarded-for'));
}

/** True when the original request reached us over HTTPS (directly or via a trusted proxy). */
export function isHttps(c: Context<AppEnv>): boolean {
  const { config } = c.get('deps');
  if (config.publicUrl?.startsWith('https:')) return true;
  if (c.req.header('x-forwarded-proto') === 'https' && fromTrustedProxy(config.trustProxy, socketAddress(c))) return true;
  return new URL(c.req.url).protocol === 'https:';
}
