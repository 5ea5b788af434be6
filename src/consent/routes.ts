/**
 * HTTP routes of the consent registry: /v1/purposes (admin), /v1/consents and
 * /v1/subjects/{identifier}/… (consents:read / consents:write), /.well-known/gpc.json (public).
 */
import { createRoute } from '@hono/zod-openapi';
import type { IncomingMessage } from 'node:http';
import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import { AUTHED, createRouter, errorResponses, jsonBody, jsonResponse, queryInt, z } from '../http/openapi.js';
import { actorOf, requireScope } from '../http/auth.js';
import type { AppEnv } from '../http/env.js';
import type { Ctx } from '../deps.js';
import { normalizeIdentity, parseIdentifierParam } from '../identity.js';
import { NotFoundError, ValidationError } from '../errors.js';
import { findSubjectIdByIdentity, linkSubjectIdentifier } from '../subjects/service.js';
import { createPurpose, getPurpose, listPurposes, purposeCatalog, updatePurpose } from './purposes.js';
import {
  consentHistory,
  consentStats,
  listConsentChanges,
  readConsents,
  recordConsentGrouped,
  recordConsentBatch,
  type BatchLine,
} from './ledger.js';
import { getConsentReceipt } from './receipts.js';
import {
  ConsentEvent,
  ConsentInput,
  ConsentStates,
  IdentifierParam,
  Purpose,
  PurposeCreate,
  PurposePatch,
  PurposeWithVersions,
  Recorded,
} from './schemas.js';

const admin = requireScope('admin');

/** What linking answers: never the person's identifiers (that would be a read with a write scope). */
const IdentifierLinked = z.object({ subjectId: z.string(), linked: z.boolean() }).openapi('IdentifierLinked');
const read = requireScope('consents:read');
const write = requireScope('consents:write');

const ctxOf = (c: Context<AppEnv>): Ctx => ({ ...c.get('deps'), actor: actorOf(c) });
/** The Global Privacy Control header counts only when exactly `1` (GPC spec §3). */
const gpcHeader = (c: Context<AppEnv>) => c.req.header('sec-gpc') === '1';

export const purposeRoutes = createRouter()
  .openapi(
    createRoute({
      method: 'post',
      path: '/',
      tags: ['Purposes'],
      summary: 'Adds a purpose to the catalogue (version 1)',
      security: AUTHED,
      middleware: [admin] as const,
      request: { body: jsonBody(PurposeCreate) },
      responses: { 201: jsonResponse(Purpose, 'Created'), ...errorResponses(400, 401, 403, 409) },
    }),
    (c) => c.json(createPurpose(ctxOf(c), c.req.valid('json')), 201),
  )
  .openapi(
    createRoute({
      method: 'get',
      path: '/',
      tags: ['Purposes'],
      summary: 'Lists the purposes catalogue (current versions)',
      security: AUTHED,
      middleware: [admin] as const,
      responses: { 200: jsonResponse(z.object({ purposes: z.array(Purpose) }), 'Catalogue'), ...errorResponses(401, 403) },
    }),
    (c) => c.json({ purposes: listPurposes(c.get('deps').db) }, 200),
  )
  .openapi(
    createRoute({
      method: 'get',
      path: '/{id}',
      tags: ['Purposes'],
      summary: 'One purpose with every text version and its SHA-256',
      security: AUTHED,
      middleware: [admin] as const,
      request: { params: z.object({ id: z.string().min(1).max(64) }) },
      responses: { 200: jsonResponse(PurposeWithVersions, 'Purpose'), ...errorResponses(401, 403, 404) },
    }),
    (c) => c.json(getPurpose(c.get('deps').db, c.req.valid('param').id), 200),
  )
  .openapi(
    createRoute({
      method: 'patch',
      path: '/{id}',
      tags: ['Purposes'],
      summary: 'Changes a purpose; a new title or text makes a new version (old versions are kept)',
      security: AUTHED,
      middleware: [admin] as const,
      request: { params: z.object({ id: z.string().min(1).max(64) }), body: jsonBody(PurposePatch) },
      responses: { 200: jsonResponse(PurposeWithVersions, 'Updated'), ...errorResponses(400, 401, 403, 404, 409) },
    }),
    (c) => c.json(updatePurpose(ctxOf(c), c.req.valid('param').id, c.req.valid('json')), 200),
  );

/** Turns a zod failure into the per-line error shape of the batch endpoint. */
function lineError(line: number, error: z.ZodError): BatchLine {
  const fields = error.issues.map((i) => ({ path: i.path.join('.') || '(root)', message: i.message }));
  return {
    line,
    ok: false,
    error: { code: 'VALIDATION_FAILED', message: `invalid event: ${fields.map((f) => f.path).join(', ')}`, fields },
  };
}

function toLines(items: unknown[], lineNumbers?: number[]): BatchLine[] {
  const out = new Array<BatchLine>(items.length);
  for (let i = 0; i < items.length; i++) {
    const line = lineNumbers ? lineNumbers[i]! : i + 1;
    const r = ConsentInput.safeParse(items[i]);
    out[i] = r.success ? { line, ok: true, value: r.data } : lineError(line, r.error);
  }
  return out;
}

function parseNdjson(text: string): BatchLine[] {
  const items: unknown[] = [];
  const numbers: number[] = [];
  const bad: BatchLine[] = [];
  const rows = text.split('\n');
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i]!.trim();
    if (row === '') continue;
    try {
      items.push(JSON.parse(row));
      numbers.push(i + 1);
    } catch {
      bad.push({ line: i + 1, ok: false, error: { code: 'INVALID_JSON', message: 'line is not valid JSON' } });
    }
  }
  return [...toLines(items, numbers), ...bad].sort((a, b) => a.line - b.line);
}

const BatchBody = z.array(z.unknown()).openapi({
  type: 'array',
  items: { $ref: '#/components/schemas/ConsentEventInput' },
  description: 'Up to 10,000 events',
});

/**
 * The request body as text. On Node, when nothing has touched the body yet and its length is
 * declared (basics() then checked it against the cap without building a WHATWG request), it is
 * read straight from the socket stream: @hono/node-server would otherwise build the full WHATWG
 * Request and a web stream for it (~70 µs of the single-event write path). Elsewhere (tests'
 * app.request(), chunked bodies) through hono as usual.
 */
function bodyText(c: Context<AppEnv>): Promise<string> {
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

const JSON_TYPE = /^application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/i;

const recordRoute = createRoute({
  method: 'post',
  path: '/',
  tags: ['Consents'],
  summary: 'Records a consent event (a person unknown so far is created)',
  description:
    'Sec-GPC: 1 (or `gpc: true`) records GPC purposes as refused with method `gpc`. Withdrawing twice is idempotent: the repeat is kept in the ledger, the state stays withdrawn from the first time.',
  security: AUTHED,
  middleware: [write] as const,
  request: { body: jsonBody(ConsentInput) },
  responses: { 201: jsonResponse(Recorded, 'Recorded'), ...errorResponses(400, 401, 403, 404) },
});

export const consentRoutes = createRouter();
// POST /v1/consents, the single-event write path: documented from `recordRoute` like every
// route, validated here by the same ConsentInput schema and with the same error answers
// (415, 400 INVALID_JSON, 400 VALIDATION_FAILED listing the fields) as the generated
// validators, but reading the body with bodyText() above.
consentRoutes.openAPIRegistry.registerPath(recordRoute);
consentRoutes.post('/', write, async (c) => {
  const type = c.req.header('content-type');
  if (type === undefined || !JSON_TYPE.test(type)) throw new HTTPException(415, { message: 'Unsupported Media Type' });
  let body: unknown;
  try {
    body = JSON.parse(await bodyText(c));
  } catch (err) {
    if (err instanceof SyntaxError) throw new ValidationError('INVALID_JSON', 'request body is not valid JSON');
    throw err;
  }
  const parsed = ConsentInput.safeParse(body);
  if (!parsed.success) {
    const fields = parsed.error.issues.map((i) => ({ path: i.path.join('.') || '(root)', message: i.message }));
    throw new ValidationError('VALIDATION_FAILED', `invalid json: ${fields.map((f) => f.path).join(', ')}`, { fields });
  }
  const deps = c.get('deps');
  const out = await recordConsentGrouped(ctxOf(c), parsed.data, { gpcHeader: gpcHeader(c), phoneRegion: deps.config.phoneRegion });
  return c.json(out, 201);
});
consentRoutes
  .openapi(
    createRoute({
      method: 'post',
      path: '/batch',
      tags: ['Consents'],
      summary: 'Records up to 10,000 events at once (JSON array or NDJSON); all or nothing',
      description:
        'Every line is validated first; if any is bad the answer is 400 BATCH_INVALID with `details.errors` listing each bad line (1-based) and nothing is written. Bodies up to 8 MB (413 above).',
      security: AUTHED,
      middleware: [write] as const,
      request: {
        body: {
          required: false,
          content: {
            'application/json': { schema: BatchBody },
            'application/x-ndjson': { schema: z.string().openapi({ description: 'One ConsentEventInput per line' }) },
          },
        },
      },
      responses: {
        201: jsonResponse(
          z.object({ recorded: z.number().int(), stateChanges: z.number().int(), ids: z.array(z.string()) }),
          'Recorded, in line order',
        ),
        ...errorResponses(400, 401, 403, 413, 415),
      },
    }),
    async (c) => {
      const deps = c.get('deps');
      const type = (c.req.header('content-type') ?? '').toLowerCase();
      let lines: BatchLine[];
      if (type.startsWith('application/x-ndjson')) {
        lines = parseNdjson(await bodyText(c));
      } else if (type.startsWith('application/json')) {
        const body = c.req.valid('json') as unknown;
        if (!Array.isArray(body)) throw new ValidationError('VALIDATION_FAILED', 'the body must be a JSON array of events');
        lines = toLines(body);
      } else {
        throw new HTTPException(415, { message: 'send application/json (an array) or application/x-ndjson' });
      }
      const out = recordConsentBatch(ctxOf(c), lines, { gpcHeader: gpcHeader(c), phoneRegion: deps.config.phoneRegion });
      return c.json(out, 201);
    },
  )
  .openapi(
    createRoute({
      method: 'get',
      path: '/changes',
      tags: ['Consents'],
      summary: 'Polls the consent.updated stream (the outbox), oldest first, cursor-paged',
      security: AUTHED,
      middleware: [read] as const,
      request: {
        query: z.object({
          after: z.string().max(100).optional().openapi({ description: 'The `cursor` of the previous page; omitted: from the start' }),
          limit: queryInt('limit').pipe(z.number().int().min(1).max(1000)).optional(),
        }),
      },
      responses: {
        200: jsonResponse(
          z.object({
            changes: z.array(
              z.object({
                type: z.literal('consent.updated'),
                subject: z.string(),
                purpose: z.string(),
                decision: z.string(),
                occurredAt: z.string(),
                recordedAt: z.string(),
                cursor: z.string(),
              }),
            ),
            cursor: z.string().openapi({ description: 'Pass as `after` to get what follows' }),
            hasMore: z.boolean(),
          }),
          'A page of changes',
        ),
        ...errorResponses(400, 401, 403),
      },
    }),
    (c) => {
      const q = c.req.valid('query');
      return c.json(listConsentChanges(c.get('deps').db, q.after, q.limit ?? 100), 200);
    },
  )
  .openapi(
    createRoute({
      method: 'get',
      path: '/stats',
      tags: ['Consents'],
      summary: 'Per purpose: people by state, grants and withdrawals per day over 90 days',
      security: AUTHED,
      middleware: [read] as const,
      responses: {
        200: jsonResponse(
          z.object({
            subjects: z.number().int(),
            from: z.string(),
            to: z.string(),
            purposes: z.array(
              z.object({
                purpose: z.string(),
                states: z.record(z.string(), z.number().int()),
                daily: z.array(z.object({ date: z.string(), granted: z.number().int(), withdrawn: z.number().int() })),
              }),
            ),
          }),
          'Statistics',
        ),
        ...errorResponses(401, 403),
      },
    }),
    (c) => {
      const deps = c.get('deps');
      return c.json(consentStats(deps.db, deps.now()), 200);
    },
  )
  .openapi(
    createRoute({
      method: 'get',
      path: '/{eventId}/receipt',
      tags: ['Consents'],
      summary: 'Signed consent receipt (compact JWS, EdDSA; Kantara CR v1.1 field names)',
      security: AUTHED,
      middleware: [read] as const,
      request: { params: z.object({ eventId: z.string().min(1).max(64) }) },
      responses: {
        200: jsonResponse(z.object({ jws: z.string(), payload: z.record(z.string(), z.unknown()) }), 'Receipt (verify with /.well-known/jwks.json)'),
        ...errorResponses(401, 403, 404),
      },
    }),
    async (c) => c.json(await getConsentReceipt(ctxOf(c), c.req.valid('param').eventId), 200),
  );

function subjectIdOrThrow(c: Context<AppEnv>, param: string): { subjectId: string } {
  const deps = c.get('deps');
  const identity = parseIdentifierParam(param, { defaultRegion: deps.config.phoneRegion });
  const subjectId = findSubjectIdByIdentity(deps.db, identity);
  if (!subjectId) throw new NotFoundError('SUBJECT_NOT_FOUND', 'nobody holds this identifier');
  return { subjectId };
}

export const subjectRoutes = createRouter()
  .openapi(
    createRoute({
      method: 'get',
      path: '/{identifier}/consents',
      tags: ['Consents'],
      summary: 'Current state of every purpose for a person (the hot path: "may I email them?")',
      security: AUTHED,
      middleware: [read] as const,
      request: {
        params: IdentifierParam,
        query: z.object({ purpose: z.string().max(2000).optional().openapi({ description: 'Comma-separated purpose ids' }) }),
      },
      responses: { 200: jsonResponse(ConsentStates, 'States'), ...errorResponses(400, 401, 403, 404) },
    }),
    (c) => {
      const deps = c.get('deps');
      const identity = parseIdentifierParam(c.req.valid('param').identifier, { defaultRegion: deps.config.phoneRegion });
      const only = c.req.valid('query').purpose;
      return c.json(readConsents(deps.db, identity, deps.now(), only ? only.split(',').filter(Boolean) : undefined), 200);
    },
  )
  .openapi(
    createRoute({
      method: 'get',
      path: '/{identifier}/consents/history',
      tags: ['Consents'],
      summary: "A person's consent events, oldest occurredAt first",
      security: AUTHED,
      middleware: [read] as const,
      request: { params: IdentifierParam },
      responses: {
        200: jsonResponse(z.object({ subjectId: z.string(), events: z.array(ConsentEvent) }), 'History'),
        ...errorResponses(400, 401, 403, 404),
      },
    }),
    (c) => {
      const { subjectId } = subjectIdOrThrow(c, c.req.valid('param').identifier);
      return c.json({ subjectId, events: consentHistory(c.get('deps').db, subjectId) }, 200);
    },
  )
  .openapi(
    createRoute({
      method: 'post',
      path: '/{identifier}/identifiers',
      tags: ['Subjects'],
      summary: 'Links another identifier to the same person (409 if it belongs to someone else)',
      security: AUTHED,
      middleware: [write] as const,
      request: {
        params: IdentifierParam,
        body: jsonBody(z.object({ type: z.string().trim().min(1).max(40), value: z.string().trim().min(1).max(320) }).strict()),
      },
      responses: {
        201: jsonResponse(IdentifierLinked, 'Linked'),
        200: jsonResponse(IdentifierLinked, 'Already linked to this person'),
        ...errorResponses(400, 401, 403, 404, 409),
      },
    }),
    (c) => {
      const ctx = ctxOf(c);
      const identity = normalizeIdentity(c.req.valid('json'), { defaultRegion: ctx.config.phoneRegion });
      const { subjectId } = subjectIdOrThrow(c, c.req.valid('param').identifier);
      const body = linkSubjectIdentifier(ctx, subjectId, identity);
      return body.linked ? c.json(body, 201) : c.json(body, 200);
    },
  );

/** GET /.well-known/gpc.json: this site honours Global Privacy Control. */
export const gpcRoutes = createRouter().openapi(
  createRoute({
    method: 'get',
    path: '/.well-known/gpc.json',
    tags: ['Consents'],
    summary: 'Global Privacy Control support resource',
    responses: { 200: jsonResponse(z.object({ gpc: z.boolean(), lastUpdate: z.string() }), 'GPC support') },
  }),
  (c) => {
    const list = purposeCatalog(c.get('deps').db).list;
    const last = list.reduce((m, p) => (p.view.gpcApplies && p.view.updatedAt > m ? p.view.updatedAt : m), '');
    c.header('Cache-Control', 'public, max-age=3600');
    return c.json({ gpc: true, lastUpdate: (last || '2026-01-01').slice(0, 10) }, 200);
  },
);
