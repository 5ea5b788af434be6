/**
 * The engine over real SQL silos: the same shop schema in SQLite, PostgreSQL and MariaDB (each
 * a private, uniquely named database of this run), plus an analytics silo found only through
 * the customer id the shops reveal. An erasure by email reaches all of them.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sqlConnector } from '../../connectors/sql/index.js';
import type { Connector } from '../../connectors/types.js';
import { ALICE, BOB, INVOICE_BASIS, fixtureConfig, mysqlTarget, postgresTarget, seedFixture, sqliteTarget, type SqlTarget } from '../connectors/sql-fixture.js';
import { syntheticConnector } from '../helpers/synthetic-connector.js';
import { engineHarness, type Harness } from './helpers.js';

const targets: SqlTarget[] = [];
const connectors: Connector[] = [];
const skipped: string[] = [];

beforeAll(async () => {
  for (const make of [sqliteTarget, postgresTarget, mysqlTarget]) {
    const t = await make();
    if ('skip' in t) {
      skipped.push(t.skip);
      continue;
    }
    await seedFixture(t);
    targets.push(t);
    const c = sqlConnector({ ...fixtureConfig(t), id: `shop_${t.dialect}` });
    await c.init?.();
    connectors.push(c);
  }
  for (const s of skipped) console.warn(s);
});

afterAll(async () => {
  for (const c of connectors) await c.close?.();
  for (const t of targets) await t.drop();
});

describe('engine over SQLite, PostgreSQL and MariaDB silos', () => {
  it('an erasure by email deletes, masks and retains per policy in every silo, reaching analytics through the customer id', async () => {
    expect(targets.length + skipped.length).toBe(3);
    const analytics = syntheticConnector({
      id: 'analytics',
      collections: [{ name: 'events', keys: { customer_id: 'customer_id' }, policy: 'delete', rows: [{ customer_id: String(ALICE.id) }, { customer_id: String(BOB.id) }] }],
    });
    const h = await engineHarness([...connectors, analytics]);
    const id = await h.submit('erasure', [{ type: 'email', value: ALICE.email }]);
    await h.engine.runUntilIdle();
    const view = await h.api('GET', `/v1/requests/${id}`);
    expect(view.json.status, view.json.statusReason).toBe('completed');
    expect(view.json.verification.ok).toBe(true);
    expect(analytics.collections[0]!.rows).toEqual([{ customer_id: String(BOB.id) }]);

    for (const t of targets) {
      expect(await t.count(`SELECT count(*) AS n FROM customers WHERE email = '${ALICE.email}'`), t.dialect).toBe(0);
      expect(await t.count('SELECT count(*) AS n FROM orders WHERE customer_id = 1'), t.dialect).toBe(0);
      expect(await t.count("SELECT count(*) AS n FROM invoices WHERE customer_id = 1 AND customer_name = '[erased]' AND address IS NULL"), t.dialect).toBe(2);
      expect(await t.count(`SELECT count(*) AS n FROM notes WHERE customer_email = '${ALICE.email}'`), t.dialect).toBe(0);
      expect(await t.count(`SELECT count(*) AS n FROM customers WHERE email = '${BOB.email}'`), t.dialect).toBe(1);
      expect(await t.count('SELECT count(*) AS n FROM invoices WHERE customer_id = 2 AND customer_name = \'Bob Durand\''), t.dialect).toBe(1);
      const erase = view.json.tasks.find((x: { connector: string; phase: string }) => x.connector === `shop_${t.dialect}` && x.phase === 'erase');
      expect(erase.collections.find((c: { name: string }) => c.name === 'invoices'), t.dialect).toMatchObject({ retained: 2, retainedBecause: INVOICE_BASIS });
    }
  });
});
