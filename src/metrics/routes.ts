/**
 * GET /metrics (Prometheus exposition, src/metrics/metrics.ts) and the HTTP latency middleware.
 *
 * On the API listener /metrics needs the `metrics:read` scope. With OUBLI_METRICS_BIND, a second
 * listener (src/server.ts) serves `metricsApp` — /metrics only, without authentication — on an
 * address the operator keeps to the scraper (loopback, an internal network).
 */
import { createRoute } from '@hono/zod-openapi';
import { Hono, type Context, type MiddlewareHandler } from 'hono';
import { matchedRoutes } from 'hono/route';
import type { Deps } from '../deps.js';
import { requireScope } from '../http/auth.js';
import { PROBE_PATHS } from '../http/basics.js';
import { AUTHED, createRouter, errorResponses, z } from '../http/openapi.js';

/** The route label of an answer no route of the API matched (404s, whatever the path). */
export const UNMATCHED = 'unmatched';

/**
 * The route pattern a request was for: the one that answered (hono's routePath(c)), else — when a
 * middleware answered first (the body cap, a bad key) — the first route that matched; a request
 * no route matched is UNMATCHED. `app.use()` middleware and catch-alls are registered as `ALL`,
 * routes with their method. A pattern, never the path: ids and tokens must not become labels.
 */
function routeOf(c: Context): string {
  const routes = matchedRoutes(c);
  const answered = routes[c.req.routeIndex];
  if (answered && answered.method !== 'ALL') return answered.path;
  return routes.find((r) => r.method !== 'ALL')?.path ?? UNMATCHED;
}

/**
 * Times every answer into oubli_http_request_duration_seconds; registered first in createApp.
 * Not the liveness and readiness probes: orchestrators call them many times a minute, their
 * answers are fixed, and timing them ate into the throughput budget basics.ts keeps for them.
 */
export function httpMetrics(deps: Pick<Deps, 'metrics'>): MiddlewareHandler {
  const timed: MiddlewareHandler = async (c, next) => {
    const start = performance.now();
    // An error is answered by onError inside next() (hono catches it where it is thrown), so
    // c.res is the answer sent, 4xx and 5xx included.
    await next();
    deps.metrics.observeHttp(c.req.method, routeOf(c), c.res.status, (performance.now() - start) / 1000);
  };
  return (c, next) => (c.req.method === 'GET' && PROBE_PATHS.has(c.req.path) ? next() : timed(c, next));
}

export const metricsRoutes = createRouter().openapi(
  createRoute({
    method: 'get',
    path: '/metrics',
    tags: ['System'],
    summary: 'Prometheus metrics: requests, tasks, backlogs, the audit log, HTTP latencies, the process',
    description:
      'Text exposition format 0.0.4. The gauges are read from the database at scrape time; no label carries personal data. ' +
      'With OUBLI_METRICS_BIND set, the same answer is served without authentication on that address only.',
    security: AUTHED,
    middleware: [requireScope('metrics:read')] as const,
    responses: {
      200: { description: 'Metrics', content: { 'text/plain': { schema: z.string() } } },
      ...errorResponses(401, 403),
    },
  }),
  async (c) => {
    const { metrics } = c.get('deps');
    return c.text(await metrics.render(), 200, { 'Content-Type': metrics.contentType });
  },
);

/** The metrics listener's app (OUBLI_METRICS_BIND): GET /metrics without authentication, nothing else. */
export function metricsApp(deps: Pick<Deps, 'metrics' | 'logger'>) {
  const app = new Hono();
  app.get('/metrics', async (c) => c.body(await deps.metrics.render(), 200, { 'Content-Type': deps.metrics.contentType }));
  app.notFound((c) => c.text('not found: this listener serves GET /metrics only\n', 404));
  app.onError((err, c) => {
    deps.logger.error({ err }, 'metrics scrape failed');
    return c.text('metrics unavailable\n', 500);
  });
  return app;
}
