/**
 * HTTP basics through the real app: health, readiness, error shapes, validation, body caps,
 * security headers, request ids, the OpenAPI document, the API reference page and the JWKS.
 */
import { describe, expect, it } from 'vitest';
import { createTestApp } from '../helpers/deps.js';
import { bearer, call } from '../helpers/http.js';
import { adminOf } from '../helpers/admin-sql.js';
import { openPrivateTestDatabase, TEST_STORE } from '../helpers/db.js';

const errorShape = (json: any, code: string) => {
  expect(json).toEqual({ error: expect.objectContaining({ code, message: expect.any(String), requestId: expect.stringMatching(/^rid_/) }) });
};

describe('health and readiness', () => {
  it('GET /healthz → 200 ok', async () => {
    const { app } = await createTestApp();
    const res = await call(app, 'GET', '/healthz');
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ status: 'ok' });
  });

  it('GET /readyz → 200 when the DB is up and migrated; 503 while start-up work runs', async () => {
    const { app, deps } = await createTestApp();
    const ok = await call(app, 'GET', '/readyz');
    expect(ok.status).toBe(200);
    expect(ok.json).toEqual({ status: 'ready', checks: { database: true, migrations: true, startup: true } });
    deps.startup.ready = false;
    const not = await call(app, 'GET', '/readyz');
    expect(not.status).toBe(503);
    expect(not.json.checks.startup).toBe(false);
    expect(not.json.status).toBe('not_ready');
  });

  it('GET /readyz → 503 when migrations are missing or the DB is closed', async () => {
    const { app, deps } = await createTestApp({ db: await openPrivateTestDatabase() });
    await adminOf(deps.db).exec(`delete from ${TEST_STORE === 'sqlite' ? '' : 'drizzle.'}__drizzle_migrations`);
    const res = await call(app, 'GET', '/readyz');
    expect(res.status).toBe(503);
    expect(res.json.checks).toMatchObject({ database: true, migrations: false });
    await deps.db.close();
    const closed = await call(app, 'GET', '/readyz');
    expect(closed.status).toBe(503);
    expect(closed.json.checks.database).toBe(false);
  });
});

describe('errors', () => {
  it('unknown route → 404 JSON with the error shape', async () => {
    const { app } = await createTestApp();
    for (const [m, p] of [['GET', '/nope'], ['POST', '/v1/nothing-here'], ['GET', '/v1/audit/nope']] as const) {
      const res = await call(app, m, p);
      expect(res.status).toBe(404);
      expect(res.headers.get('content-type')).toMatch(/application\/json/);
      errorShape(res.json, 'NOT_FOUND');
      expect(res.json.error.requestId).toBe(res.headers.get('x-request-id'));
    }
  });

  it('malformed JSON → 400 INVALID_JSON', async () => {
    const { app } = await createTestApp();
    for (const raw of ['{', '{"email": "a@b.c",}', 'nope', '']) {
      const res = await call(app, 'POST', '/v1/auth/login', { raw, headers: { 'content-type': 'application/json' } });
      expect(res.status, raw).toBe(400);
      errorShape(res.json, raw === '' ? res.json.error.code : 'INVALID_JSON');
      expect(['INVALID_JSON', 'VALIDATION_FAILED']).toContain(res.json.error.code);
    }
  });

  it('wrong types and unknown fields → 400 VALIDATION_FAILED listing the fields', async () => {
    const { app, deps } = await createTestApp();
    const res = await call(app, 'POST', '/v1/auth/login', { body: { email: 42, password: ['x'], extra: true } });
    expect(res.status).toBe(400);
    errorShape(res.json, 'VALIDATION_FAILED');
    const paths = res.json.error.details.fields.map((f: { path: string }) => f.path);
    expect(paths).toEqual(expect.arrayContaining(['email', 'password']));
    expect(JSON.stringify(res.json.error.details)).toMatch(/extra/);
    expect(res.json.error.message).toMatch(/email/);

    const { authorization } = await bearer(deps, ['admin']);
    const before = await deps.audit.size();
    const bad = await call(app, 'POST', '/v1/api-keys', { headers: { authorization }, body: { name: 'x', scopes: ['nope'], admin: true } });
    expect(bad.status).toBe(400);
    errorShape(bad.json, 'VALIDATION_FAILED');
    const fields = bad.json.error.details.fields.map((f: { path: string }) => f.path);
    expect(fields.some((p: string) => p.startsWith('scopes'))).toBe(true);
    expect(await deps.audit.size()).toBe(before); // nothing half-written
  });

  it('bodies above 1 MB → 413 PAYLOAD_TOO_LARGE; just under is parsed', async () => {
    const { app } = await createTestApp();
    const big = JSON.stringify({ email: 'a@b.example', password: 'x'.repeat(1024 * 1024) });
    const res = await call(app, 'POST', '/v1/auth/login', { raw: big });
    expect(res.status).toBe(413);
    errorShape(res.json, 'PAYLOAD_TOO_LARGE');
    const under = JSON.stringify({ email: 'a@b.example', password: 'x'.repeat(1024 * 1024 - 100) });
    const ok = await call(app, 'POST', '/v1/auth/login', { raw: under });
    expect(ok.status).toBe(400); // parsed, then too long for the password field
    errorShape(ok.json, 'VALIDATION_FAILED');
  });

  it('a JSON route with another content type → 415 (or 400), never a crash', async () => {
    const { app } = await createTestApp();
    const res = await call(app, 'POST', '/v1/auth/login', {
      raw: 'email=a@b.example&password=x',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect(res.status).toBe(415);
    errorShape(res.json, 'UNSUPPORTED_MEDIA_TYPE');
    const none = await app.request('/v1/auth/login', { method: 'POST', body: '{"email":"a@b.example","password":"x"}' });
    expect(none.status).toBe(415);
  });
});

describe('headers', () => {
  it('pages get the full security header set, API answers the OWASP REST set, probes nosniff; all an X-Request-Id', async () => {
    const { app } = await createTestApp();
    for (const p of ['/nope', '/docs', '/docs/assets/init.js']) {
      const res = await app.request(p);
      expect(res.headers.get('x-content-type-options'), p).toBe('nosniff');
      expect(res.headers.get('x-frame-options')).toBe('SAMEORIGIN');
      expect(res.headers.get('referrer-policy')).toBe('no-referrer');
      expect(res.headers.get('cross-origin-opener-policy')).toBe('same-origin');
      expect(res.headers.get('cross-origin-resource-policy')).toBe('same-origin');
      expect(res.headers.get('content-security-policy')).toMatch(/default-src 'self'/);
      expect(res.headers.get('content-security-policy')).toMatch(/frame-ancestors 'none'/);
      expect(res.headers.get('x-request-id')).toMatch(/^rid_[0-9a-z]{26}$/);
    }
    for (const p of ['/v1/audit/tree-head', '/v1/nothing', '/openapi.json', '/.well-known/jwks.json']) {
      const res = await app.request(p);
      expect(res.headers.get('x-content-type-options'), p).toBe('nosniff');
      expect(res.headers.get('x-frame-options')).toBe('DENY');
      expect(res.headers.get('referrer-policy')).toBe('no-referrer');
      expect(res.headers.get('cross-origin-resource-policy')).toBe('same-origin');
      expect(res.headers.get('content-security-policy')).toBe("default-src 'none'; frame-ancestors 'none'");
      expect(res.headers.get('x-request-id')).toMatch(/^rid_[0-9a-z]{26}$/);
    }
    for (const p of ['/healthz', '/readyz']) {
      const res = await app.request(p);
      expect(res.headers.get('x-content-type-options'), p).toBe('nosniff');
      expect(res.headers.get('x-request-id')).toMatch(/^rid_[0-9a-z]{26}$/);
    }
    const ids = new Set<string>();
    for (let i = 0; i < 2000; i++) ids.add((await app.request('/healthz')).headers.get('x-request-id')!);
    expect(ids.size).toBe(2000);
    // a well-formed incoming id is kept (for tracing through a proxy); anything else is replaced
    expect((await app.request('/healthz', { headers: { 'x-request-id': 'lb-1234=' } })).headers.get('x-request-id')).toBe('lb-1234=');
    expect((await app.request('/healthz', { headers: { 'x-request-id': 'bad id\n' } })).headers.get('x-request-id')).toMatch(/^rid_/);
  });

  it('Strict-Transport-Security only when the public URL is https', async () => {
    expect((await (await createTestApp()).app.request('/docs')).headers.get('strict-transport-security')).toBeNull();
    const { app } = await createTestApp({ env: { OUBLI_PUBLIC_URL: 'https://dsr.example.com' } });
    for (const p of ['/docs', '/v1/audit/tree-head', '/openapi.json']) {
      expect((await app.request(p)).headers.get('strict-transport-security'), p).toMatch(/max-age=\d+/);
    }
  });
});

describe('/openapi.json', () => {
  it('is OpenAPI 3.1 and documents every /v1 and public route of the app', async () => {
    const { app } = await createTestApp();
    const res = await call(app, 'GET', '/openapi.json');
    expect(res.status).toBe(200);
    const doc = res.json;
    expect(doc.openapi).toBe('3.1.0');
    expect(doc.info).toMatchObject({ title: 'oubli', version: expect.any(String) });
    expect(doc.components.securitySchemes).toHaveProperty('bearerAuth');
    const documented = new Set<string>();
    for (const [path, ops] of Object.entries(doc.paths as Record<string, Record<string, unknown>>)) {
      for (const m of Object.keys(ops)) documented.add(`${m.toUpperCase()} ${path}`);
    }
    const toOpenApi = (p: string) => p.replace(/:([A-Za-z0-9_]+)(\{[^}]*\})?/g, '{$1}').replace(/\/$/, '') || '/';
    const real = app.routes
      .filter((r) => r.method !== 'ALL' && r.path.startsWith('/v1/'))
      .map((r) => `${r.method} ${toOpenApi(r.path)}`);
    expect(real.length).toBeGreaterThanOrEqual(7);
    const missing = [...new Set(real)].filter((r) => !documented.has(r));
    expect(missing, `routes absent from /openapi.json: ${missing.join(', ')}`).toEqual([]);
    for (const r of ['GET /healthz', 'GET /readyz', 'GET /.well-known/jwks.json', 'POST /v1/auth/login', 'GET /v1/audit/tree-head', 'DELETE /v1/api-keys/{id}']) {
      expect(documented.has(r), r).toBe(true);
    }
    // every documented operation has responses and every $ref resolves
    const text = JSON.stringify(doc);
    for (const ref of text.matchAll(/"\$ref":"#\/components\/schemas\/([^"]+)"/g)) expect(doc.components.schemas).toHaveProperty(ref[1]!);
    for (const ops of Object.values(doc.paths as Record<string, Record<string, { responses: object }>>)) {
      for (const op of Object.values(ops)) expect(Object.keys(op.responses).length).toBeGreaterThan(0);
    }
  });
});

describe('/docs', () => {
  it('serves an HTML page and its local assets', async () => {
    const { app } = await createTestApp();
    const page = await app.request('/docs');
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/text\/html/);
    const html = await page.text();
    expect(html).toMatch(/<title>oubli/);
    const assets = [...html.matchAll(/(?:href|src)="(\/docs\/assets\/[^"]+)"/g)].map((m) => m[1]!);
    expect(assets.length).toBe(3);
    for (const a of assets) {
      const res = await app.request(a);
      expect(res.status, a).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/text\/(css|javascript)/);
      expect((await res.text()).length).toBeGreaterThan(10);
    }
    expect(await (await app.request('/docs/assets/init.js')).text()).toContain('/openapi.json');
    expect((await app.request('/docs/assets/..%2Fpackage.json')).status).toBe(404);
    expect((await app.request('/docs/assets/index.html')).status).toBe(404);
  });
});

describe('/.well-known/jwks.json', () => {
  it('publishes the public Ed25519 keys with kid and alg EdDSA, never the private part', async () => {
    const { app, deps } = await createTestApp();
    const res = await call(app, 'GET', '/.well-known/jwks.json');
    expect(res.status).toBe(200);
    expect(res.json.keys).toHaveLength(1);
    for (const k of res.json.keys) {
      expect(k).toMatchObject({ kty: 'OKP', crv: 'Ed25519', alg: 'EdDSA', kid: deps.keys.activeKid(), x: expect.any(String) });
      expect(k).not.toHaveProperty('d');
    }
    deps.keys.rotate();
    const after = await call(app, 'GET', '/.well-known/jwks.json');
    expect(after.json.keys).toHaveLength(2);
    expect(after.json.keys.map((k: { kid: string }) => k.kid)).toContain(res.json.keys[0].kid);
    expect(after.text).not.toMatch(/"d"/);
  });
});
