/**
 * How the REST connector authenticates: a static bearer token, HTTP Basic, or OAuth 2.0 client
 * credentials (RFC 6749 §4.4).
 *
 * OAuth tokens are cached in this object (one per connector, one per instance: another instance
 * fetches its own, nothing to share) until shortly before `expires_in`; concurrent calls share
 * one token request. After a 401 the caller drops the token it used (`invalidate`) and tries
 * once more with a fresh one. Tokens and secrets never reach a log or an error message.
 */
import type { OutboundClient } from '../net/client.js';
import { OutboundError } from '../net/client.js';
import type { HttpAuth } from './config.js';
import { silo, transportError } from './errors.js';

/** Renew a token this long before it expires, so a call never leaves with a token about to die. */
const EXPIRY_MARGIN_MS = 30_000;
/** Lifetime assumed when the token endpoint gives none: until the API answers 401. */
const DEFAULT_LIFETIME_MS = 3_600_000;

export interface Authenticator {
  /** The headers proving who we are. */
  headers(signal: AbortSignal): Promise<Record<string, string>>;
  /** After a 401 with `used` headers: true when trying again with new credentials can help. */
  invalidate(used: Record<string, string>): boolean;
}

export function createAuthenticator(auth: HttpAuth | undefined, client: OutboundClient, connectorId: string, now: () => number = Date.now): Authenticator {
  if (!auth) return { headers: async () => ({}), invalidate: () => false };
  if (auth.type === 'bearer') {
    const h = { authorization: `Bearer ${auth.token}` };
    return { headers: async () => h, invalidate: () => false };
  }
  if (auth.type === 'basic') {
    const h = { authorization: `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}` };
    return { headers: async () => h, invalidate: () => false };
  }

  const a = auth;
  let token: { value: string; expiresAt: number } | null = null;
  let pending: Promise<string> | null = null;

  async function fetchToken(): Promise<string> {
    const form = new URLSearchParams({ grant_type: 'client_credentials' });
    if (a.scope) form.set('scope', a.scope);
    if (a.audience) form.set('audience', a.audience);
    const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' };
    if (a.clientAuth === 'basic') {
      // RFC 6749 §2.3.1: client id and secret form-urlencoded, then Basic.
      headers.authorization = `Basic ${Buffer.from(`${encodeURIComponent(a.clientId)}:${encodeURIComponent(a.clientSecret)}`).toString('base64')}`;
    } else {
      form.set('client_id', a.clientId);
      form.set('client_secret', a.clientSecret);
    }
    let res;
    try {
      res = await client.request({ url: a.tokenUrl, method: 'POST', headers, body: form.toString() });
    } catch (err) {
      if (!(err instanceof OutboundError)) throw err;
      throw transportError(connectorId, err, 'the token endpoint');
    }
    if (res.status === 429 || res.status >= 500) throw silo(connectorId, 'SILO_UNAVAILABLE', `the token endpoint answered ${res.status}`, true);
    if (res.status < 200 || res.status > 299) throw silo(connectorId, 'SILO_AUTH', `the token endpoint refused the client credentials (${res.status})`, false);
    let body: { access_token?: unknown; token_type?: unknown; expires_in?: unknown };
    try {
      body = JSON.parse(res.body.toString('utf8')) as typeof body;
    } catch {
      throw silo(connectorId, 'SILO_AUTH', 'the token endpoint did not answer JSON', false);
    }
    if (typeof body?.access_token !== 'string' || body.access_token.length === 0) throw silo(connectorId, 'SILO_AUTH', 'the token endpoint gave no access_token', false);
    if (body.token_type !== undefined && String(body.token_type).toLowerCase() !== 'bearer') {
      throw silo(connectorId, 'SILO_AUTH', 'the token endpoint gave a token type other than bearer', false);
    }
    const lifetime = typeof body.expires_in === 'number' && body.expires_in > 0 ? body.expires_in * 1000 : DEFAULT_LIFETIME_MS;
    token = { value: body.access_token, expiresAt: now() + Math.max(lifetime - EXPIRY_MARGIN_MS, lifetime / 2) };
    return token.value;
  }

  return {
    async headers(signal) {
      if (token && now() < token.expiresAt) return { authorization: `Bearer ${token.value}` };
      // One token request at a time, bounded by the client's own time limit; every caller
      // shares its outcome, and each stops waiting when its own signal aborts.
      pending ??= fetchToken().finally(() => (pending = null));
      return { authorization: `Bearer ${await untilAborted(pending, signal)}` };
    },
    invalidate(used) {
      if (token && used.authorization === `Bearer ${token.value}`) token = null;
      return true;
    },
  };
}

/** `p`, or the signal's reason as soon as it aborts. */
function untilAborted<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}
