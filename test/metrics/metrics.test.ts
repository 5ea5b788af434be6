/**
 * GET /metrics: who may scrape it, what it reports (read from the database at scrape time),
 * that its labels stay few whatever the paths asked for and never carry personal data, and the
 * unauthenticated second listener of OUBLI_METRICS_BIND.
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createApp, type App } from '../../src/app.js';
import { loadConfig, ConfigError } from '../../src/config.js';
import { REQUEST_STATUSES, REQUEST_TYPES } from '../../src/db/schema/requests.js';
import { startServer } from '../../src/server.js';
import { authSuite } from '../helpers/auth-suite.js';
import { createTestApp, createTestDeps } from '../helpers/deps.js';
import { bearer, call } from '../helpers/http.js';
import { loginCookie, staff } from '../auth/helpers.js';
import { engineHarness } from '../engine/helpers.js';
import { ALICE, BOB, syntheticSilos } from '../helpers/synthetic-connector.js';
import { parseExposition, valueOf } from './exposition.js';

authSuite('metrics', () => createTestApp(), [{ method: 'GET', path: '/metrics', scope: 'metrics:read' }]);

async function scrape(app: App, authorization: string) {
  const res = await call(app, 'GET', '/metrics', { headers: { authorization } });
  expect(res.status, res.text).toBe(200);
  return { ...res, families: parseExposition(res.text) };
}

/** The values the HTTP histogram's `route` label takes. */
function routeLabels(families: ReturnType<typeof parseExposition>): Set<string> {
  return new Set(families.get('oubli_http_request_duration_seconds')!.samples.map((s) => s.labels.route!));
}

describe('GET /metrics: access', () => {
  it('a key with metrics:read gets 200 in the text format 0.0.4, API security headers included', async () => {
    const { app, deps } = await createTestApp();
    const { authorization } = await bearer(deps, ['metrics:read']);
    const res = await scrape(app, authorization);
    expect(res.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('content-security-policy')).toBe("default-src 'none'; frame-ancestors 'none'");
  });

  it('admin and DPO sessions may scrape; a viewer may not (403)', async () => {
    const { app, deps } = await createTestApp();
    for (const [email, role, status] of [['admin@example.com', 'admin', 200], ['dpo@example.com', 'dpo', 200], ['viewer@example.com', 'viewer', 403]] as const) {
      await staff(deps, email, role);
      const cookie = await loginCookie(app, email);
      const res = await call(app, 'GET', '/metrics', { headers: { cookie } });
      expect(res.status, `${role}: ${res.text}`).toBe(status);
    }
  });

  it('is in the OpenAPI description, as a protected route', async () => {
    const { app } = await createTestApp();
    const doc = (await call(app, 'GET', '/openapi.json')).json;
    expect(doc.paths['/metrics'].get.security).toEqual([{ bearerAuth: [] }, { cookieAuth: [] }]);
  });
});

describe('GET /metrics: what it reports', () => {
  it('requests by status and type, tasks by connector and status, the backlogs and the audit log, as the database holds them', async () => {
    const h = await engineHarness(syntheticSilos([ALICE, BOB]).all, { env: { OUBLI_WEBHOOK_ALLOW_PRIVATE: '1' } });
    const admin = { authorization: (await bearer(h.deps, ['webhooks:write'], 'admin')).authorization };
    const hook = await call(h.app, 'POST', '/v1/webhooks', { headers: admin, body: { url: 'http://127.0.0.1:9/hook', events: ['request.received'] } });
    expect(hook.status, hook.text).toBe(201);
    const { authorization } = await bearer(h.deps, ['metrics:read']);

    const empty = (await scrape(h.app, authorization)).families;
    for (const status of REQUEST_STATUSES) for (const type of REQUEST_TYPES) expect(valueOf(empty, 'oubli_requests', { status, type })).toBe(0);
    expect(valueOf(empty, 'oubli_requests_overdue')).toBe(0);
    // No request open: no deadline to count down to (absent, not a misleading 0).
    expect(empty.get('oubli_requests_next_due_seconds')!.samples).toEqual([]);
    expect(empty.get('oubli_tasks')!.samples).toEqual([]);

    const access = await h.submit('access', [{ type: 'email', value: ALICE.email }]);
    await h.submit('access', [{ type: 'email', value: BOB.email }]);
    const opened = await h.api('POST', '/v1/requests', { type: 'erasure', identities: [{ type: 'email', value: BOB.email }] });
    expect(opened.status).toBe(201);

    const m = (await scrape(h.app, authorization)).families;
    expect(valueOf(m, 'oubli_requests', { status: 'running', type: 'access' })).toBe(2);
    expect(valueOf(m, 'oubli_requests', { status: 'pending_verification', type: 'erasure' })).toBe(1);
    expect(valueOf(m, 'oubli_requests', { status: 'completed', type: 'access' })).toBe(0);
    const total = m.get('oubli_requests')!.samples.reduce((n, s) => n + s.value, 0);
    expect(total).toBe(3);

    // Tasks: the engine has not run, so every access call is queued, one per silo and request.
    const tasks = [...(await h.deps.db.tasks.ofRequest(access))];
    expect(tasks.length).toBeGreaterThan(0);
    for (const t of tasks) expect(valueOf(m, 'oubli_tasks', { connector: t.connectorId, status: t.status })).toBe(2);

    // The earliest deadline of the three, counted down on the test clock.
    const due = Date.parse(opened.json.dueAt);
    expect(valueOf(m, 'oubli_requests_next_due_seconds')).toBe((due - h.deps.now()) / 1000);
    expect(valueOf(m, 'oubli_requests_overdue')).toBe(0);

    // One webhook delivery and one e-mail to the person per request, none sent yet.
    expect(valueOf(m, 'oubli_webhook_deliveries', { status: 'pending' })).toBe(3);
    expect(valueOf(m, 'oubli_webhook_deliveries', { status: 'failed' })).toBe(0);
    expect(valueOf(m, 'oubli_webhook_deliveries', { status: 'delivered' })).toBe(0);
    expect(valueOf(m, 'oubli_request_mails_pending')).toBe(3);

    expect(valueOf(m, 'oubli_audit_log_entries')).toBe(await h.deps.audit.size());
    expect(valueOf(m, 'oubli_audit_log_entries')).toBeGreaterThan(3);
    await h.deps.treeHeads.current();
    const signed = (await scrape(h.app, authorization)).families;
    expect(valueOf(signed, 'oubli_audit_signed_tree_size')).toBe(await h.deps.audit.size());

    // A day past the deadline: overdue, counted down below zero.
    h.deps.clock.set(due + 86_400_000);
    const late = (await scrape(h.app, authorization)).families;
    expect(valueOf(late, 'oubli_requests_next_due_seconds')).toBe(-86_400);
    expect(valueOf(late, 'oubli_requests_overdue')).toBe(3);
  });

  it('times answers by route pattern, never by the path: no request id among the labels', async () => {
    const h = await engineHarness([]);
    const id = await h.submit('access', [{ type: 'email', value: ALICE.email }]);
    expect((await h.api('GET', `/v1/requests/${id}`)).status).toBe(200);
    expect((await h.api('GET', '/v1/requests/req_00000000000000000000000000')).status).toBe(404);
    const { authorization } = await bearer(h.deps, ['metrics:read']);
    const { text, families } = await scrape(h.app, authorization);
    expect(text).not.toContain(id);
    expect(text).not.toContain('req_00000000000000000000000000');
    const byId = families.get('oubli_http_request_duration_seconds')!.samples.filter((s) => s.labels.route === '/v1/requests/:id' && s.name.endsWith('_count'));
    expect(byId.map((s) => [s.labels.method, s.labels.status, s.value]).sort()).toEqual([
      ['GET', '2xx', 1],
      ['GET', '4xx', 1],
    ]);
    expect(valueOf(families, 'oubli_http_request_duration_seconds_count', { method: 'POST', route: '/v1/requests', status: '2xx' })).toBe(1);
    const bucket = families.get('oubli_http_request_duration_seconds')!.samples.find((s) => s.labels.route === '/v1/requests/:id' && s.labels.le === '+Inf');
    expect(bucket?.value).toBeGreaterThanOrEqual(1);
  });

  it('does not time the liveness and readiness probes', async () => {
    const { app, deps } = await createTestApp();
    for (const p of ['/healthz', '/readyz', '/healthz']) expect((await call(app, 'GET', p)).status).toBe(200);
    const { authorization } = await bearer(deps, ['metrics:read']);
    await scrape(app, authorization);
    const labels = routeLabels((await scrape(app, authorization)).families);
    expect([...labels]).toEqual(['/metrics']);
  });

  it('unknown paths share one label, whatever their number; a refused body keeps its route', async () => {
    const { app, deps } = await createTestApp();
    const { authorization } = await bearer(deps, ['metrics:read']);
    await scrape(app, authorization);
    const before = routeLabels((await scrape(app, authorization)).families);
    const paths = Array.from({ length: 50 }, (_, i) => `${['', '/v1', '/v1/requests/x', '/privacy', '/docs'][i % 5]}/${randomBytes(8).toString('hex')}`);
    for (const [n, p] of paths.entries()) await call(app, n % 2 ? 'POST' : 'GET', p, { headers: { authorization } });
    const big = await call(app, 'POST', '/v1/requests', { headers: { authorization }, raw: 'x'.repeat(deps.config.bodyLimit + 1) });
    expect(big.status).toBe(413);
    const { text, families } = await scrape(app, authorization);
    const after = routeLabels(families);
    for (const p of paths) expect(text).not.toContain(p.split('/').at(-1)!);
    // Fifty paths, two new labels: the one of every unmatched path, and the refused body's route.
    expect([...after].filter((r) => !before.has(r)).sort()).toEqual(['/v1/requests', 'unmatched']);
    expect(valueOf(families, 'oubli_http_request_duration_seconds_count', { method: 'POST', route: '/v1/requests', status: '4xx' })).toBe(1);
  });

  it('carries no personal data: not the e-mail a request was opened with, nor one sent in a path', async () => {
    const h = await engineHarness(syntheticSilos([ALICE]).all);
    const email = 'jeanne.martin.metrics@example.org';
    await h.submit('erasure', [{ type: 'email', value: email }, { type: 'phone', value: '+33611223344' }]);
    await call(h.app, 'GET', `/v1/requests/${encodeURIComponent(email)}`, { headers: h.auth });
    await call(h.app, 'GET', `/privacy/${email}`);
    await call(h.app, 'GET', `/${email}`);
    await h.engine.runUntilIdle();
    const { authorization } = await bearer(h.deps, ['metrics:read']);
    const { text } = await scrape(h.app, authorization);
    for (const v of [email, encodeURIComponent(email), 'jeanne', 'example.org', '+33611223344', '33611223344']) expect(text).not.toContain(v);
  });

  it("adds prom-client's process metrics when asked (the server's deps do)", async () => {
    const deps = await createTestDeps({ processMetrics: true });
    const app = createApp(deps);
    const { authorization } = await bearer(deps, ['metrics:read']);
    const { families } = await scrape(app, authorization);
    expect(families.get('process_cpu_user_seconds_total')?.type).toBe('counter');
    expect(families.get('nodejs_heap_size_used_bytes')?.type).toBe('gauge');
    // Each app has its own registry: another app's scrape does not see this one's answers.
    const other = await createTestApp();
    const key = await bearer(other.deps, ['metrics:read']);
    expect((await scrape(other.app, key.authorization)).families.get('process_cpu_user_seconds_total')).toBeUndefined();
  });
});

describe('OUBLI_METRICS_BIND: the unauthenticated metrics listener', () => {
  it('parses host:port; refuses a port alone, a bad port, an unbracketed IPv6 address', () => {
    expect(loadConfig({ OUBLI_METRICS_BIND: '127.0.0.1:9464' }).metricsBind).toEqual({ host: '127.0.0.1', port: 9464 });
    expect(loadConfig({ OUBLI_METRICS_BIND: '[::1]:9464' }).metricsBind).toEqual({ host: '::1', port: 9464 });
    expect(loadConfig({ OUBLI_METRICS_BIND: 'metrics.internal:9464' }).metricsBind).toEqual({ host: 'metrics.internal', port: 9464 });
    expect(loadConfig({}).metricsBind).toBeUndefined();
    for (const bad of ['9464', ':9464', '127.0.0.1', '127.0.0.1:99999', '::1:9464', '[example]:9464', 'a b:1']) {
      expect(() => loadConfig({ OUBLI_METRICS_BIND: bad }), bad).toThrow(ConfigError);
    }
  });

  it('answers /metrics without a key on its own port only; the API port still needs metrics:read', async () => {
    const deps = await createTestDeps({ config: { port: 0, host: '127.0.0.1', metricsBind: { host: '127.0.0.1', port: 0 } } });
    const server = await startServer(deps);
    try {
      expect(server.metricsUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
      expect(new URL(server.metricsUrl!).port).not.toBe(new URL(server.url).port);
      const open = await fetch(server.metricsUrl!);
      expect(open.status).toBe(200);
      expect(open.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
      expect(parseExposition(await open.text()).has('oubli_requests')).toBe(true);
      // Only /metrics there: not the API, not the portal.
      expect((await fetch(new URL('/v1/requests', server.metricsUrl)).then((r) => r.status))).toBe(404);
      expect((await fetch(new URL('/healthz', server.metricsUrl)).then((r) => r.status))).toBe(404);

      expect((await fetch(`${server.url}/metrics`)).status).toBe(401);
      const weak = await bearer(deps, ['requests:read']);
      expect((await fetch(`${server.url}/metrics`, { headers: { authorization: weak.authorization } })).status).toBe(403);
      const key = await bearer(deps, ['metrics:read']);
      const authed = await fetch(`${server.url}/metrics`, { headers: { authorization: key.authorization } });
      expect(authed.status).toBe(200);
      await authed.text();
    } finally {
      await server.close();
    }
    await expect(fetch(server.metricsUrl!)).rejects.toThrow();
  });

  it('no second listener without it', async () => {
    const deps = await createTestDeps({ config: { port: 0, host: '127.0.0.1' } });
    const server = await startServer(deps);
    try {
      expect(server.metricsUrl).toBeUndefined();
    } finally {
      await server.close();
    }
  });
});
