/**
 * Reading a consent write's body — the one place where the consent routes depart from the
 * framework's plumbing, for a measured reason.
 *
 * POST /v1/consents is the busiest write: on @hono/node-server, reading the body the usual way
 * makes the adapter build a full WHATWG Request and a web stream for it, a large share of the
 * single-event write path (the consent bench measures it). So on Node, when nothing has touched
 * the body yet and its length is declared (basics() then checked it against the cap without
 * building a WHATWG request), it is read straight from the socket stream. Everywhere else
 * (app.request() in tests, chunked bodies) through hono as usual. The route still validates
 * with the same ConsentInput schema and answers the same errors (415, 400 INVALID_JSON, 400
 * VALIDATION_FAILED listing the fields) as the generated validators; its OpenAPI entry is
 * registered from the same route definition as every other route.
 */
import type { IncomingMessage } from 'node:http';
import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { z } from '../http/openapi.js';
import type { AppEnv } from '../http/env.js';
import { ValidationError } from '../errors.js';

const JSON_TYPE = /^application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/i;

/** The request body as text (see the header for the Node socket path). */
export function bodyText(c: Context<AppEnv>): Promise<string> {
  const incoming = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming;
  if (
    !incoming ||
    incoming.headers['content-length'] === undefined ||
    incoming.headers['transfer-encoding'] !== undefined ||
    incoming.readableDidRead ||
    incoming.readableFlowing !== null ||
    incoming.listenerCount('data') > 0
  ) {
    return c.req.text();
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
    incoming.once('error', reject);
    // a client that goes away mid-body: 'close' without 'end' (no hanging handler)
    incoming.once('close', () => {
      if (!incoming.readableEnded) reject(new ValidationError('INCOMPLETE_BODY', 'the request body was cut short'));
    });
    incoming.once('end', () => {
      const text = (chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)).toString('utf8');
      resolve(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text); // as Request.text(): no BOM
    });
  });
}

/** The JSON body validated by `schema`, with the answers of the generated validators. */
export async function jsonBodyOf<T extends z.ZodType>(c: Context<AppEnv>, schema: T): Promise<z.infer<T>> {
  const type = c.req.header('content-type');
  if (type === undefined || !JSON_TYPE.test(type)) throw new HTTPException(415, { message: 'Unsupported Media Type' });
  let body: unknown;
  try {
    body = JSON.parse(await bodyText(c));
  } catch (err) {
    if (err instanceof SyntaxError) throw new ValidationError('INVALID_JSON', 'request body is not valid JSON');
    throw err;
  }
  const parsed = schema.safeParse(body);
  if (!parsed.success) {
    const fields = parsed.error.issues.map((i) => ({ path: i.path.join('.') || '(root)', message: i.message }));
    throw new ValidationError('VALIDATION_FAILED', `invalid json: ${fields.map((f) => f.path).join(', ')}`, { fields });
  }
  return parsed.data;
}
