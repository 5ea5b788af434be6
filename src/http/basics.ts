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
import type { Deps } from '../deps.js';
import { PayloadTooLargeError } from '../errors.js';
import type { AppEnv } from './env.js';

const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "frame-ancestors 'none'",
  "form-action 'self'",
].join('; ');

/** The same set hono's secureHeaders() sends by default, with our CSP. */
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
  const headers = Object.entries(securityHeaders(deps.config.publicUrl?.startsWith('https:') ?? false));
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
    const id = typeof incoming === 'string' && REQUEST_ID.test(incoming) ? incoming : deps.ids('rid');
    c.set('requestId', id);
    c.set('deps', deps);
    const out = node?.outgoing;
    if (out && typeof out.setHeader === 'function') {
      out.setHeader('x-request-id', id);
      for (const [k, v] of headers) out.setHeader(k, v);
    } else {
      c.header('X-Request-Id', id);
      for (const [k, v] of headers) c.header(k, v);
    }
    if (BODYLESS.has(c.req.method)) return next();
    return limitFor(largeBodyRoutes[c.req.path] ?? deps.config.bodyLimit)(c, next) as Promise<void>;
  };
}
