import { createRoute } from '@hono/zod-openapi';
import { AUTHED, createRouter, errorResponses, jsonBody, z } from '../http/openapi.js';
import { actorOf, requireScope } from '../http/auth.js';
import { SCOPES } from '../db/schema/api-keys.js';
import { createApiKey, listApiKeys, revokeApiKey } from './api-keys.js';

const ApiKeyInfo = z
  .object({
    id: z.string().openapi({ example: 'key_01j9z3x8k2m4n6p8r0s2t4v6w8' }),
    name: z.string(),
    prefix: z.string().openapi({ description: 'First characters of the key, to recognise it' }),
    scopes: z.array(z.enum(SCOPES)),
    createdAt: z.string(),
    revokedAt: z.string().nullable(),
  })
  .openapi('ApiKey');

const CreateBody = z
  .object({
    name: z.string().trim().min(1).max(100),
    scopes: z.array(z.enum(SCOPES)).min(1),
  })
  .strict()
  .openapi('CreateApiKeyRequest');

const Created = ApiKeyInfo.extend({ key: z.string().openapi({ description: 'The secret; shown this once only' }) }).openapi(
  'CreatedApiKey',
);

const admin = requireScope('admin');

export const apiKeyRoutes = createRouter()
  .openapi(
    createRoute({
      method: 'post',
      path: '/',
      tags: ['API keys'],
      summary: 'Creates an API key (the key is returned once)',
      security: AUTHED,
      middleware: [admin] as const,
      request: { body: jsonBody(CreateBody) },
      responses: {
        201: { description: 'Created', content: { 'application/json': { schema: Created } } },
        ...errorResponses(400, 401, 403),
      },
    }),
    async (c) => {
      const created = await createApiKey({ ...c.get('deps'), actor: actorOf(c) }, c.req.valid('json'));
      return c.json(created, 201);
    },
  )
  .openapi(
    createRoute({
      method: 'get',
      path: '/',
      tags: ['API keys'],
      summary: 'Lists API keys (never their secrets)',
      security: AUTHED,
      middleware: [admin] as const,
      responses: {
        200: { description: 'Keys', content: { 'application/json': { schema: z.object({ keys: z.array(ApiKeyInfo) }) } } },
        ...errorResponses(401, 403),
      },
    }),
    async (c) => c.json({ keys: await listApiKeys(c.get('deps')) }, 200),
  )
  .openapi(
    createRoute({
      method: 'delete',
      path: '/{id}',
      tags: ['API keys'],
      summary: 'Revokes an API key; it stops working at once',
      security: AUTHED,
      middleware: [admin] as const,
      request: { params: z.object({ id: z.string().min(1).max(64) }) },
      responses: { 204: { description: 'Revoked' }, ...errorResponses(401, 403, 404) },
    }),
    async (c) => {
      await revokeApiKey({ ...c.get('deps'), actor: actorOf(c) }, c.req.valid('param').id);
      return c.body(null, 204);
    },
  );
