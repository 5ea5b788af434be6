/**
 * The SQL connector says which of the call's identities led to each record (`origins`) and to
 * each discovered identity (`matchedBy`), on SQLite, PostgreSQL and MariaDB: directly matched
 * rows by the identity columns that hold the value, related rows by their parents'. A phone
 * shared by two customers leads to both; only the email leads to its owner's account alone.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { conformanceContext as ctx } from '../../connectors/conformance.js';
import { sqlConnector, type SqlConnector } from '../../connectors/sql/index.js';
import type { AccessResult, Identity } from '../../connectors/types.js';
import { ALICE, fixtureConfig, mysqlTarget, postgresTarget, seedFixture, sqliteTarget, type SqlTarget } from './sql-fixture.js';

const CAROL = { id: 3, email: 'carol@example.com' }; // shares Alice's phone (a household)
const email: Identity = { type: 'email', value: ALICE.email };
const phone: Identity = { type: 'phone', value: ALICE.phone };
const customer1: Identity = { type: 'customer_id', value: '1' };

const originsOf = (r: AccessResult, collection: string) => {
  const c = r.collections.find((x) => x.name === collection)!;
  return c.records.map((rec, i) => ({ id: rec.id, origins: (c.origins![i] ?? []).map((o) => `${o.type}:${o.value}`).sort() }));
};
const discovered = (r: AccessResult, type: string) =>
  r.discovered
    .filter((d) => d.type === type)
    .map((d) => ({ value: d.value, collection: d.collection, weak: d.weak ?? false, matchedBy: (d.matchedBy ?? []).map((o) => `${o.type}:${o.value}`).sort() }))
    .sort((a, b) => a.value.localeCompare(b.value));

for (const [name, make] of [
  ['SQLite', sqliteTarget],
  ['PostgreSQL', postgresTarget],
  ['MariaDB', mysqlTarget],
] as const) {
  describe(`sql connector attribution on ${name}`, () => {
    let t: SqlTarget | null = null;
    let skip = '';
    const open: SqlConnector[] = [];
    const connector = (patch?: Record<string, unknown>) => {
      const c = sqlConnector(fixtureConfig(t!, patch));
      open.push(c);
      return c;
    };
    beforeAll(async () => {
      const made = await make();
      if ('skip' in made) skip = made.skip;
      else t = made;
    });
    afterAll(async () => {
      for (const c of open) await c.close();
      await t?.drop();
    });
    const test = (title: string, fn: (t: SqlTarget) => Promise<void>) =>
      it(title, async (c) => {
        if (!t) return c.skip(skip);
        await seedFixture(t);
        await t.exec(`INSERT INTO customers (id, email, phone, full_name) VALUES (${CAROL.id}, '${CAROL.email}', '${ALICE.phone}', 'Carol Martin')`);
        await t.exec(`INSERT INTO orders (id, customer_id, total) VALUES (30, ${CAROL.id}, 1.00)`);
        await fn(t);
      });

    test('records and discoveries name the identity that led to them; related records inherit their parents’', async () => {
      const r = await connector().access([email], ctx());
      expect(originsOf(r, 'customers')).toEqual([{ id: 1, origins: ['email:alice@example.com'] }]);
      expect(originsOf(r, 'orders').map((o) => o.origins)).toEqual([['email:alice@example.com'], ['email:alice@example.com']]);
      expect(originsOf(r, 'invoices').map((o) => o.origins)).toEqual([['email:alice@example.com'], ['email:alice@example.com']]);
      expect(originsOf(r, 'notes').map((o) => o.origins)).toEqual([['email:alice@example.com']]);
      expect(discovered(r, 'customer_id')).toEqual([{ value: '1', collection: 'customers', weak: false, matchedBy: ['email:alice@example.com'] }]);
      // A record matched directly and through its parent has both origins (an integer column matches the text '1').
      const both = await connector().access([email, customer1], ctx());
      expect(originsOf(both, 'invoices').map((o) => o.origins)).toEqual([
        ['customer_id:1', 'email:alice@example.com'],
        ['customer_id:1', 'email:alice@example.com'],
      ]);
    });

    test('a shared phone leads to both accounts; what only the phone led to says so', async () => {
      const r = await connector().access([email, phone], ctx());
      expect(originsOf(r, 'customers')).toEqual([
        { id: 1, origins: ['email:alice@example.com', 'phone:+33611111111'] },
        { id: 3, origins: ['phone:+33611111111'] },
      ]);
      expect(originsOf(r, 'orders').find((o) => o.id === 30)!.origins).toEqual(['phone:+33611111111']);
      expect(discovered(r, 'customer_id')).toEqual([
        { value: '1', collection: 'customers', weak: false, matchedBy: ['email:alice@example.com', 'phone:+33611111111'] },
        { value: '3', collection: 'customers', weak: false, matchedBy: ['phone:+33611111111'] },
      ]);
    });

    test('a discovery link declared weak is reported as weak', async () => {
      const cfg = fixtureConfig(t!);
      const customers = { ...(cfg.collections.customers as object), discover: { customer_id: 'id', phone: { column: 'phone', reason: 'typed by the customer', weak: true } } };
      const r = await connector({ customers }).access([email], ctx());
      expect(discovered(r, 'phone')).toEqual([{ value: ALICE.phone, collection: 'customers', weak: true, matchedBy: ['email:alice@example.com'] }]);
      expect(discovered(r, 'customer_id')[0]!.weak).toBe(false);
    });
  });
}

describe('sql connector config: weak discovery links', () => {
  it('accepts { column, reason, weak } and rejects a non-boolean weak, naming the field', async () => {
    const t = await sqliteTarget();
    try {
      const cfg = fixtureConfig(t);
      const customers = cfg.collections.customers as Record<string, unknown>;
      expect(() => sqlConnector({ ...cfg, collections: { ...cfg.collections, customers: { ...customers, discover: { phone: { column: 'phone', weak: true } } } } } as never)).not.toThrow();
      expect(() => sqlConnector({ ...cfg, collections: { ...cfg.collections, customers: { ...customers, discover: { phone: { column: 'phone', weak: 'yes' } } } } } as never)).toThrow(
        /connector "fx": collections\.customers\.discover\.phone/,
      );
    } finally {
      await t.drop();
    }
  });
});
