/** /v1/webhooks: endpoints (webhooks:write to change, webhooks:read to see) and their deliveries. */
import { createRoute } from '@hono/zod-openapi';
import { AUTHED, createRouter, errorResponses, jsonBody, jsonResponse, queryInt, z } from '../http/openapi.js';
import { actorOf, requireScope } from '../http/auth.js';
import { WEBHOOK_EVENTS } from '../db/schema/webhooks.js';
import { ROTATION_OVERLAP_MS } from './signing.js';
import {
  createEndpoint,
  deleteEndpoint,
  getEndpoint,
  listDeliveries,
  listEndpoints,
  recover,
  redeliver,
  rotateSecret,
  updateEndpoint,
  webhookJwks,
} from './endpoints.js';
import type { Context } from 'hono';
import type { AppEnv } from '../http/env.js';
import type { Ctx } from '../deps.js';

const read = requireScope('webhooks:read');
const write = requireScope('webhooks:write');
const ctxOf = (c: Context<AppEnv>): Ctx => ({ ...c.get('deps'), actor: actorOf(c) });

const Event = z.enum(WEBHOOK_EVENTS);
const Url = z.string().min(1).max(2048).openapi({ example: 'https://crm.example.com/hooks/oubli', description: 'http or https; its host must resolve to a public address' });

const Endpoint = z
  .object({
    id: z.string().openapi({ example: 'whe_01j9z3x8k2m4n6p8r0s2t4v6w8' }),
    url: z.string(),
    description: z.string(),
    events: z.array(Event),
    scheme: z.enum(['v1', 'v1a']).openapi({ description: 'v1: HMAC-SHA256 (whsec_ secret); v1a: Ed25519 (whpk_ public key, also in /v1/webhooks/jwks.json)' }),
    status: z.enum(['enabled', 'disabled']),
    disabledReason: z.string().nullable(),
    disabledAt: z.string().nullable(),
    failingSince: z.string().nullable().openapi({ description: 'first failed attempt since the last success; three days of it disables the endpoint' }),
    previousSecretUntil: z.string().nullable().openapi({ description: 'after a rotation: until when the previous secret still signs beside the new one' }),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .openapi('WebhookEndpoint');

const WithCredential = Endpoint.extend({
  secret: z.string().optional().openapi({ description: 'v1: the signing secret (whsec_…), shown this once only' }),
  publicKey: z.string().optional().openapi({ description: 'v1a: the public key (whpk_…) that verifies the signatures' }),
}).openapi('WebhookEndpointWithCredential');

const CreateBody = z
  .object({
    url: Url,
    events: z.array(Event).min(1).max(WEBHOOK_EVENTS.length),
    description: z.string().trim().max(500).optional(),
    scheme: z.enum(['v1', 'v1a']).optional(),
  })
  .strict()
  .openapi('CreateWebhookRequest');

const PatchBody = z
  .object({
    url: Url.optional(),
    events: z.array(Event).min(1).max(WEBHOOK_EVENTS.length).optional(),
    description: z.string().trim().max(500).optional(),
    enabled: z.boolean().optional(),
  })
  .strict()
  .refine((b) => Object.keys(b).length > 0, { message: 'nothing to change' })
  .openapi('UpdateWebhookRequest');

const Delivery = z
  .object({
    id: z.string().openapi({ description: 'the webhook-id header: the same on every attempt' }),
    type: Event,
    status: z.enum(['pending', 'delivered', 'failed']),
    attempts: z.number().int(),
    maxAttempts: z.number().int(),
    createdAt: z.string(),
    lastAttemptAt: z.string().nullable(),
    nextAttemptAt: z.string().nullable(),
    deliveredAt: z.string().nullable(),
    lastStatus: z.number().int().nullable(),
    lastError: z.string().nullable(),
    lastResponse: z.string().nullable().openapi({ description: 'the first KiB of the receiver’s last answer' }),
  })
  .openapi('WebhookDelivery');

const Id = z.object({ id: z.string().min(1).max(64) });
const tags = ['Webhooks'];

export const webhookRoutes = createRouter()
  .openapi(
    createRoute({
      method: 'get',
      path: '/jwks.json',
      tags,
      summary: 'The Ed25519 public keys of v1a endpoints (a JWK set of its own, not the audit keys)',
      security: AUTHED,
      middleware: [read] as const,
      responses: { 200: jsonResponse(z.object({ keys: z.array(z.record(z.string(), z.string())) }), 'Keys'), ...errorResponses(401, 403) },
    }),
    async (c) => c.json(await webhookJwks(ctxOf(c)), 200),
  )
  .openapi(
    createRoute({
      method: 'post',
      path: '/',
      tags,
      summary: 'Registers an endpoint; its secret (or v1a public key) is returned once',
      security: AUTHED,
      middleware: [write] as const,
      request: { body: jsonBody(CreateBody) },
      responses: { 201: jsonResponse(WithCredential, 'Created'), ...errorResponses(400, 401, 403) },
    }),
    async (c) => c.json(await createEndpoint(ctxOf(c), c.req.valid('json')), 201),
  )
  .openapi(
    createRoute({
      method: 'get',
      path: '/',
      tags,
      summary: 'Lists endpoints (never their secrets)',
      security: AUTHED,
      middleware: [read] as const,
      responses: { 200: jsonResponse(z.object({ endpoints: z.array(Endpoint) }), 'Endpoints'), ...errorResponses(401, 403) },
    }),
    async (c) => c.json({ endpoints: await listEndpoints(ctxOf(c)) }, 200),
  )
  .openapi(
    createRoute({
      method: 'get',
      path: '/{id}',
      tags,
      summary: 'One endpoint',
      security: AUTHED,
      middleware: [read] as const,
      request: { params: Id },
      responses: { 200: jsonResponse(Endpoint, 'Endpoint'), ...errorResponses(401, 403, 404) },
    }),
    async (c) => c.json(await getEndpoint(ctxOf(c), c.req.valid('param').id), 200),
  )
  .openapi(
    createRoute({
      method: 'patch',
      path: '/{id}',
      tags,
      summary: 'Changes an endpoint; `enabled: true` enables a disabled one again',
      security: AUTHED,
      middleware: [write] as const,
      request: { params: Id, body: jsonBody(PatchBody) },
      responses: { 200: jsonResponse(Endpoint, 'Updated'), ...errorResponses(400, 401, 403, 404) },
    }),
    async (c) => c.json(await updateEndpoint(ctxOf(c), c.req.valid('param').id, c.req.valid('json')), 200),
  )
  .openapi(
    createRoute({
      method: 'delete',
      path: '/{id}',
      tags,
      summary: 'Deletes an endpoint and its deliveries',
      security: AUTHED,
      middleware: [write] as const,
      request: { params: Id },
      responses: { 204: { description: 'Deleted' }, ...errorResponses(401, 403, 404) },
    }),
    async (c) => {
      await deleteEndpoint(ctxOf(c), c.req.valid('param').id);
      return c.body(null, 204);
    },
  )
  .openapi(
    createRoute({
      method: 'post',
      path: '/{id}/rotate-secret',
      tags,
      summary: `A new secret, returned once; the previous one keeps signing beside it for ${ROTATION_OVERLAP_MS / 3_600_000} hours`,
      security: AUTHED,
      middleware: [write] as const,
      request: { params: Id },
      responses: { 200: jsonResponse(WithCredential, 'Rotated'), ...errorResponses(401, 403, 404) },
    }),
    async (c) => c.json(await rotateSecret(ctxOf(c), c.req.valid('param').id), 200),
  )
  .openapi(
    createRoute({
      method: 'get',
      path: '/{id}/deliveries',
      tags,
      summary: 'The endpoint’s deliveries, newest first',
      security: AUTHED,
      middleware: [read] as const,
      request: {
        params: Id,
        query: z.object({ limit: queryInt('limit').pipe(z.number().int().min(1).max(200)).optional(), cursor: z.string().max(40).optional() }),
      },
      responses: {
        200: jsonResponse(z.object({ deliveries: z.array(Delivery), cursor: z.string().nullable() }), 'Deliveries'),
        ...errorResponses(400, 401, 403, 404),
      },
    }),
    async (c) => {
      const q = c.req.valid('query');
      return c.json(await listDeliveries(ctxOf(c), c.req.valid('param').id, q.limit ?? 50, q.cursor), 200);
    },
  )
  .openapi(
    createRoute({
      method: 'post',
      path: '/deliveries/{id}/redeliver',
      tags,
      summary: 'Sends a delivered or failed message again, now, with the same webhook-id',
      security: AUTHED,
      middleware: [write] as const,
      request: { params: Id },
      responses: { 202: jsonResponse(Delivery, 'Queued'), ...errorResponses(401, 403, 404, 409) },
    }),
    async (c) => c.json(await redeliver(ctxOf(c), c.req.valid('param').id), 202),
  )
  .openapi(
    createRoute({
      method: 'post',
      path: '/{id}/recover',
      tags,
      summary: 'Queues again, in order, every failed delivery of the endpoint since a time',
      security: AUTHED,
      middleware: [write] as const,
      request: { params: Id, body: jsonBody(z.object({ since: z.iso.datetime({ offset: true }) }).strict()) },
      responses: { 202: jsonResponse(z.object({ requeued: z.number().int() }), 'Queued'), ...errorResponses(400, 401, 403, 404, 409) },
    }),
    async (c) => c.json(await recover(ctxOf(c), c.req.valid('param').id, Date.parse(c.req.valid('json').since)), 202),
  );
