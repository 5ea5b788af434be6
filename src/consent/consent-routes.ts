/**
 * /v1/consents: record one event (group-committed), a batch, the change feed, the statistics,
 * a signed receipt. consents:write / consents:read.
 */
import { createRoute } from '@hono/zod-openapi';
import { HTTPException } from 'hono/http-exception';
import { AUTHED, createRouter, errorResponses, jsonBody, jsonResponse, queryInt, z } from '../http/openapi.js';
import { ValidationError } from '../errors.js';
import { recordConsentBatch, type BatchLine } from './record.js';
import { listConsentChanges } from './changes.js';
import { consentStats } from './stats.js';
import { getConsentReceipt } from './receipts.js';
import { batchLines, ndjsonLines } from './batch-lines.js';
import { bodyText, jsonBodyOf } from './socket-body.js';
import { ConsentInput, Recorded } from './schemas.js';
import { ctxOf, gpcHeader, read, write } from './route-kit.js';

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

const BatchBody = z.array(z.unknown()).openapi({
  type: 'array',
  items: { $ref: '#/components/schemas/ConsentEventInput' },
  description: 'Up to 10,000 events',
});

const Change = z.object({
  type: z.literal('consent.updated'),
  subject: z.string(),
  purpose: z.string(),
  decision: z.string(),
  occurredAt: z.string(),
  recordedAt: z.string(),
  cursor: z.string(),
});

const Stats = z.object({
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
});

export const consentRoutes = createRouter();

// The single-event write: documented from `recordRoute`, its body read by src/consent/socket-body.ts.
consentRoutes.openAPIRegistry.registerPath(recordRoute);
consentRoutes.post('/', write, async (c) => {
  const input = await jsonBodyOf(c, ConsentInput);
  const deps = c.get('deps');
  return c.json(await deps.consentWrites.record(ctxOf(c), input, { gpcHeader: gpcHeader(c), phoneRegion: deps.config.phoneRegion }), 201);
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
      const type = (c.req.header('content-type') ?? '').toLowerCase();
      let lines: BatchLine[];
      if (type.startsWith('application/x-ndjson')) {
        lines = ndjsonLines(await bodyText(c));
      } else if (type.startsWith('application/json')) {
        const body = c.req.valid('json') as unknown;
        if (!Array.isArray(body)) throw new ValidationError('VALIDATION_FAILED', 'the body must be a JSON array of events');
        lines = batchLines(body);
      } else {
        throw new HTTPException(415, { message: 'send application/json (an array) or application/x-ndjson' });
      }
      const ctx = ctxOf(c);
      return c.json(await recordConsentBatch(ctx, lines, { gpcHeader: gpcHeader(c), phoneRegion: ctx.config.phoneRegion }), 201);
    },
  )
  .openapi(
    createRoute({
      method: 'get',
      path: '/changes',
      tags: ['Consents'],
      summary: 'Polls the consent.updated stream (the outbox), oldest first, cursor-paged',
      description: 'A change is listed once every change before it has committed: resuming from a cursor never misses one.',
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
            changes: z.array(Change),
            cursor: z.string().openapi({ description: 'Pass as `after` to get what follows' }),
            hasMore: z.boolean(),
          }),
          'A page of changes',
        ),
        ...errorResponses(400, 401, 403),
      },
    }),
    async (c) => {
      const q = c.req.valid('query');
      return c.json(await listConsentChanges(c.get('deps'), q.after, q.limit ?? 100), 200);
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
      responses: { 200: jsonResponse(Stats, 'Statistics'), ...errorResponses(401, 403) },
    }),
    async (c) => {
      const deps = c.get('deps');
      return c.json(await consentStats(deps, deps.now()), 200);
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
