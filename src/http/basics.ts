/**
 * The middleware every request goes through, in one function: request id, security headers,
 * `deps` in the context, and the body size cap.
 *
 * Why not hono's requestId() + secureHeaders() + bodyLimit(): on @hono/node-server each of them
 * touches `c.req.raw` / `c.res.headers`, which turns the adapter's lightweight request and
 * response objects into full WHATWG ones on every request — together they cut /healthz
 * throughput to about a quarter of a bare Hono app. Here static headers are prepared once and,
 * on Node, set straight on the outgoing response (Node merges them into writeHead); under
 * `app.request()` (tests, no socket) they go through `c.header()` as usual. The body cap only
 * runs for methods that carry a body.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { randomFillSync } from 'node:crypto';
import type { Deps } from '../deps.js';
import { PayloadTooLargeError } from '../errors.js';
import { encodeTime } from '../ids.js';
import type { AppEnv } from './env.js';

const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "frame-ancestors 'none'",
  "form-action 'self'",
].join('; ');

/**
 * Headers for JSON API answers (/v1, health, OpenAPI, JWKS) — the OWASP REST Security set: no
 * content may run or be framed, no sniffing, no referrer, no cross-origin embedding. The
 * document-oriented headers of the full set are for pages a browser renders.
 */
export function apiSecurityHeaders(https: boolean): Record<string, string> {
  return {
    'content-security-policy': "default-src 'none'; frame-ancestors 'none'",
    'cross-origin-resource-policy': 'same-origin',
    'referrer-policy': 'no-referrer',
    ...(https ? { 'strict-transport-security': 'max-age=31536000; includeSubDomains' } : {}),
    'x-content-type-options': 'nosniff',
    'x-frame-options': 'DENY',
  };
}

/**
 * Liveness and readiness probes answer a fixed, data-free `{"status":…}` to orchestrators many
 * times a minute and are never rendered: they carry the request id and nosniff only, which their handlers
 * put in the response themselves (see probeJson) so Node writes it in one go. (Every header set
 * here costs a few percent of a probe's throughput; the probes' budget is 80 % of a bare app.)
 */
export const PROBE_PATHS = new Set(['/healthz', '/readyz']);

/** Is this path an API answer (JSON) rather than a page? */
export function isApiPath(path: string): boolean {
  return (
    path.startsWith('/v1/') ||
    path === '/openapi.json' ||
    path === '/metrics' ||
    path.startsWith('/.well-known/')
  );
}

const ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz';
/** All 1024 two-character base32 strings: ten random bits per lookup. */
const PAIRS = Array.from({ length: 1024 }, (_, i) => ALPHABET[i >> 5]! + ALPHABET[i & 31]!);

/**
 * Request ids in the service's id format (`rid_` + 48-bit ms time + 80 random bits, Crockford
 * base32), drawn from a pooled random buffer with the time part cached per millisecond: one
 * randomBytes call and a BigInt conversion per id were a tenth of the cost of a /healthz answer.
 */
export function requestIds(now: () => number): () => string {
  const pool = new Uint16Array(8 * 1024);
  let pos = pool.length;
  let lastMs = -1;
  let prefix = '';
  return () => {
    const ms = now();
    if (ms !== lastMs) {
      lastMs = ms;
      prefix = `rid_${encodeTime(ms)}`;
    }
    if (pos + 8 > pool.length) {
      randomFillSync(pool);
      pos = 0;
    }
    let id = prefix;
    for (let i = 0; i < 8; i++) id += PAIRS[pool[pos++]! & 1023]!;
    return id;
  };
}

/**
 * A probe's JSON answer with its request id, as a plain Response whose headers are a plain
 * object: @hono/node-server hands that straight to Node's writeHead.
 */
export function probeJson(requestId: string, body: unknown, status: number): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { 'content-type': 'application/json', 'x-content-type-options': 'nosniff', 'x-request-id': requestId },
  });
}

/** The full set for pages: what hono's secureHeaders() sends by default, with our CSP. */
export function securityHeaders(https: boolean): Record<string, string> {
  return {
    'content-security-policy': CSP,
    'cross-origin-opener-policy': 'same-origin',
    'cross-origin-resource-policy': 'same-origin',
    'origin-agent-cluster': '?1',
    'referrer-policy': 'no-referrer',
    ...(https ? { 'strict-transport-security': 'max-age=31536000; includeSubDomains' } : {}),
    'x-content-type-options': 'nosniff',
    'x-dns-prefetch-control': 'off',
    'x-download-options': 'noopen',
    'x-frame-options': 'SAMEORIGIN',
    'x-permitted-cross-domain-policies': 'none',
    'x-xss-protection': '0',
  };
}

const REQUEST_ID = /^[\w\-=]{1,255}$/;
const BODYLESS = new Set(['GET', 'HEAD', 'OPTIONS']);

export function basics(deps: Deps, largeBodyRoutes: Record<string, number>): MiddlewareHandler<AppEnv> {
  const https = deps.config.publicUrl?.startsWith('https:') ?? false;
  const pageHeaders = Object.entries(securityHeaders(https));
  const apiHeaders = Object.entries(apiSecurityHeaders(https));
  const nextId = requestIds(deps.now);
  // Entries ending in `/*` cap every path below them (a route with a parameter).
  const prefixes = Object.entries(largeBodyRoutes)
    .filter(([route]) => route.endsWith('/*'))
    .map(([route, max]) => [route.slice(0, -1), max] as const);
  const capOf = (path: string) => largeBodyRoutes[path] ?? prefixes.find(([p]) => path.startsWith(p))?.[1] ?? deps.config.bodyLimit;
  const limits = new Map<number, MiddlewareHandler>();
  const limitFor = (maxSize: number) => {
    let mw = limits.get(maxSize);
    if (!mw) {
      mw = bodyLimit({
        maxSize,
        onError: () => {
          throw new PayloadTooLargeError('PAYLOAD_TOO_LARGE', `request body exceeds ${maxSize} bytes`);
        },
      });
      limits.set(maxSize, mw);
    }
    return mw;
  };

  return (c, next) => {
    const node = c.env as { incoming?: IncomingMessage; outgoing?: ServerResponse } | undefined;
    const incoming = node?.incoming ? node.incoming.headers['x-request-id'] : c.req.raw.headers.get('x-request-id');
    const id = typeof incoming === 'string' && REQUEST_ID.test(incoming) ? incoming : nextId();
    c.set('requestId', id);
    c.set('deps', deps);
    const path = c.req.path;
    const method = c.req.method;
    if (method === 'GET' && PROBE_PATHS.has(path)) return next(); // the handler adds the id
    const headers = isApiPath(path) ? apiHeaders : pageHeaders;
    const out = node?.outgoing;
    if (out && typeof out.setHeader === 'function') {
      out.setHeader('x-request-id', id);
      for (const [k, v] of headers) out.setHeader(k, v);
    } else {
      c.header('X-Request-Id', id);
      for (const [k, v] of headers) c.header(k, v);
    }
    if (BODYLESS.has(method)) return next();
    const maxSize = capOf(path);
    // On Node, a declared Content-Length (which Node's parser holds the body to) is checked from
    // the socket's headers: hono's bodyLimit reads c.req.raw, which builds the full WHATWG
    // request (~50 µs) even for a route that reads its body straight from the socket.
    const declared = node?.incoming?.headers;
    if (declared && declared['content-length'] !== undefined && declared['transfer-encoding'] === undefined) {
      if (Number(declared['content-length']) > maxSize) throw new PayloadTooLargeError('PAYLOAD_TOO_LARGE', `request body exceeds ${maxSize} bytes`);
      return next();
    }
    return limitFor(maxSize)(c, next) as Promise<void>;
  };
}
