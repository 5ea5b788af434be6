/**
 * GET /v1/connectors: each connector, its capabilities, how each matched column is searched and
 * whether an index serves it, and a health check that never 500s, is shared by callers for a
 * few seconds and never hands out a silo's own error text.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import Database from '../../connectors/sql/sqlite-binding.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp } from '../helpers/deps.js';
import { bearer, call } from '../helpers/http.js';
import { authSuite } from '../helpers/auth-suite.js';
import { demoConnectors, ensureDemoSilos } from '../../connectors/demo/index.js';
import { sqlConnector } from '../../connectors/sql/index.js';
import type { Connector } from '../../connectors/types.js';
import { HEALTH_CACHE_MS } from '../../src/deployment/health.js';

let dir: string;
let silos: Connector[];
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'oubli-conn-routes-'));
  ensureDemoSilos(dir, { customers: 20 });
  silos = demoConnectors(dir);
});
afterAll(async () => {
  for (const c of silos) await c.close?.();
  rmSync(dir, { recursive: true, force: true });
});

const fake = (over: Partial<Connector>): Connector => ({
  id: 'fake',
  title: 'Fake',
  lookupBy: ['email'],
  capabilities: { access: true, erasure: false },
  access: async () => ({ collections: [], discovered: [] }),
  erase: async () => ({ collections: [] }),
  ...over,
});

describe('GET /v1/connectors', () => {
  it('lists each connector with capabilities and live health', async () => {
    const { app, deps } = await createTestApp();
    deps.connectors = silos;
    const { authorization } = await bearer(deps, ['requests:read']);
    const res = await call(app, 'GET', '/v1/connectors', { headers: { authorization } });
    expect(res.status).toBe(200);
    expect(res.json.items.map((c: { id: string }) => c.id)).toEqual(['shop', 'loyalty', 'crm', 'newsletter', 'analytics']);
    const shop = res.json.items[0];
    expect(shop).toMatchObject({ title: 'Web shop', capabilities: { access: true, erasure: true }, health: { ok: true } });
    expect(shop.lookupBy).toEqual(expect.arrayContaining(['email', 'phone', 'customer_id']));
    expect(res.json.items.every((c: { health: { ok: boolean } }) => c.health.ok)).toBe(true);
    // The demo silos carry the indexes their lookups need: every matched column is served.
    expect(shop.matching).toEqual(
      expect.arrayContaining([
        { collection: 'customers', identity: 'email', column: 'email', normalization: 'casefold', compares: 'lower(trim(email))', index: { served: true, name: expect.any(String) } },
        { collection: 'customers', identity: 'phone', column: 'phone', normalization: 'phone', compares: 'phone', index: { served: true, name: 'customers_phone' } },
      ]),
    );
    for (const item of res.json.items) {
      for (const l of item.matching) expect(l.index.served, `${item.id}.${l.collection}.${l.column}`).toBe(true);
      expect(item.health.warnings).toBeUndefined();
    }
  });

  it('says which matched columns no index serves, with the index to create, and warns', async () => {
    const { app, deps } = await createTestApp();
    const file = join(dir, 'bare.db');
    const db = new Database(file);
    db.exec('CREATE TABLE customers (id INTEGER PRIMARY KEY, email TEXT, phone TEXT); CREATE INDEX customers_phone ON customers (phone)');
    db.close();
    const bare = sqlConnector({
      id: 'bare',
      title: 'Bare',
      driver: 'sqlite',
      filename: file,
      collections: { customers: { table: 'customers', key: 'id', match: { email: 'email', phone: 'phone' }, erase: { action: 'delete' } } },
    });
    await bare.init();
    deps.connectors = [bare];
    const { authorization } = await bearer(deps, ['requests:read']);
    const res = await call(app, 'GET', '/v1/connectors', { headers: { authorization } });
    const [item] = res.json.items;
    expect(item.matching).toEqual([
      {
        collection: 'customers',
        identity: 'email',
        column: 'email',
        normalization: 'casefold',
        compares: 'lower(trim(email))',
        index: { served: false },
        recommendation: 'CREATE INDEX customers_email_casefold ON customers (lower(trim(email)))',
      },
      { collection: 'customers', identity: 'phone', column: 'phone', normalization: 'phone', compares: 'phone', index: { served: true, name: 'customers_phone' } },
    ]);
    expect(item.health).toMatchObject({ ok: true, warnings: [expect.stringContaining('customers.email: no index serves the email lookup on lower(trim(email))')] });
    await bare.close();
  });

  it('a burst of callers makes one health check per silo; a new one after a few seconds', async () => {
    const { app, deps } = await createTestApp();
    let checks = 0;
    deps.connectors = [
      fake({
        id: 'counted',
        health: async () => {
          checks++;
          await new Promise((r) => setTimeout(r, 20));
          return { ok: true, latencyMs: 20 };
        },
      }),
    ];
    const { authorization } = await bearer(deps, ['requests:read']);
    const burst = await Promise.all(Array.from({ length: 25 }, () => call(app, 'GET', '/v1/connectors', { headers: { authorization } })));
    expect(burst.every((r) => r.status === 200 && r.json.items[0].health.ok)).toBe(true);
    expect(checks).toBe(1);
    deps.clock.advance(HEALTH_CACHE_MS - 1);
    await call(app, 'GET', '/v1/connectors', { headers: { authorization } });
    expect(checks).toBe(1);
    deps.clock.advance(2);
    const later = await call(app, 'GET', '/v1/connectors', { headers: { authorization } });
    expect(checks).toBe(2);
    expect(later.json.items[0].health.checkedAt).toBe(new Date(deps.clock.now()).toISOString());
  });

  it("never answers with a silo's own error text: hosts, paths and values stay in the log", async () => {
    const { app, deps } = await createTestApp();
    const secretFile = join(dir, 'secret-mount-7f3a', 'silo.db');
    const sqliteDown = sqlConnector({
      id: 'sqlite-down',
      title: 'Down',
      driver: 'sqlite',
      filename: secretFile,
      collections: { t: { table: 't', key: 'id', match: { email: 'email' }, erase: { action: 'delete' } } },
    });
    deps.connectors = [
      sqliteDown,
      fake({ id: 'leaky-throw', health: async () => { throw Object.assign(new Error('connect ECONNREFUSED 10.1.2.3:5432 for alice@example.com'), { code: 'ECONNREFUSED' }); } }),
      fake({ id: 'leaky-answer', health: async () => ({ ok: false, code: 'SILO_AUTH', message: 'password authentication failed for user "shop" on db-7.internal' }) }),
      fake({ id: 'odd-code', health: async () => ({ ok: false, code: 'bad code; <script>', message: '/etc/oubli/secret' }) }),
    ];
    const { authorization } = await bearer(deps, ['requests:read']);
    const res = await call(app, 'GET', '/v1/connectors', { headers: { authorization } });
    expect(res.status).toBe(200);
    for (const leak of ['secret-mount-7f3a', dir, '10.1.2.3', 'alice@example.com', 'db-7.internal', 'password', '/etc/oubli', '<script>', 'ECONNREFUSED']) {
      expect(res.text).not.toContain(leak);
    }
    const byId = Object.fromEntries(res.json.items.map((c: { id: string; health: unknown }) => [c.id, c.health]));
    expect(byId['sqlite-down']).toMatchObject({ ok: false, code: 'SILO_UNAVAILABLE', message: 'the silo cannot be reached' });
    expect(byId['leaky-throw']).toMatchObject({ ok: false, code: 'HEALTH_FAILED', message: 'the health check failed' });
    expect(byId['leaky-answer']).toMatchObject({ ok: false, code: 'SILO_AUTH', message: 'the silo refused the credentials' });
    expect(byId['odd-code']).toMatchObject({ ok: false, code: 'UNHEALTHY', message: 'the silo reports a problem' });
    await sqliteDown.close();
  });

  it('an empty deployment lists nothing', async () => {
    const { app, deps } = await createTestApp();
    const { authorization } = await bearer(deps, ['requests:read']);
    const res = await call(app, 'GET', '/v1/connectors', { headers: { authorization } });
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ items: [] });
  });

  it('a silo that is down, throws, hangs or has no health check is reported, not a 500', async () => {
    const { app, deps } = await createTestApp();
    const down = sqlConnector({
      id: 'pg-down',
      title: 'Down',
      driver: 'postgres',
      connection: { host: '127.0.0.1', port: 1, user: 'x', database: 'x', connectionTimeoutMillis: 500 },
      collections: { t: { table: 't', key: 'id', match: { email: 'email' }, erase: { action: 'delete' } } },
    });
    deps.connectors = [
      down,
      fake({ id: 'throws', health: async () => { throw new Error('boom'); } }),
      fake({ id: 'hangs', health: () => new Promise(() => {}) }),
      fake({ id: 'nohealth' }),
    ];
    const { authorization } = await bearer(deps, ['requests:read']);
    const started = Date.now();
    const res = await call(app, 'GET', '/v1/connectors', { headers: { authorization } });
    expect(Date.now() - started).toBeLessThan(5000);
    expect(res.status).toBe(200);
    const byId = Object.fromEntries(res.json.items.map((c: { id: string; health: unknown }) => [c.id, c.health]));
    expect(byId['pg-down']).toMatchObject({ ok: false, code: 'SILO_UNAVAILABLE', message: 'the silo cannot be reached' });
    expect(byId.throws).toMatchObject({ ok: false, code: 'HEALTH_FAILED', message: 'the health check failed' });
    expect(byId.hangs).toMatchObject({ ok: false, code: 'HEALTH_TIMEOUT', message: 'no answer within 2000 ms' });
    expect(byId.nohealth).toBeNull();
    await down.close();
  }, 15_000);

  it('is documented in /openapi.json', async () => {
    const { app } = await createTestApp();
    const res = await call(app, 'GET', '/openapi.json');
    expect(res.json.paths['/v1/connectors']?.get).toBeTruthy();
  });
});

authSuite('connectors', () => createTestApp(), [{ method: 'GET', path: '/v1/connectors', scope: 'requests:read' }]);
