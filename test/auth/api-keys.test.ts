/**
 * API keys through the real HTTP path: created once and shown once, listed without secrets,
 * stored as SHA-256, revoked at once, audited; admin scope or an admin session required.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it, vi } from 'vitest';
import { createTestApp } from '../helpers/deps.js';
import { bearer, call } from '../helpers/http.js';
import { authSuite } from '../helpers/auth-suite.js';
import { SCOPES } from '../../src/db/schema/api-keys.js';
import { auditTexts } from './helpers.js';
import { adminOf } from '../helpers/admin-sql.js';
import { secondInstance } from '../consent/instances.js';
import { createApp } from '../../src/app.js';
import { ApiKeyCache } from '../../src/auth/api-key-cache.js';

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

async function setup() {
  const { app, deps } = await createTestApp();
  const admin = await bearer(deps, ['admin'], 'bootstrap');
  return { app, deps, headers: { authorization: admin.authorization }, adminKeyId: admin.keyId };
}

describe('POST /v1/api-keys', () => {
  it('201 with the key shown once: prefixed, ≥ 32 random bytes, stored only as SHA-256', async () => {
    const { app, deps, headers } = await setup();
    const res = await call(app, 'POST', '/v1/api-keys', { headers, body: { name: 'crm sync', scopes: ['consents:read', 'consents:write', 'consents:read'] } });
    expect(res.status).toBe(201);
    expect(res.json).toEqual({
      id: expect.stringMatching(/^key_/),
      name: 'crm sync',
      prefix: res.json.key.slice(0, 15),
      scopes: ['consents:read', 'consents:write'],
      createdAt: new Date(deps.now()).toISOString(),
      revokedAt: null,
      key: expect.stringMatching(/^oubli_sk_[A-Za-z0-9_-]{43}$/),
    });
    expect(Buffer.from(res.json.key.slice(9), 'base64url').length).toBeGreaterThanOrEqual(32);
    const row = (await adminOf(deps.db).all('select * from api_keys where id = ?', res.json.id))[0] as Record<string, unknown>;
    expect(row.hash).toBe(sha256(res.json.key));
    expect(JSON.stringify(row)).not.toContain(res.json.key);
    expect(JSON.stringify(row)).not.toContain(res.json.key.slice(15));
    // the audit entry names the key by id, never its secret
    const entry = JSON.parse((await auditTexts(deps)).at(-1)!);
    expect(entry).toMatchObject({ type: 'api_key.created', actor: { type: 'api_key' }, data: { keyId: res.json.id, scopes: ['consents:read', 'consents:write'] } });
    expect((await auditTexts(deps)).join()).not.toContain(res.json.key.slice(15));
    // it works right away, within its scopes only
    const key = { authorization: `Bearer ${res.json.key}` };
    expect((await call(app, 'GET', '/v1/audit/tree-head', { headers: key })).status).toBe(403);
    const withAudit = await call(app, 'POST', '/v1/api-keys', { headers, body: { name: 'auditor', scopes: ['audit:read'] } });
    expect((await call(app, 'GET', '/v1/audit/tree-head', { headers: { authorization: `Bearer ${withAudit.json.key}` } })).status).toBe(200);
  });

  it('two keys never collide', async () => {
    const { app, headers } = await setup();
    const keys = new Set<string>();
    for (let i = 0; i < 20; i++) keys.add((await call(app, 'POST', '/v1/api-keys', { headers, body: { name: `k${i}`, scopes: ['audit:read'] } })).json.key);
    expect(keys.size).toBe(20);
  });

  it('bad bodies → 400 and nothing written', async () => {
    const { app, deps, headers } = await setup();
    const size = await deps.audit.size();
    const count = () => adminOf(deps.db).value('select count(*) from api_keys');
    const before = await count();
    for (const body of [
      { name: 'x', scopes: [] },
      { name: '', scopes: ['admin'] },
      { name: '   ', scopes: ['admin'] },
      { name: 'x'.repeat(101), scopes: ['admin'] },
      { name: 'x', scopes: ['root'] },
      { name: 'x', scopes: 'admin' },
      { name: 42, scopes: ['admin'] },
      { name: 'x', scopes: ['admin'], key: 'oubli_sk_chosen' },
      { scopes: ['admin'] },
      [],
      null,
    ]) {
      const res = await call(app, 'POST', '/v1/api-keys', { headers, body });
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.json.error.code).toBe('VALIDATION_FAILED');
      expect(res.json.error.details.fields.length).toBeGreaterThan(0);
    }
    expect((await call(app, 'POST', '/v1/api-keys', { headers, raw: '{"name":' })).json.error.code).toBe('INVALID_JSON');
    expect(await deps.audit.size()).toBe(size);
    expect(await count()).toBe(before);
  });
});

describe('GET /v1/api-keys', () => {
  it('lists keys, newest first, never with the key or its hash', async () => {
    const { app, deps, headers } = await setup();
    deps.clock.advance(1000); // ids made within one ms are not ordered
    const a = (await call(app, 'POST', '/v1/api-keys', { headers, body: { name: 'a', scopes: ['audit:read'] } })).json;
    deps.clock.advance(1000);
    const b = (await call(app, 'POST', '/v1/api-keys', { headers, body: { name: 'b', scopes: [...SCOPES] } })).json;
    const res = await call(app, 'GET', '/v1/api-keys', { headers });
    expect(res.status).toBe(200);
    expect(res.json.keys.map((k: { name: string }) => k.name)).toEqual(['b', 'a', 'bootstrap']);
    for (const k of res.json.keys) expect(Object.keys(k).sort()).toEqual(['createdAt', 'id', 'name', 'prefix', 'revokedAt', 'scopes']);
    for (const secret of [a.key, b.key, sha256(a.key), sha256(b.key), a.key.slice(15), b.key.slice(15)]) expect(res.text).not.toContain(secret);
  });
});

describe('DELETE /v1/api-keys/{id}', () => {
  it('revokes: the key stops working at once, the revocation is audited, a second revoke is 404', async () => {
    const { app, deps, headers } = await setup();
    const k = (await call(app, 'POST', '/v1/api-keys', { headers, body: { name: 'soon gone', scopes: ['audit:read'] } })).json;
    const auth = { authorization: `Bearer ${k.key}` };
    expect((await call(app, 'GET', '/v1/audit/entries', { headers: auth })).status).toBe(200);
    deps.clock.advance(5000);
    const del = await call(app, 'DELETE', `/v1/api-keys/${k.id}`, { headers });
    expect(del.status).toBe(204);
    const after = await call(app, 'GET', '/v1/audit/entries', { headers: auth });
    expect(after.status).toBe(401);
    expect(after.json.error.code).toBe('INVALID_API_KEY');
    const entry = JSON.parse((await auditTexts(deps)).at(-1)!);
    expect(entry).toMatchObject({ type: 'api_key.revoked', data: { keyId: k.id } });
    const listed = (await call(app, 'GET', '/v1/api-keys', { headers })).json.keys.find((x: { id: string }) => x.id === k.id);
    expect(listed.revokedAt).toBe(new Date(deps.now()).toISOString());
    const size = await deps.audit.size();
    const again = await call(app, 'DELETE', `/v1/api-keys/${k.id}`, { headers });
    expect(again.status).toBe(404);
    expect(again.json.error.code).toBe('API_KEY_NOT_FOUND');
    expect((await call(app, 'DELETE', '/v1/api-keys/key_does_not_exist', { headers })).status).toBe(404);
    expect(await deps.audit.size()).toBe(size);
  });

  it('an admin key can revoke itself, and is refused on its next call', async () => {
    const { app, headers, adminKeyId } = await setup();
    expect((await call(app, 'DELETE', `/v1/api-keys/${adminKeyId}`, { headers })).status).toBe(204);
    expect((await call(app, 'GET', '/v1/api-keys', { headers })).status).toBe(401);
  });
});

describe('revocation across instances (src/auth/api-key-cache.ts)', () => {
  it('a key revoked on another instance is refused here on the next request, though this instance had just used it', async () => {
    const { app, deps, headers } = await setup();
    const b = await secondInstance(deps);
    try {
      const appB = createApp(b);
      const k = (await call(app, 'POST', '/v1/api-keys', { headers, body: { name: 'shared', scopes: ['audit:read'] } })).json;
      const auth = { authorization: `Bearer ${k.key}` };
      expect((await call(appB, 'GET', '/v1/audit/entries', { headers: auth })).status).toBe(200); // looked up (and remembered) on B
      expect((await call(app, 'DELETE', `/v1/api-keys/${k.id}`, { headers })).status).toBe(204); // revoked on A
      await expect.poll(async () => (await call(appB, 'GET', '/v1/audit/entries', { headers: auth })).status, { timeout: 1000, interval: 5 }).toBe(401);
    } finally {
      await b.close();
    }
  });

  it('a revocation whose announcement fails is still a 204 (it is committed) and refused here at once', async () => {
    const { app, deps, headers } = await setup();
    const k = (await call(app, 'POST', '/v1/api-keys', { headers, body: { name: 'quiet', scopes: ['audit:read'] } })).json;
    const auth = { authorization: `Bearer ${k.key}` };
    expect((await call(app, 'GET', '/v1/audit/entries', { headers: auth })).status).toBe(200);
    vi.spyOn(deps.db, 'notify').mockRejectedValueOnce(new Error('connection lost'));
    expect((await call(app, 'DELETE', `/v1/api-keys/${k.id}`, { headers })).status).toBe(204);
    expect((await call(app, 'GET', '/v1/audit/entries', { headers: auth })).status).toBe(401);
  });

  it('a lookup that read the key before its revocation committed keeps nothing: the next request is refused', async () => {
    const { app, deps, headers } = await setup();
    const k = (await call(app, 'POST', '/v1/api-keys', { headers, body: { name: 'raced', scopes: ['audit:read'] } })).json;
    const auth = { authorization: `Bearer ${k.key}` };
    const read = deps.db.auth.activeApiKey.bind(deps.db.auth);
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let readIt!: () => void;
    const hasRead = new Promise<void>((r) => (readIt = r));
    const spy = vi.spyOn(deps.db.auth, 'activeApiKey').mockImplementationOnce(async (hash) => {
      const row = await read(hash); // still active
      readIt();
      await gate; // … and answered only after the revocation below
      return row;
    });
    try {
      const slow = call(app, 'GET', '/v1/audit/entries', { headers: auth });
      await hasRead;
      expect((await call(app, 'DELETE', `/v1/api-keys/${k.id}`, { headers })).status).toBe(204);
      release();
      expect((await slow).status).toBe(200); // it began before the revocation
      expect((await call(app, 'GET', '/v1/audit/entries', { headers: auth })).status).toBe(401);
    } finally {
      spy.mockRestore();
    }
  });

  it('a revocation nobody announced (a DB administrator setting revoked_at) holds within the time-to-live', async () => {
    const { deps } = await setup();
    let clock = 0;
    const cache = new ApiKeyCache(deps.db, { ttlMs: 2000, clock: () => clock });
    const app = createApp({ ...deps, apiKeys: cache });
    const k = await bearer(deps, ['audit:read'], 'edited');
    const status = async () => (await call(app, 'GET', '/v1/audit/entries', { headers: { authorization: k.authorization } })).status;
    expect(await status()).toBe(200);
    await adminOf(deps.db).run('update api_keys set revoked_at = 1 where id = ?', k.keyId);
    clock = 1999;
    expect(await status()).toBe(200); // remembered for the time-to-live, on both stores
    clock = 2000;
    expect(await status()).toBe(401);
    // An unknown or revoked key is never remembered: each attempt asks the database.
    const reads = vi.spyOn(deps.db.auth, 'activeApiKey');
    await status();
    await status();
    expect(reads).toHaveBeenCalledTimes(2);
  });
});

describe('Authorization header handling', () => {
  it('malformed bearer headers → 401 INVALID_API_KEY (never a session fallback)', async () => {
    const { app } = await setup();
    for (const authorization of ['Bearer', 'Basic abc', 'Bearer a b', 'bearer nope', `Bearer oubli_sk_${'a'.repeat(200)}`, 'Bearer ']) {
      const res = await call(app, 'GET', '/v1/api-keys', { headers: { authorization } });
      expect(res.status, authorization).toBe(401);
      expect(res.json.error.code).toBe('INVALID_API_KEY');
    }
  });
});

authSuite('api keys', () => createTestApp(), [
  { method: 'POST', path: '/v1/api-keys', scope: 'admin', body: { name: 'x', scopes: ['audit:read'] } },
  { method: 'GET', path: '/v1/api-keys', scope: 'admin' },
  { method: 'DELETE', path: '/v1/api-keys/key_123', scope: 'admin' },
]);
