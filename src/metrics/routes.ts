/**
 * GET /metrics (Prometheus exposition, src/metrics/metrics.ts) and the HTTP latency middleware.
 * /metrics needs the `metrics:read` scope.
 */
import { createRoute } from '@hono/zod-openapi';
import type { Context, MiddlewareHandler } from 'hono';
import { matchedRoutes } from 'hono/route';
import type { Deps } from '../deps.js';
import { requireScope } from '../http/auth.js';
import { AUTHED, createRouter, errorResponses, z } from '../http/openapi.js';

/** The route label of an answer no route of the API matched (404s, whatever the path). */
export const UNMATCHED = 'unmatched';

/**
 * The route pattern a request was for: the one that answered (hono's routePath), else — when a
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

/** Times every answer into oubli_http_request_duration_seconds; registered first in createApp. */
export function httpMetrics(deps: Pick<Deps, 'metrics'>): MiddlewareHandler {
  return async (c, next) => {
    const start = performance.now();
    // An error is answered by onError inside next() (hono catches it where it is thrown), so
    // c.res is the answer sent, 4xx and 5xx included.
    await next();
    deps.metrics.observeHttp(c.req.method, routeOf(c), c.res.status, (performance.now() - start) / 1000);
  };
}

export const metricsRoutes = createRouter().openapi(
  createRoute({
    method: 'get',
    path: '/metrics',
    tags: ['System'],
    summary: 'Prometheus metrics: requests, tasks, backlogs, the audit log, HTTP latencies, the process',
    description:
      'Text exposition format 0.0.4. The gauges are read from the database at scrape time; no label carries personal data.',
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
