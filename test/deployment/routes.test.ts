/** GET /v1/connectors: each connector, its capabilities and a live health check that never 500s. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp } from '../helpers/deps.js';
import { bearer, call } from '../helpers/http.js';
import { authSuite } from '../helpers/auth-suite.js';
import { demoConnectors, ensureDemoSilos } from '../../connectors/demo/index.js';
import { sqlConnector } from '../../connectors/sql/index.js';
import type { Connector } from '../../connectors/types.js';

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
    const { app, deps } = createTestApp();
    deps.connectors = silos;
    const { authorization } = bearer(deps, ['requests:read']);
    const res = await call(app, 'GET', '/v1/connectors', { headers: { authorization } });
    expect(res.status).toBe(200);
    expect(res.json.items.map((c: { id: string }) => c.id)).toEqual(['shop', 'loyalty', 'crm', 'newsletter', 'analytics']);
    const shop = res.json.items[0];
    expect(shop).toMatchObject({ title: 'Web shop', capabilities: { access: true, erasure: true }, health: { ok: true } });
    expect(shop.lookupBy).toEqual(expect.arrayContaining(['email', 'phone', 'customer_id']));
    expect(res.json.items.every((c: { health: { ok: boolean } }) => c.health.ok)).toBe(true);
  });

  it('an empty deployment lists nothing', async () => {
    const { app, deps } = createTestApp();
    const { authorization } = bearer(deps, ['requests:read']);
    const res = await call(app, 'GET', '/v1/connectors', { headers: { authorization } });
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ items: [] });
  });

  it('a silo that is down, throws, hangs or has no health check is reported, not a 500', async () => {
    const { app, deps } = createTestApp();
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
    const { authorization } = bearer(deps, ['requests:read']);
    const started = Date.now();
    const res = await call(app, 'GET', '/v1/connectors', { headers: { authorization } });
    expect(Date.now() - started).toBeLessThan(5000);
    expect(res.status).toBe(200);
    const byId = Object.fromEntries(res.json.items.map((c: { id: string; health: unknown }) => [c.id, c.health]));
    expect(byId['pg-down']).toMatchObject({ ok: false, message: expect.stringMatching(/SILO_UNAVAILABLE/) });
    expect(byId.throws).toMatchObject({ ok: false, message: expect.stringContaining('boom') });
    expect(byId.hangs).toMatchObject({ ok: false, message: expect.stringMatching(/no answer within/) });
    expect(byId.nohealth).toBeNull();
    await down.close();
  }, 15_000);

  it('is documented in /openapi.json', async () => {
    const { app } = createTestApp();
    const res = await call(app, 'GET', '/openapi.json');
    expect(res.json.paths['/v1/connectors']?.get).toBeTruthy();
  });
});

authSuite('connectors', () => createTestApp(), [{ method: 'GET', path: '/v1/connectors', scope: 'requests:read' }]);
