/**
 * Issue 13's scenario through the real path: a web shop declared in an `oubli.config.ts`, loaded
 * by the deployment loader, run by the real engine. The shop stored one customer's email as she
 * typed it (`Zoe.Erase@Example.com`) and another's phone the French way (`06 11 11 00 04`);
 * verified erasures by `zoe.erase@example.com` and `+33 6 11 11 00 04` must leave nothing of
 * either in the shop — on PostgreSQL (the issue's silo), SQLite and MariaDB alike. And the
 * erasure's verification must see what an erasure missed (it uses the same matching).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeConnectors, loadDeploymentConfig } from '../../src/deployment/config.js';
import type { Connector } from '../../connectors/types.js';
import { engineHarness } from '../engine/helpers.js';
import { mysqlTarget, postgresTarget, sqliteTarget, type SqlTarget } from './sql-fixture.js';

const SHOP_DDL = {
  sqlite: `CREATE TABLE customers (id INTEGER PRIMARY KEY, email TEXT NOT NULL, phone TEXT, full_name TEXT NOT NULL);
    CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id INTEGER NOT NULL REFERENCES customers(id), total_cents INTEGER NOT NULL)`,
  postgres: `CREATE TABLE customers (id integer PRIMARY KEY, email varchar(200) NOT NULL, phone varchar(32), full_name varchar(200) NOT NULL);
    CREATE TABLE orders (id integer PRIMARY KEY, customer_id integer NOT NULL REFERENCES customers(id), total_cents integer NOT NULL)`,
  mysql: `CREATE TABLE customers (id INT PRIMARY KEY, email VARCHAR(200) NOT NULL, phone VARCHAR(32), full_name VARCHAR(200) NOT NULL) ENGINE=InnoDB;
    CREATE TABLE orders (id INT PRIMARY KEY, customer_id INT NOT NULL, total_cents INT NOT NULL, FOREIGN KEY (customer_id) REFERENCES customers(id)) ENGINE=InnoDB`,
};

async function seedShop(t: SqlTarget): Promise<void> {
  for (const stmt of SHOP_DDL[t.dialect].split(';')) await t.exec(stmt);
  await t.exec(`INSERT INTO customers (id, email, phone, full_name) VALUES
    (1, 'Zoe.Erase@Example.com', NULL, 'Zoé Erase'),
    (2, 'paul.phone@example.com', '06 11 11 00 04', 'Paul Phone'),
    (3, 'zoe.erase@example.org', '06 11 11 00 05', 'Someone Else')`);
  await t.exec('INSERT INTO orders (id, customer_id, total_cents) VALUES (10, 1, 1200), (11, 1, 800), (20, 2, 500), (30, 3, 100)');
}

const dir = mkdtempSync(join(tmpdir(), 'oubli-i13-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The deployment's oubli.config.ts, as a new user writes it: no matching options at all. */
function writeConfig(t: SqlTarget): string {
  const file = join(dir, `oubli.config.${t.dialect}.ts`);
  writeFileSync(
    file,
    `export default {
  connectors: [{
    id: 'shop', title: 'Web shop', ...${JSON.stringify(t.base)},
    collections: {
      customers: { table: 'customers', key: 'id', match: { email: 'email', phone: 'phone' }, discover: { customer_id: 'id' }, portable: true, erase: { action: 'delete' } },
      orders: { table: 'orders', key: 'id', relations: { customer_id: 'customers.id' }, portable: true, erase: { action: 'delete' } },
    },
  }],
};
`,
  );
  return file;
}

for (const make of [postgresTarget, sqliteTarget, mysqlTarget]) {
  describe(`the issue 13 shop on ${make.name.replace('Target', '')}`, () => {
    let t: SqlTarget | null = null;
    let skip = '';
    let connectors: Connector[] = [];
    beforeAll(async () => {
      const made = await make();
      if ('skip' in made) {
        skip = made.skip;
        return;
      }
      t = made;
      await seedShop(t);
      connectors = (await loadDeploymentConfig(writeConfig(t), { phoneRegion: 'FR' })).connectors;
    });
    afterAll(async () => {
      await closeConnectors(connectors);
      await t?.drop();
    });

    it('erasures by the normalised email and by the international phone leave nothing of either customer', async (c) => {
      if (!t) return c.skip(skip);
      const h = await engineHarness(connectors);
      const byEmail = await h.submit('erasure', [{ type: 'email', value: 'zoe.erase@example.com' }]);
      const byPhone = await h.submit('erasure', [{ type: 'phone', value: '+33 6 11 11 00 04' }]);
      await h.engine.runUntilIdle();
      for (const id of [byEmail, byPhone]) {
        const view = await h.api('GET', `/v1/requests/${id}`);
        expect(view.json.status, view.json.statusReason).toBe('completed');
      }
      expect(await t.count('SELECT count(*) AS n FROM customers WHERE id IN (1, 2)')).toBe(0);
      expect(await t.count('SELECT count(*) AS n FROM orders WHERE customer_id IN (1, 2)')).toBe(0);
      // The look-alikes — same local part at another domain, a phone one digit off — are untouched.
      expect(await t.count('SELECT count(*) AS n FROM customers WHERE id = 3')).toBe(1);
      expect(await t.count('SELECT count(*) AS n FROM orders WHERE customer_id = 3')).toBe(1);
    });

    it("the request's tasks say per collection how the person was matched, and 0 records plainly", async (c) => {
      if (!t) return c.skip(skip);
      await t.exec("INSERT INTO customers (id, email, phone, full_name) VALUES (4, '  ANNA.Case@EXAMPLE.com ', NULL, 'Anna Case')");
      const h = await engineHarness(connectors);
      const id = await h.submit('access', [{ type: 'email', value: 'anna.case@example.com' }, { type: 'phone', value: '+33699999999' }]);
      await h.engine.runUntilIdle();
      const view = await h.api('GET', `/v1/requests/${id}`);
      expect(view.json.status, view.json.statusReason).toBe('completed');
      const first = view.json.tasks.find((x: { phase: string; round: number }) => x.phase === 'access' && x.round === 1);
      expect(first.collections).toEqual([
        {
          name: 'customers',
          found: 1,
          portable: true,
          matchedBy: [
            { identity: 'email', column: 'email', normalization: 'casefold', records: 1 },
            { identity: 'phone', column: 'phone', normalization: 'phone', records: 0 },
          ],
        },
        { name: 'orders', found: 0, portable: true, matchedBy: [{ via: 'customers.id', column: 'customer_id', normalization: 'exact', records: 0 }] },
      ]);
      // The preview shows the same.
      const preview = await h.api('POST', '/v1/requests/preview', { type: 'erasure', identities: [{ type: 'email', value: 'Anna.Case@example.com' }] });
      expect(preview.status).toBe(200);
      const shop = preview.json.connectors.find((x: { connector: string }) => x.connector === 'shop');
      expect(shop.collections.find((x: { name: string }) => x.name === 'customers')).toMatchObject({
        found: 1,
        deleted: 1,
        matchedBy: [{ identity: 'email', column: 'email', normalization: 'casefold', records: 1 }],
      });
      await t.exec('DELETE FROM customers WHERE id = 4');
    });

    it('the verification finds a record the erasure missed, by the same matching, and the request does not complete', async (c) => {
      if (!t) return c.skip(skip);
      await t.exec("INSERT INTO customers (id, email, phone, full_name) VALUES (5, 'late.comer@example.com', NULL, 'Late Comer')");
      const [shop] = connectors;
      // A silo that misses a copy during the erasure: another copy, written differently, appears
      // right after it (a replica catching up, an agent typing it in again).
      const leaky: Connector = {
        ...shop!,
        access: shop!.access.bind(shop),
        erase: async (who, ctx) => {
          const r = await shop!.erase(who, ctx);
          await t!.exec("INSERT INTO customers (id, email, phone, full_name) VALUES (6, ' LATE.Comer@Example.COM', NULL, 'Late Comer')");
          return r;
        },
      };
      const h = await engineHarness([leaky]);
      const id = await h.submit('erasure', [{ type: 'email', value: 'late.comer@example.com' }]);
      await h.engine.runUntilIdle();
      const view = await h.api('GET', `/v1/requests/${id}`);
      expect(view.json.status).toBe('needs_attention');
      expect(view.json.verification).toMatchObject({ ok: false, residual: [{ connector: 'shop', collection: 'customers', records: 1 }] });
      expect(await t.count('SELECT count(*) AS n FROM customers WHERE id = 6')).toBe(1);
      await t.exec('DELETE FROM customers WHERE id = 6');
    });
  });
}
