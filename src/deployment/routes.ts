/**
 * GET /v1/connectors — the deployment's silos, what each can do, and a live health check.
 * A silo that is down or slow answers `ok: false` with a message; the endpoint itself stays 200.
 */
import { createRoute } from '@hono/zod-openapi';
import { AUTHED, createRouter, errorResponses, z } from '../http/openapi.js';
import { requireScope } from '../http/auth.js';
import type { Connector, ConnectorLogger, Health } from '../../connectors/types.js';

/** Per-connector health budget: the whole listing answers within about this time. */
export const HEALTH_TIMEOUT_MS = 2_000;

const HealthSchema = z.object({
  ok: z.boolean(),
  message: z.string().optional(),
  latencyMs: z.number().optional(),
});

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
    health: HealthSchema.nullable().openapi({ description: 'null when the connector has no health check' }),
  })
  .openapi('Connector');

const silentLog: ConnectorLogger = { debug() {}, info() {}, warn() {}, error() {} };

/** Runs a connector's health check with a deadline; never throws. */
export async function checkHealth(connector: Connector, timeoutMs = HEALTH_TIMEOUT_MS, log: ConnectorLogger = silentLog): Promise<Health | null> {
  if (!connector.health) return null;
  const ac = new AbortController();
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<Health>((resolve) => {
    timer = setTimeout(() => {
      ac.abort(new Error('health check timed out'));
      resolve({ ok: false, message: `no answer within ${timeoutMs} ms`, latencyMs: timeoutMs });
    }, timeoutMs);
  });
  try {
    const check = connector
      .health({ signal: ac.signal, requestId: 'health', dryRun: true, log })
      .then((h) => (h && typeof h.ok === 'boolean' ? (h.code ? { ...h, message: `${h.code}: ${h.message ?? ''}` } : h) : { ok: false, message: 'malformed health answer' }))
      .catch((err: unknown) => ({
        ok: false,
        message: err instanceof Error ? `${(err as { code?: string }).code ?? err.name}: ${err.message}` : 'health check failed',
        latencyMs: Math.round(performance.now() - started),
      }));
    return await Promise.race([check, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

export const connectorRoutes = createRouter().openapi(
  createRoute({
    method: 'get',
    path: '/',
    tags: ['Connectors'],
    summary: "The deployment's connectors, their capabilities and a live health check of each silo",
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
        const health = await checkHealth(conn, HEALTH_TIMEOUT_MS, deps.logger);
        if (health && !health.ok) deps.logger.warn({ connector: conn.id, health }, 'connector unhealthy');
        return {
          id: conn.id,
          title: conn.title,
          lookupBy: [...conn.lookupBy],
          capabilities: { ...conn.capabilities },
          health,
        };
      }),
    );
    return c.json({ items }, 200);
  },
);
