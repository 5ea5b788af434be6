/**
 * GET /v1/connectors — the deployment's silos, what each can do, how each matched column is
 * searched (and whether an index serves it), and a health check of each silo (./health.ts:
 * cached a few seconds, codes and fixed messages only). A silo that is down or slow answers
 * `ok: false` with a code; the endpoint itself stays 200.
 */
import { createRoute } from '@hono/zod-openapi';
import { AUTHED, createRouter, errorResponses, z } from '../http/openapi.js';
import { requireScope } from '../http/auth.js';
import { HEALTH_CACHE_MS } from './health.js';

const HealthSchema = z.object({
  ok: z.boolean(),
  code: z.string().optional().openapi({ description: 'Why not ok: SILO_UNAVAILABLE, SILO_TIMEOUT, SILO_AUTH, SILO_SCHEMA, HEALTH_TIMEOUT, HEALTH_FAILED, UNHEALTHY…' }),
  message: z.string().optional().openapi({ description: "A fixed sentence for the code; the silo's own error text is only logged" }),
  latencyMs: z.number().optional(),
  warnings: z.array(z.string()).optional().openapi({ description: 'Reachable, but needs attention (e.g. a lookup that no index serves)' }),
  checkedAt: z.string().openapi({ description: `Health answers are shared for ${HEALTH_CACHE_MS / 1000} s` }),
});

const LookupSchema = z
  .object({
    collection: z.string(),
    identity: z.string().optional().openapi({ description: 'Identity type looked up (absent for a relation)' }),
    via: z.string().optional().openapi({ description: 'For a relation: the parent "collection.column"' }),
    column: z.string(),
    normalization: z.string().openapi({ description: 'casefold, phone, compact, trim or exact' }),
    format: z.string().optional().openapi({ description: 'The written form the silo declares (e164, lowercase…)' }),
    compares: z.string().openapi({ example: 'lower(trim(email))' }),
    index: z.object({ served: z.boolean(), name: z.string().optional() }),
    recommendation: z.string().optional().openapi({ description: 'The index to create when none serves the lookup' }),
  })
  .openapi('ConnectorLookup');

const ConnectorSchema = z
  .object({
    id: z.string().openapi({ example: 'shop' }),
    title: z.string().openapi({ example: 'Web shop' }),
    lookupBy: z.array(z.string()).openapi({ example: ['email', 'phone', 'customer_id'] }),
    capabilities: z.object({
      access: z.boolean(),
      erasure: z.boolean(),
      rectification: z.boolean().optional(),
      restriction: z.boolean().optional(),
    }),
    matching: z.array(LookupSchema).nullable().openapi({ description: 'null when the connector does not report it' }),
    health: HealthSchema.nullable().openapi({ description: 'null when the connector has no health check' }),
  })
  .openapi('Connector');

export const connectorRoutes = createRouter().openapi(
  createRoute({
    method: 'get',
    path: '/',
    tags: ['Connectors'],
    summary: "The deployment's connectors, their capabilities, how each matched column is searched, and a health check of each silo",
    security: AUTHED,
    middleware: [requireScope('requests:read')] as const,
    responses: {
      200: { description: 'Connectors', content: { 'application/json': { schema: z.object({ items: z.array(ConnectorSchema) }) } } },
      ...errorResponses(401, 403),
    },
  }),
  async (c) => {
    const deps = c.get('deps');
    const items = await Promise.all(
      deps.connectors.map(async (conn) => {
        // Health first: checking a silo validates its connector, which is when matching is known.
        const health = await deps.health.get(conn, deps.logger);
        return {
          id: conn.id,
          title: conn.title,
          lookupBy: [...conn.lookupBy],
          capabilities: { ...conn.capabilities },
          matching: conn.matching ? conn.matching() : null,
          health,
        };
      }),
    );
    return c.json({ items }, 200);
  },
);
