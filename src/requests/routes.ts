/**
 * /v1/requests — data-subject requests (access, portability, erasure). Routes parse input, call
 * one verb from ./service.ts and shape the response.
 */
import { createRoute } from '@hono/zod-openapi';
import { AUTHED, createRouter, errorResponses, jsonBody, jsonResponse, queryInt, z } from '../http/openapi.js';
import { actorOf, requireScope } from '../http/auth.js';
import type { Context } from 'hono';
import type { AppEnv } from '../http/env.js';
import type { Ctx } from '../deps.js';
import { CHANNELS, REQUEST_STATUSES, REQUEST_TYPES } from '../db/schema/requests.js';
import { IDENTITY_STATES } from '../db/schema/request-identities.js';
import { ForbiddenError } from '../errors.js';
import { approveRequest, cancelRequest, denyRequest, extendRequest, normalizeIdentities, openRequest, requireRequest, retryRequest, verifyRequest } from './service.js';
import { listRequests, requestView } from './views.js';
import { revealIdentity } from './reveal.js';
import { requestReceipt } from './receipt.js';
import { decideIdentity } from './decisions.js';
import { archiveResponse, downloadExport } from './downloads.js';
import { DENIAL_REASONS } from './duties.js';
import { previewErasure } from './preview.js';

const ctxOf = (c: Context<AppEnv>): Ctx => ({ ...c.get('deps'), actor: actorOf(c) });

const DUE_CONVENTION =
  '`dueAt` is the last millisecond (ISO 8601, UTC) of the due calendar day in the controller time zone (OUBLI_TIMEZONE, Europe/Paris by default): receipt date + 1 calendar month, same day number clamped to the month end (31 Jan → 28/29 Feb), + the extension months. `dueDate` is that calendar day.';

const IdentityIn = z
  .object({
    type: z.string().max(40).openapi({ example: 'email' }),
    value: z.string().max(320).openapi({ example: 'alice@example.com' }),
  })
  .openapi('IdentityInput');

const CreateBody = z
  .object({
    type: z.enum(REQUEST_TYPES),
    identities: z.array(IdentityIn).max(20),
    channel: z.enum(CHANNELS).optional(),
    locale: z.enum(['fr', 'en']).optional(),
    verified: z.literal(true).optional().openapi({ description: 'The caller checked the person’s identity; needs the requests:verify scope.' }),
  })
  .strict()
  .openapi('CreateRequest');

const Summary = z
  .object({
    id: z.string(),
    type: z.enum(REQUEST_TYPES),
    status: z.enum(REQUEST_STATUSES),
    channel: z.string(),
    locale: z.string(),
    receivedAt: z.string(),
    dueAt: z.string().openapi({ description: DUE_CONVENTION }),
    dueDate: z.string(),
    overdue: z.boolean(),
    completedAt: z.string().nullable(),
  })
  .openapi('RequestSummary');

const Counts = z.object({ found: z.number(), deleted: z.number(), masked: z.number(), retained: z.number() });

const IdentityRef = z.object({ id: z.number().int(), type: z.string(), value: z.string().openapi({ description: 'masked' }) });

const IdentityView = z
  .object({
    id: z.number().int(),
    type: z.string(),
    value: z.string().openapi({ description: 'masked' }),
    source: z.string().openapi({ description: '`request` when given with the request, else the connector that found it' }),
    collection: z.string().nullable(),
    reason: z.string().nullable(),
    round: z.number(),
    searchable: z.boolean(),
    state: z.enum(IDENTITY_STATES).openapi({
      description: 'included: held for the person (searched, erased, exported); pending: under the DPO’s review (treated as excluded until decided); excluded',
    }),
    weak: z.boolean().openapi({ description: 'found through a weak link (a value the person typed): confirms, never searched by' }),
    why: z
      .object({
        code: z.enum(['given', 'followed', 'weak_link', 'identity_conflict', 'leads_to_conflict', 'through_pending', 'through_excluded', 'decided']),
        conflictingType: z.string().optional().openapi({ description: 'the person-unique identity type whose values contradict' }),
        connector: z.string().optional(),
        collection: z.string().optional(),
        round: z.number().optional(),
        via: z.array(IdentityRef).openapi({ description: 'the identities that led to it (for leads_to_conflict: the contradicting identities it led to)' }),
      })
      .nullable()
      .openapi({ description: 'null while the round that found it is still running' }),
  })
  .openapi('RequestIdentity');

const View = Summary.extend({
  statusReason: z.string().nullable(),
  statusReasonCode: z.string().nullable().openapi({ description: '`identity_conflict` in needs_review; the Art. 12(4) ground of a denial' }),
  verified: z.boolean(),
  extendedMonths: z.number().int(),
  extensionReason: z.string().nullable(),
  stage: z.string().nullable(),
  identities: z.array(
    IdentityView.extend({
      decision: z
        .object({ decision: z.enum(['include', 'exclude']), by: z.string(), at: z.string(), reason: z.string().nullable() })
        .nullable()
        .openapi({ description: 'the DPO’s decision on an identity under review' }),
    }),
  ),
  tasks: z.array(
    z.object({
      id: z.string(),
      connector: z.string(),
      phase: z.enum(['access', 'erase', 'verify']),
      round: z.number(),
      status: z.string(),
      attempts: z.number(),
      nextAttemptAt: z.string().nullable(),
      lastError: z.object({ code: z.string(), message: z.string() }).nullable(),
      counts: Counts.nullable(),
      collections: z.array(z.object({ name: z.string() }).passthrough()),
    }),
  ),
  outcome: z.array(Counts.extend({ connector: z.string(), phase: z.string(), status: z.string() })),
  verification: z.unknown().nullable(),
  export: z.object({ available: z.boolean(), expiresAt: z.string().nullable() }).nullable(),
}).openapi('Request');

const Created = z
  .object({
    id: z.string(),
    status: z.enum(REQUEST_STATUSES),
    receivedAt: z.string(),
    dueAt: z.string().openapi({ description: DUE_CONVENTION }),
    notSearchable: z.array(z.string()).openapi({ description: 'Identity types no configured connector can search by (accepted, not searched).' }),
  })
  .openapi('RequestCreated');

const IdParam = z.object({ id: z.string().regex(/^req_[0-9a-z]{26}$/).openapi({ param: { name: 'id', in: 'path' }, example: 'req_01jabcdefghjkmnpqrstvwxyz0' }) });

const read = requireScope('requests:read');
const write = requireScope('requests:write');
const verify = requireScope('requests:verify');
/** The DPO's authority (a dpo or admin session has it): approve, deny, extend, decide identities. */
const approve = requireScope('requests:approve');

const SEPARATION = 'Needs the DPO’s authority (requests:approve, or a dpo / admin session); the principal that opened the request gets 403 SEPARATION_OF_DUTIES.';


/** What every state-transition route shares: POST, the request's view back, 409 on a wrong state. */
function transition(path: string, summary: string, scope: typeof write) {
  // The DPO's decisions say who may take them.
  const description = scope === approve ? SEPARATION : undefined;
  return {
    method: 'post' as const,
    path,
    tags: ['Requests'],
    summary,
    ...(description ? { description } : {}),
    security: AUTHED,
    middleware: scope,
    responses: { 200: jsonResponse(View, 'The request after the transition'), ...errorResponses(400, 401, 403, 404, 409) },
  };
}

function action(path: string, summary: string, scope = write) {
  return createRoute({ ...transition(path, summary, scope), request: { params: IdParam } });
}

function actionWithBody<T extends z.ZodType>(path: string, summary: string, body: T, scope = write) {
  return createRoute({ ...transition(path, summary, scope), request: { params: IdParam, body: jsonBody(body) } });
}

const Reason = z.string().trim().min(1).max(1000);

const IdentityParams = IdParam.extend({
  identityId: z.string().regex(/^[1-9][0-9]{0,11}$/).openapi({ param: { name: 'identityId', in: 'path' }, example: '3', description: 'the `id` of one of the request’s identities' }),
});

function decisionRoute(decision: 'include' | 'exclude') {
  return createRoute({
    method: 'post',
    path: `/{id}/identities/{identityId}/${decision}`,
    tags: ['Requests'],
    summary:
      decision === 'include'
        ? 'Include an identity under review: it and every record it leads to are the person’s (needs_review)'
        : 'Exclude an identity under review: never searched, erased or exported for this request (needs_review)',
    description: `${SEPARATION} The reason stays in the request; the audit entry keeps its keyed hash. Once no identity is under review the request runs again. A second decision on the same identity → 409 IDENTITY_NOT_PENDING.`,
    security: AUTHED,
    middleware: approve,
    request: { params: IdentityParams, body: jsonBody(z.object({ reason: Reason }).strict()) },
    responses: { 200: jsonResponse(View, 'The request after the decision'), ...errorResponses(400, 401, 403, 404, 409) },
  });
}

export const requestRoutes = createRouter()
  .openapi(
    createRoute({
      method: 'post',
      path: '/',
      tags: ['Requests'],
      summary: 'Open a data-subject request (access, portability, erasure)',
      description: `Without \`verified: true\` the request waits in pending_verification. ${DUE_CONVENTION}`,
      security: AUTHED,
      middleware: [write] as const,
      request: { body: jsonBody(CreateBody) },
      responses: { 201: jsonResponse(Created, 'Request opened'), ...errorResponses(400, 401, 403, 413, 415) },
    }),
    async (c) => {
      const body = c.req.valid('json');
      if (body.verified && !c.get('principal')!.scopes.includes('requests:verify')) {
        throw new ForbiddenError('INSUFFICIENT_SCOPE', 'opening a request as verified needs the requests:verify scope');
      }
      const { request, notSearchable } = await openRequest(ctxOf(c), body);
      return c.json(
        { id: request.id, status: request.status, receivedAt: new Date(request.receivedAt).toISOString(), dueAt: new Date(request.dueAt).toISOString(), notSearchable },
        201,
      );
    },
  )
  .openapi(
    createRoute({
      method: 'post',
      path: '/preview',
      tags: ['Requests'],
      summary: 'Erasure dry run: what each connector would delete, mask or retain, and which identities it would follow',
      description:
        'Needs requests:verify (or a dpo / admin session): it reveals where a person is. Identities are judged as a request’s are: where a request would stop for the DPO (identity conflict), the preview stops and shows the identities under review. Audited (who, identity types — never values).',
      security: AUTHED,
      middleware: [verify] as const,
      request: { body: jsonBody(z.object({ type: z.literal('erasure'), identities: z.array(IdentityIn).max(20) }).strict()) },
      responses: {
        200: jsonResponse(
          z.object({
            connectors: z.array(z.object({ connector: z.string(), collections: z.array(z.object({ name: z.string() }).passthrough()), error: z.object({ code: z.string(), message: z.string() }).nullable() })),
            identities: z.array(IdentityView),
            review: z.object({ needed: z.boolean(), pending: z.number().int() }).openapi({ description: 'whether a request would stop for the DPO, and on how many identities' }),
          }),
          'Nothing was changed in the silos',
        ),
        ...errorResponses(400, 401, 403),
      },
    }),
    async (c) => {
      const ctx = ctxOf(c);
      return c.json(await previewErasure(ctx, normalizeIdentities(ctx, c.req.valid('json').identities)), 200);
    },
  )
  .openapi(
    createRoute({
      method: 'get',
      path: '/',
      tags: ['Requests'],
      summary: 'List requests, newest first',
      security: AUTHED,
      middleware: [read] as const,
      request: {
        query: z
          .object({
            status: z.enum(REQUEST_STATUSES).optional(),
            type: z.enum(REQUEST_TYPES).optional(),
            overdue: z.enum(['true', 'false']).optional(),
            cursor: z.string().max(40).optional(),
            limit: queryInt('limit').pipe(z.number().int().min(1).max(200)).default(50),
          })
          .strict(),
      },
      responses: { 200: jsonResponse(z.object({ items: z.array(Summary), nextCursor: z.string().nullable() }), 'A page of requests'), ...errorResponses(400, 401, 403) },
    }),
    async (c) => {
      const q = c.req.valid('query');
      const page = await listRequests(ctxOf(c), {
        status: q.status,
        type: q.type,
        overdue: q.overdue === undefined ? undefined : q.overdue === 'true',
        cursor: q.cursor,
        limit: q.limit,
      });
      return c.json(page, 200);
    },
  )
  .openapi(
    createRoute({
      method: 'get',
      path: '/{id}',
      tags: ['Requests'],
      summary: 'A request: status, deadline, masked identities, per connector and phase: status, attempts, last error, counts',
      security: AUTHED,
      middleware: [read] as const,
      request: { params: IdParam },
      responses: { 200: jsonResponse(View, 'The request'), ...errorResponses(400, 401, 403, 404) },
    }),
    async (c) => {
      const ctx = ctxOf(c);
      return c.json((await requestView(ctx, await requireRequest(ctx, c.req.valid('param').id))) as z.infer<typeof View>, 200);
    },
  )
  .openapi(action('/{id}/verify', 'Mark the person’s identity as checked (pending_verification → running or awaiting_approval)', verify), async (c) => {
    const ctx = ctxOf(c);
    return c.json((await requestView(ctx, await verifyRequest(ctx, c.req.valid('param').id))) as z.infer<typeof View>, 200);
  })
  .openapi(action('/{id}/approve', 'DPO approval (awaiting_approval → running)', approve), async (c) => {
    const ctx = ctxOf(c);
    return c.json((await requestView(ctx, await approveRequest(ctx, c.req.valid('param').id))) as z.infer<typeof View>, 200);
  })
  .openapi(
    actionWithBody(
      '/{id}/deny',
      'Refuse the request (GDPR Art. 12(4)): the ground and the text shown to the person',
      z.object({ reasonCode: z.enum(DENIAL_REASONS), reason: Reason }).strict(),
      approve,
    ),
    async (c) => {
      const ctx = ctxOf(c);
      const { reasonCode, reason } = c.req.valid('json');
      return c.json((await requestView(ctx, await denyRequest(ctx, c.req.valid('param').id, reasonCode, reason))) as z.infer<typeof View>, 200);
    },
  )
  .openapi(
    actionWithBody(
      '/{id}/extend',
      'Extend the deadline by 1 or 2 months (at most 2 in total, counted from receipt), with a reason',
      z.object({ months: z.union([z.literal(1), z.literal(2)]), reason: Reason }).strict(),
      approve,
    ),
    async (c) => {
      const ctx = ctxOf(c);
      const { months, reason } = c.req.valid('json');
      return c.json((await requestView(ctx, await extendRequest(ctx, c.req.valid('param').id, months, reason))) as z.infer<typeof View>, 200);
    },
  )
  .openapi(action('/{id}/cancel', 'Cancel an open request'), async (c) => {
    const ctx = ctxOf(c);
    return c.json((await requestView(ctx, await cancelRequest(ctx, c.req.valid('param').id))) as z.infer<typeof View>, 200);
  })
  .openapi(action('/{id}/retry', 'Re-run only the failed tasks (needs_attention → running)'), async (c) => {
    const ctx = ctxOf(c);
    return c.json((await requestView(ctx, await retryRequest(ctx, c.req.valid('param').id))) as z.infer<typeof View>, 200);
  })
  .openapi(
    createRoute({
      method: 'post',
      path: '/{id}/identities/{identityId}/reveal',
      tags: ['Requests'],
      summary: 'One identity of the request in clear (audited: who, which identity, its type — never the value)',
      description: 'For a system told of the request by id only (webhooks carry no identity). Needs requests:verify. 410 IDENTITY_DESTROYED once the request no longer holds the value.',
      security: AUTHED,
      middleware: [verify] as const,
      request: { params: IdentityParams },
      responses: {
        200: jsonResponse(z.object({ id: z.number().int(), type: z.string(), value: z.string() }).openapi('RevealedIdentity'), 'The identity'),
        ...errorResponses(400, 401, 403, 404, 410),
      },
    }),
    async (c) => {
      const { id, identityId } = c.req.valid('param');
      c.header('cache-control', 'no-store');
      return c.json(await revealIdentity(ctxOf(c), id, Number(identityId)), 200);
    },
  )
  .openapi(decisionRoute('include'), async (c) => {
    const ctx = ctxOf(c);
    const { id, identityId } = c.req.valid('param');
    return c.json((await requestView(ctx, await decideIdentity(ctx, id, Number(identityId), 'include', c.req.valid('json').reason))) as z.infer<typeof View>, 200);
  })
  .openapi(decisionRoute('exclude'), async (c) => {
    const ctx = ctxOf(c);
    const { id, identityId } = c.req.valid('param');
    return c.json((await requestView(ctx, await decideIdentity(ctx, id, Number(identityId), 'exclude', c.req.valid('json').reason))) as z.infer<typeof View>, 200);
  })
  .openapi(
    createRoute({
      method: 'get',
      path: '/{id}/receipt',
      tags: ['Requests'],
      summary: 'Signed receipt: outcome per connector (counts), audit entries with inclusion proofs, signed tree head',
      security: AUTHED,
      middleware: [read] as const,
      request: { params: IdParam },
      responses: { 200: jsonResponse(z.object({ jws: z.string() }), 'Compact JWS (EdDSA, audit key, typ oubli-receipt+jws)'), ...errorResponses(400, 401, 403, 404, 409) },
    }),
    async (c) => {
      const ctx = ctxOf(c);
      return c.json(await requestReceipt(ctx, await requireRequest(ctx, c.req.valid('param').id)), 200);
    },
  )
  .openapi(
    createRoute({
      method: 'get',
      path: '/{id}/export',
      tags: ['Requests'],
      summary: 'The access / portability archive (ZIP: data.json, one CSV per collection, index.html, manifest.json)',
      description:
        'manifest.json = {files: {path: sha256 hex}, jws}: `jws` is a compact JWS (audit key) whose payload is the files map. Portability holds only portable collections. Deleted after OUBLI_EXPORT_TTL_DAYS (7 by default).',
      security: AUTHED,
      middleware: [read] as const,
      request: { params: IdParam },
      responses: {
        200: { description: 'ZIP archive', content: { 'application/zip': { schema: z.string().openapi({ format: 'binary' }) } } },
        ...errorResponses(400, 401, 403, 404, 409),
      },
    }),
    async (c) => {
      return archiveResponse(await downloadExport(ctxOf(c), c.req.valid('param').id));
    },
  );
