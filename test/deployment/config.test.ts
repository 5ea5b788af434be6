/**
 * Deployment config: typed oubli.config.ts loaded at start, zod errors naming the connector and
 * the field, live-schema checks at start-up, no config → no connectors, and `oubli serve` refusing
 * to start on a bad config with a clear message.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { spawnSync } from 'node:child_process';
import Database from '../../connectors/sql/sqlite-binding.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeploymentConfigError, buildDeployment, closeConnectors, defineConfig, loadDeployment, loadDeploymentConfig } from '../../src/deployment/config.js';
import type { Connector } from '../../connectors/types.js';
import { serve } from '../cli/helpers.js';

let dir: string;
let silo: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'oubli-deploy-'));
  silo = join(dir, 'shop.db');
  const db = new Database(silo);
  db.exec(`CREATE TABLE customers (id INTEGER PRIMARY KEY, email TEXT, phone TEXT);
           CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id INTEGER, total INTEGER);`);
  db.close();
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const shop = (collections?: Record<string, unknown>) => ({
  id: 'shop',
  title: 'Shop',
  driver: 'sqlite',
  filename: silo,
  collections: collections ?? {
    customers: { table: 'customers', key: 'id', match: { email: 'email', phone: 'phone' }, discover: { customer_id: 'id' }, erase: { action: 'delete' } },
    orders: { table: 'orders', key: 'id', relations: { customer_id: 'customers.id' }, erase: { action: 'delete' } },
  },
});

let n = 0;
/** Writes a config module (TypeScript) and returns its path. */
function configFile(body: string, name = `oubli.config.${++n}.ts`): string {
  const p = join(dir, name);
  writeFileSync(p, body);
  return p;
}

describe('defineConfig / buildDeployment', () => {
  it('defineConfig is a typed identity', () => {
    const cfg = defineConfig({ connectors: [], requireApproval: ['erasure'] });
    expect(cfg).toEqual({ connectors: [], requireApproval: ['erasure'] });
  });

  it('builds SQL declarations and accepts hand-written Connector objects', async () => {
    const custom: Connector = {
      id: 'custom',
      title: 'Custom silo',
      lookupBy: ['email'],
      capabilities: { access: true, erasure: true },
      access: async () => ({ collections: [], discovered: [] }),
      erase: async () => ({ collections: [] }),
    };
    const d = buildDeployment({ connectors: [shop(), custom], requireApproval: ['erasure'] });
    expect(d.connectors.map((c) => c.id)).toEqual(['shop', 'custom']);
    expect(d.connectors[1]).toBe(custom);
    expect(d.requireApproval).toEqual(['erasure']);
    await closeConnectors(d.connectors);
  });

  it('a malformed SQL declaration names the connector and the field', () => {
    const bad = shop();
    delete (bad.collections as any).orders.table;
    expect(() => buildDeployment({ connectors: [bad] })).toThrow('connector "shop": collections.orders.table: required');
  });

  it('a malformed Connector object names the connector and the field', () => {
    const bad = { id: 'custom', title: 'X', capabilities: { access: true, erasure: true }, access: async () => ({}), erase: 'nope' };
    const err = (() => {
      try {
        buildDeployment({ connectors: [bad] });
      } catch (e) {
        return e as Error;
      }
    })();
    expect(err).toBeInstanceOf(DeploymentConfigError);
    expect(err!.message).toContain('connector "custom": lookupBy: required');
    expect(err!.message).toContain('connector "custom": erase: must be a function');
  });

  it('person-unique identity types: email, customer_id and loyalty_card by default; the deployment may say otherwise', () => {
    expect(buildDeployment({ connectors: [] }).uniqueIdentityTypes).toEqual(['email', 'customer_id', 'loyalty_card']);
    expect(buildDeployment({ connectors: [], identities: { unique: ['email', 'member_no'] } }).uniqueIdentityTypes).toEqual(['email', 'member_no']);
    expect(() => buildDeployment({ connectors: [], identities: { unique: ['E-mail'] } })).toThrow(/identities\.unique\.0: identity types are lower-case/);
    expect(() => buildDeployment({ connectors: [], identities: { uniq: [] } })).toThrow(/identities/);
  });

  it('rejects unknown request types in requireApproval, unknown keys and duplicate ids', () => {
    expect(() => buildDeployment({ connectors: [], requireApproval: ['deletion'] })).toThrow(/requireApproval\.0:/);
    expect(() => buildDeployment({ connectors: [], conectors: [] })).toThrow(/conectors/);
    expect(() => buildDeployment({ connectors: [shop(), shop()] })).toThrow('connector "shop": id: declared more than once');
    expect(() => buildDeployment({ connectors: [{ title: 'no id' }] })).toThrow('connectors.0: id: required');
  });
});

describe('loadDeploymentConfig', () => {
  it('imports a TypeScript config, validates it and checks the live schema', async () => {
    const p = configFile(`export default { requireApproval: ['erasure'], connectors: [${JSON.stringify(shop())}] };`);
    const d = await loadDeploymentConfig(p);
    expect(d.source).toBe(p);
    expect(d.connectors.map((c) => c.id)).toEqual(['shop']);
    expect(d.connectors[0]!.lookupBy).toEqual(['email', 'phone']);
    expect(d.requireApproval).toEqual(['erasure']);
    await closeConnectors(d.connectors);
  });

  it('a table that does not exist fails start-up naming connector, collection and table', async () => {
    const cfg = shop();
    (cfg.collections as any).orders.table = 'orderz';
    const p = configFile(`export default { connectors: [${JSON.stringify(cfg)}] };`);
    const err = (await loadDeploymentConfig(p).catch((e: unknown) => e)) as Error;
    expect(err).toBeInstanceOf(DeploymentConfigError);
    expect(err.message).toContain(p);
    expect(err.message).toContain('connector "shop": collections.orders.table: table "orderz" does not exist');
  });

  it('a column that does not exist fails start-up naming the field and column', async () => {
    const cfg = shop();
    (cfg.collections as any).customers.match.phone = 'mobile';
    const p = configFile(`export default { connectors: [${JSON.stringify(cfg)}] };`);
    await expect(loadDeploymentConfig(p)).rejects.toThrow('connector "shop": collections.customers.match.phone: column "mobile" does not exist in table "customers"');
  });

  it('a zod error in the file names the connector and field; a syntax error names the file', async () => {
    const cfg = shop();
    delete (cfg.collections as any).orders.table;
    const p = configFile(`export default { connectors: [${JSON.stringify(cfg)}] };`);
    await expect(loadDeploymentConfig(p)).rejects.toThrow('connector "shop": collections.orders.table: required');
    const broken = configFile('export default { connectors: [ ');
    await expect(loadDeploymentConfig(broken)).rejects.toThrow(broken);
    const noDefault = configFile('export const other = 1;');
    await expect(loadDeploymentConfig(noDefault)).rejects.toThrow(/export the configuration as default/);
  });

  it('no config file → no connectors; OUBLI_CONFIG naming a missing file is an error', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'oubli-noconf-'));
    try {
      expect(await loadDeployment(empty)).toEqual({ source: null, connectors: [], requireApproval: [], uniqueIdentityTypes: ['email', 'customer_id', 'loyalty_card'] });
      await expect(loadDeployment(empty, 'missing.config.ts')).rejects.toThrow(/OUBLI_CONFIG: .*missing\.config\.ts does not exist/);
      writeFileSync(join(empty, 'oubli.config.ts'), `export default { connectors: [${JSON.stringify(shop())}] };`);
      const found = await loadDeployment(empty);
      expect(found.source).toBe(join(empty, 'oubli.config.ts'));
      await closeConnectors(found.connectors);
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });

  it('the shipped oubli.config.example.ts is a valid declaration', async () => {
    process.env.SHOP_MASK_KEY ??= 'example-mask-key-for-the-test';
    process.env.NEWSLETTER_CLIENT_SECRET ??= 'example-client-secret-for-the-test';
    const d = await loadDeploymentConfig(resolve('oubli.config.example.ts'), { init: false });
    expect(d.connectors.map((c) => c.id)).toEqual(['shop', 'loyalty', 'newsletter']);
    expect(d.requireApproval).toEqual(['erasure']);
    await closeConnectors(d.connectors);
  });
});

describe('oubli serve', () => {
  it('refuses to start on a config naming a missing table, with a clear message', () => {
    const cfg = shop();
    (cfg.collections as any).orders.table = 'orderz';
    const p = configFile(`export default { connectors: [${JSON.stringify(cfg)}] };`);
    const r = spawnSync(process.execPath, ['bin/oubli.js', 'serve'], {
      env: { ...process.env, OUBLI_CONFIG: p, OUBLI_DATA_DIR: join(dir, 'data'), PORT: '0', OUBLI_LOG_LEVEL: 'silent' },
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('invalid deployment config');
    expect(r.stderr).toContain('connector "shop": collections.orders.table: table "orderz" does not exist');
    expect(r.stdout).not.toContain('listening');
  }, 30_000);


  it('says at start-up, per matched column, whether an index serves the lookup, and which index to create when none does', async () => {
    const p = configFile(`export default { connectors: [${JSON.stringify(shop())}] };`);
    const db = new Database(silo);
    db.exec('CREATE INDEX IF NOT EXISTS customers_phone ON customers (phone)');
    db.close();
    const served = await serve({ dataDir: join(dir, 'data-report'), env: { OUBLI_CONFIG: p, OUBLI_LOG_LEVEL: 'info' } });
    try {
      // Logs go to stderr, asynchronously: wait for the report's lines.
      const deadline = Date.now() + 5000;
      while (!served.stderr().includes('"column":"email"') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      const lines = served
        .stderr()
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as Record<string, unknown>);
      const about = (column: string) => lines.find((l) => l.connector === 'shop' && l.column === column && typeof l.msg === 'string' && /^lookup/.test(l.msg));
      expect(about('phone')).toMatchObject({ collection: 'customers', identity: 'phone', normalization: 'phone', compares: 'phone', index: 'customers_phone', msg: 'lookup served by an index' });
      expect(about('email')).toMatchObject({
        collection: 'customers',
        identity: 'email',
        normalization: 'casefold',
        compares: 'lower(trim(email))',
        recommendation: 'CREATE INDEX customers_email_casefold ON customers (lower(trim(email)))',
        msg: 'lookup not served by any index: each search scans the table',
      });
      expect(about('customer_id')).toMatchObject({ collection: 'orders', via: 'customers.id', msg: expect.stringMatching(/^lookup not served/) });
    } finally {
      await served.stop();
    }
  }, 30_000);
});
