/**
 * The SQL connector against one real database engine: the shared conformance and matching
 * suites (the matching ones twice: without and with the indexes the connector recommends), then
 * what is specific to SQL silos (JSON-safe values, live-schema validation at start-up, index
 * report, declared formats, one transaction per erasure, idempotent masks, abort
 * mid-transaction, unreachable server, chunked lookups).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeConnectorConformance, describeMatchingConformance, conformanceContext as ctx } from '../../connectors/conformance.js';
import { sqlConnector, type SqlConnector } from '../../connectors/sql/index.js';
import { ConnectorError } from '../../connectors/types.js';
import {
  ALICE,
  AVATAR,
  BOB,
  INVOICE_BASIS,
  MATCHING_COLUMNS,
  createMatchingTables,
  fixtureConfig,
  matchingConfig,
  matchingSilo,
  seedFixture,
  type SqlTarget,
} from './sql-fixture.js';

/** Back to the bare fixture: the next test's seed recreates the tables, without added indexes or columns. */
async function dropFixture(t: SqlTarget): Promise<void> {
  for (const table of ['notes', 'invoices', 'orders', 'customers']) await t.exec(`DROP TABLE ${table}`);
}

/** Creates every index the connector recommends for its lookups (as a DBA following the start-up report would). */
export async function applyRecommendations(t: SqlTarget, c: SqlConnector): Promise<string[]> {
  await c.init();
  const ddl = [...new Set(c.matching().flatMap((l) => (l.recommendation ? [l.recommendation] : [])))];
  for (const stmt of ddl) await t.exec(stmt);
  return ddl;
}

export function describeSqlConnector(name: string, makeTarget: () => Promise<SqlTarget | { skip: string }>) {
  describeConnectorConformance(`sql on ${name}`, async () => {
    const t = await makeTarget();
    if ('skip' in t) return t;
    await seedFixture(t);
    return {
      connector: sqlConnector(fixtureConfig(t)),
      seedPerson: async () => [{ type: 'email', value: ALICE.email }],
      expectDiscovered: ['customer_id', 'phone'],
      teardown: () => t.drop(),
    };
  });

  describeMatchingConformance(`sql on ${name}`, async () => {
    const t = await makeTarget();
    if ('skip' in t) return t;
    await createMatchingTables(t);
    return { connector: sqlConnector(matchingConfig(t)), silo: matchingSilo(t), teardown: () => t.drop() };
  });

  describeMatchingConformance(`sql on ${name}, with the recommended indexes`, async () => {
    const t = await makeTarget();
    if ('skip' in t) return t;
    await createMatchingTables(t);
    const first = sqlConnector(matchingConfig(t));
    await applyRecommendations(t, first);
    await first.close();
    const connector = sqlConnector(matchingConfig(t));
    await connector.init();
    const slow = connector.matching().filter((l) => !l.index.served);
    if (slow.length) throw new Error(`recommended indexes do not serve: ${JSON.stringify(slow)}`);
    return { connector, silo: matchingSilo(t), teardown: () => t.drop() };
  });

  describe(`sql connector on ${name}`, () => {
    let t: SqlTarget | null = null;
    let skip = '';
    const open: SqlConnector[] = [];
    const make = (patch?: Record<string, unknown>, extra?: Record<string, unknown>) => {
      const c = sqlConnector({ ...fixtureConfig(t!, patch), ...extra } as never);
      open.push(c);
      return c;
    };

    beforeAll(async () => {
      const made = await makeTarget();
      if ('skip' in made) skip = made.skip;
      else t = made;
    });
    afterAll(async () => {
      for (const c of open) await c.close();
      await t?.drop();
    });
    const test = (title: string, fn: (t: SqlTarget) => Promise<void>, timeout?: number) =>
      it(
        title,
        async (c) => {
          if (!t) return c.skip(skip);
          await seedFixture(t);
          await fn(t);
        },
        timeout,
      );

    test('access returns plain JSON values: dates as ISO strings, bigints as strings, bytes as base64', async () => {
      const c = make();
      const r = await c.access([{ type: 'email', value: ALICE.email }], ctx());
      const customers = r.collections.find((x) => x.name === 'customers')!;
      expect(customers.portable).toBe(true);
      expect(customers.records).toHaveLength(1);
      const rec = customers.records[0]!;
      expect(rec.avatar).toBe(AVATAR.toString('base64'));
      expect(rec.email).toBe(ALICE.email);
      if (t!.dialect !== 'sqlite') {
        expect(rec.created_at).toBe('2024-05-01T10:00:00.000Z');
        expect(rec.lifetime_cents).toBe('9007199254740993');
      }
      expect(JSON.parse(JSON.stringify(r))).toEqual(r);
      expect(r.collections.find((x) => x.name === 'orders')!.records).toHaveLength(2);
      expect(r.discovered).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ type: 'customer_id', value: '1', reason: 'fx.customers.id' }),
          expect.objectContaining({ type: 'phone', value: ALICE.phone, reason: 'fx.customers.phone' }),
        ]),
      );
    });

    test('finds by any listed identity; values that cannot match a column type are skipped, not errors', async () => {
      const c = make();
      const byPhone = await c.access([{ type: 'phone', value: ALICE.phone }], ctx());
      expect(byPhone.collections.find((x) => x.name === 'customers')!.records).toHaveLength(1);
      const byId = await c.access([{ type: 'customer_id', value: '1' }], ctx());
      expect(byId.collections.find((x) => x.name === 'invoices')!.records).toHaveLength(2);
      const odd = await c.access([{ type: 'customer_id', value: 'not-a-number' }, { type: 'email', value: "' OR 1=1 --" }], ctx());
      expect(odd.collections.every((x) => x.records.length === 0)).toBe(true);
    });

    test('`columns` limits what access returns; identities already known are not re-discovered', async () => {
      const c = make({
        customers: { table: 'customers', key: 'id', columns: ['id', 'email'], match: { email: 'email', phone: 'phone' }, discover: { customer_id: 'id', phone: 'phone' }, erase: { action: 'delete' } },
      });
      const r = await c.access([{ type: 'email', value: ALICE.email }, { type: 'phone', value: ALICE.phone }], ctx());
      expect(r.collections.find((x) => x.name === 'customers')!.records).toEqual([{ id: 1, email: ALICE.email }]);
      // Children are still found through the key, which is selected even when not returned.
      expect(r.collections.find((x) => x.name === 'orders')!.records).toHaveLength(2);
      expect(r.discovered.map((d) => d.type)).toEqual(['customer_id']);
    });

    test('thousands of identities are looked up in chunks', async () => {
      const c = make();
      const many = Array.from({ length: 2500 }, (_, i) => ({ type: 'email', value: `someone${i}@example.org` }));
      many.splice(1234, 0, { type: 'email', value: ALICE.email });
      const r = await c.access(many, ctx());
      expect(r.collections.find((x) => x.name === 'customers')!.records).toHaveLength(1);
      expect(r.collections.find((x) => x.name === 'orders')!.records).toHaveLength(2);
    });

    test('erase applies each policy, reports counts and legal basis, leaves others untouched', async (t) => {
      const c = make();
      const who = [{ type: 'email', value: ALICE.email }, { type: 'customer_id', value: '1' }];
      const r = await c.erase(who, ctx());
      expect(r).toEqual({
        collections: [
          { name: 'customers', deleted: 1, masked: 0, retained: 0 },
          { name: 'orders', deleted: 2, masked: 0, retained: 0 },
          { name: 'invoices', deleted: 0, masked: 2, retained: 2, retainedBecause: INVOICE_BASIS, retainedFields: ['number', 'customer_id', 'amount_cents', 'issued_at'] },
          { name: 'notes', deleted: 0, masked: 1, retained: 0 },
        ],
      });
      expect(await t.count('SELECT count(*) AS n FROM customers WHERE id = 1')).toBe(0);
      expect(await t.count('SELECT count(*) AS n FROM orders WHERE customer_id = 1')).toBe(0);
      expect(await t.count("SELECT count(*) AS n FROM invoices WHERE customer_id = 1 AND customer_name = '[erased]' AND address IS NULL AND amount_cents > 0")).toBe(2);
      expect(await t.count("SELECT count(*) AS n FROM notes WHERE id = 1000 AND customer_email LIKE 'hmac:%' AND body = '[erased]'")).toBe(1);
      // Bob is untouched.
      expect(await t.count('SELECT count(*) AS n FROM customers WHERE id = 2')).toBe(1);
      expect(await t.count('SELECT count(*) AS n FROM orders WHERE customer_id = 2')).toBe(1);
      expect(await t.count("SELECT count(*) AS n FROM invoices WHERE id = 200 AND customer_name = 'Bob Durand'")).toBe(1);
      expect(await t.count("SELECT count(*) AS n FROM notes WHERE id = 2000 AND customer_email = 'bob@example.com'")).toBe(1);
      // Second run: nothing more to do, retained still reported.
      const again = await c.erase(who, ctx());
      expect(again.collections.map((x) => [x.name, x.deleted, x.masked, x.retained])).toEqual([
        ['customers', 0, 0, 0],
        ['orders', 0, 0, 0],
        ['invoices', 0, 0, 2],
        ['notes', 0, 0, 0],
      ]);
    });

    test('a keyed-hash mask is stable and recognised as already masked', async (t) => {
      // Notes found by a column that is itself hashed: a second pass over the same rows (here via
      // a mask-only config keyed on id relations) must count 0.
      const c = make({ notes: { table: 'notes', key: 'id', match: { note_id: 'id' }, erase: { action: 'mask', fields: { customer_email: 'hash' } } } });
      const who = [{ type: 'note_id', value: '1000' }];
      expect((await c.erase(who, ctx())).collections.find((x) => x.name === 'notes')!.masked).toBe(1);
      expect((await c.erase(who, ctx())).collections.find((x) => x.name === 'notes')!.masked).toBe(0);
      expect(await t.count("SELECT count(*) AS n FROM notes WHERE id = 1000 AND customer_email LIKE 'hmac:%'")).toBe(1);
    });

    test('a failing statement rolls the whole silo erasure back (one transaction)', async (t) => {
      // customers are processed last (parents after children) and full_name is NOT NULL.
      const c = make({ customers: { table: 'customers', key: 'id', match: { email: 'email' }, erase: { action: 'mask', fields: { full_name: null } } } });
      const err = await c.erase([{ type: 'email', value: BOB.email }], ctx()).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ConnectorError);
      expect((err as ConnectorError).retryable).toBe(false);
      expect((err as ConnectorError).message).not.toContain(BOB.email);
      expect(await t.count('SELECT count(*) AS n FROM orders WHERE customer_id = 2')).toBe(1);
      expect(await t.count("SELECT count(*) AS n FROM invoices WHERE id = 200 AND customer_name = 'Bob Durand'")).toBe(1);
    });

    test('a dry run counts without changing anything', async (t) => {
      const c = make();
      const r = await c.erase([{ type: 'email', value: BOB.email }], { ...ctx(), dryRun: true });
      expect(r.collections.map((x) => [x.name, x.deleted, x.masked, x.retained])).toEqual([
        ['customers', 1, 0, 0],
        ['orders', 1, 0, 0],
        ['invoices', 0, 1, 1],
        ['notes', 0, 1, 0],
      ]);
      expect(await t.count('SELECT count(*) AS n FROM customers WHERE id = 2')).toBe(1);
      expect(await t.count("SELECT count(*) AS n FROM notes WHERE id = 2000 AND customer_email = 'bob@example.com'")).toBe(1);
    });

    test('start-up fails clearly on a table that does not exist', async () => {
      const c = make({ orders: { table: 'orderz', key: 'id', relations: { customer_id: 'customers.id' }, erase: { action: 'delete' } } });
      await expect(c.init()).rejects.toThrow('connector "fx": collections.orders.table: table "orderz" does not exist');
      await expect(c.access([{ type: 'email', value: ALICE.email }], ctx())).rejects.toMatchObject({ code: 'CONNECTOR_CONFIG', retryable: false });
    });

    test('start-up fails clearly on a column that does not exist', async () => {
      const c = make({
        customers: { table: 'customers', key: 'id', match: { email: 'e_mail' }, erase: { action: 'delete' } },
        notes: { table: 'notes', key: 'id', match: { email: 'customer_email' }, erase: { action: 'mask', fields: { bodyy: null } } },
      });
      const err = (await c.init().catch((e: unknown) => e)) as Error;
      expect(err.message).toContain('connector "fx": collections.customers.match.email: column "e_mail" does not exist in table "customers"');
      expect(err.message).toContain('connector "fx": collections.notes.erase.fields.bodyy: column "bodyy" does not exist in table "notes"');
    });

    test('health is ok on a live silo', async () => {
      const h = await make().health!(ctx());
      expect(h.ok).toBe(true);
      expect(h.latencyMs).toBeGreaterThanOrEqual(0);
    });

    test('start-up says per matched column whether an index serves the lookup; the health check warns when none does', async (t) => {
      const c = make();
      await c.init();
      const byColumn = (collection: string, column: string) => c.matching().find((l) => l.collection === collection && l.column === column)!;
      // customers.email has a plain UNIQUE index, which cannot serve a case-insensitive lookup.
      const email = byColumn('customers', 'email');
      expect(email).toMatchObject({ identity: 'email', normalization: 'casefold', compares: 'lower(trim(email))', index: { served: false } });
      expect(email.recommendation).toBe(
        t.dialect === 'mysql'
          ? 'ALTER TABLE customers ADD COLUMN email_casefold VARCHAR(200) AS (lower(trim(email))) VIRTUAL INVISIBLE, ADD INDEX customers_email_casefold (email_casefold)'
          : 'CREATE INDEX customers_email_casefold ON customers (lower(trim(email)))',
      );
      // Phones are searched in their written forms, on the plain column: its primary key serves customer ids.
      expect(byColumn('customers', 'phone')).toMatchObject({ identity: 'phone', normalization: 'phone', compares: 'phone', index: { served: false }, recommendation: 'CREATE INDEX customers_phone_idx ON customers (phone)' });
      expect(byColumn('invoices', 'customer_id').index.served).toBe(false);
      expect(c.matching().filter((l) => l.via)).toEqual(
        expect.arrayContaining([expect.objectContaining({ collection: 'orders', via: 'customers.id', column: 'customer_id', normalization: 'exact' })]),
      );
      const h = await c.health(ctx());
      expect(h.ok).toBe(true);
      expect(h.warnings).toEqual(expect.arrayContaining([expect.stringContaining('customers.email: no index serves the email lookup on lower(trim(email))')]));

      // The DBA follows the advice: the lookups are served, the warnings go.
      try {
        const ddl = await applyRecommendations(t, c);
        expect(ddl.length).toBeGreaterThan(0);
        const again = make();
        await again.init();
        expect(again.matching().filter((l) => !l.index.served)).toEqual([]);
        expect(again.matching().find((l) => l.collection === 'customers' && l.column === 'email')!.index.name).toBeTruthy();
        expect((await again.health(ctx())).warnings).toBeUndefined();
        const r = await again.access([{ type: 'email', value: ALICE.email }], ctx());
        expect(r.collections.find((x) => x.name === 'customers')!.records).toHaveLength(1);
        expect(r.collections.find((x) => x.name === 'customers')!.records[0]).not.toHaveProperty('email_casefold');
      } finally {
        await dropFixture(t);
      }
    });

    test('a declared format searches that one written form, exactly, on the plain index', async (t) => {
      await t.exec('CREATE INDEX customers_phone_fmt ON customers (phone)');
      const c = make({
        customers: { table: 'customers', key: 'id', match: { email: { column: 'email', format: 'lowercase' }, phone: { column: 'phone', format: 'e164' } }, erase: { action: 'delete' } },
      });
      await c.init();
      const lookups = c.matching().filter((l) => l.collection === 'customers');
      expect(lookups).toEqual([
        expect.objectContaining({ identity: 'email', normalization: 'casefold', format: 'lowercase', compares: 'email', index: expect.objectContaining({ served: true }) }),
        expect.objectContaining({ identity: 'phone', normalization: 'phone', format: 'e164', compares: 'phone', index: { served: true, name: 'customers_phone_fmt' } }),
      ]);
      const r = await c.access([{ type: 'phone', value: ALICE.phone }], ctx());
      expect(r.collections.find((x) => x.name === 'customers')).toMatchObject({ records: [expect.objectContaining({ id: 1 })], matchedBy: [{ identity: 'phone', column: 'phone', normalization: 'phone', format: 'e164', records: 1 }] });
      // Declared E.164: a national spelling is not searched (the declaration is the silo's promise).
      await t.exec("UPDATE customers SET phone = '06 22 22 22 22' WHERE id = 2");
      expect((await c.access([{ type: 'phone', value: BOB.phone }], ctx())).collections.find((x) => x.name === 'customers')!.records).toEqual([]);
      await t.exec('DROP INDEX customers_phone_fmt' + (t.dialect === 'mysql' ? ' ON customers' : ''));
    });

    test('a normaliser that needs text on an integer column stops start-up with a clear message', async () => {
      const c = make({ invoices: { table: 'invoices', key: 'id', match: { email: 'customer_id' }, erase: { action: 'delete' } } });
      await expect(c.init()).rejects.toThrow(
        `connector "fx": collections.invoices.match.email: column "customer_id" holds integers; normalize 'casefold' needs a text column (declare { column: 'customer_id', normalize: 'exact' })`,
      );
    });

    test('MySQL/MariaDB: an indexed generated column with the casefold expression is searched; one with a name that is no plain identifier is ignored', async (t) => {
      if (t.dialect !== 'mysql') return;
      await t.exec('ALTER TABLE notes ADD COLUMN `k``x` VARCHAR(200) AS (lower(trim(customer_email))) VIRTUAL INVISIBLE, ADD INDEX notes_kx (`k``x`)');
      try {
        const c = make();
        await c.init();
        expect(c.matching().find((l) => l.collection === 'notes')).toMatchObject({ compares: 'lower(trim(customer_email))', index: { served: false } });
        await t.exec("UPDATE notes SET customer_email = ' Alice@Example.COM' WHERE id = 1000");
        const r = await c.access([{ type: 'email', value: ALICE.email }], ctx());
        expect(r.collections.find((x) => x.name === 'notes')!.records).toHaveLength(1);
        await t.exec('ALTER TABLE notes ADD COLUMN email_key VARCHAR(200) AS (LCASE(TRIM(`customer_email`))) VIRTUAL INVISIBLE, ADD INDEX notes_email_key (email_key)');
        const d = make();
        await d.init();
        expect(d.matching().find((l) => l.collection === 'notes')).toMatchObject({ compares: 'email_key', index: { served: true, name: 'notes_email_key' } });
        expect((await d.access([{ type: 'email', value: ALICE.email }], ctx())).collections.find((x) => x.name === 'notes')!.records).toHaveLength(1);
      } finally {
        await dropFixture(t);
      }
    });

    test('SQLite: a customer id stored as an integer in a column declared without a type matches the text identity', async (t) => {
      if (t.dialect !== 'sqlite') return;
      await t.exec('CREATE TABLE loose (id INTEGER PRIMARY KEY, ref)');
      await t.exec("INSERT INTO loose VALUES (1, 4242), (2, '4242'), (3, 42420)");
      const c = make({ loose: { table: 'loose', key: 'id', match: { customer_id: 'ref' }, erase: { action: 'delete' } } });
      const r = await c.access([{ type: 'customer_id', value: '4242' }], ctx());
      expect(r.collections.find((x) => x.name === 'loose')!.records.map((x) => x.id)).toEqual([1, 2]);
      await t.exec('DROP TABLE loose');
    });

    test('the phone region of the declaration reads national numbers (a Belgian silo)', async (t) => {
      await t.exec("UPDATE customers SET phone = '0470 12 34 56' WHERE id = 2");
      const be = make(undefined, { phoneRegion: 'BE' });
      const found = await be.access([{ type: 'phone', value: '+32470123456' }], ctx());
      expect(found.collections.find((x) => x.name === 'customers')!.records).toHaveLength(1);
      // Read as French (the default), the same digits are another number: not the Belgian one.
      const fr = make();
      expect((await fr.access([{ type: 'phone', value: '+32470123456' }], ctx())).collections.find((x) => x.name === 'customers')!.records).toEqual([]);
    });

    test('an unreachable silo: health reports it, calls reject with a retryable error', async () => {
      const base =
        t!.dialect === 'sqlite'
          ? { filename: '/nonexistent-dir/silo.db' }
          : {
              connection: {
                ...(t!.base as { connection: Record<string, unknown> }).connection,
                port: 1,
                ...(t!.dialect === 'postgres' ? { connectionTimeoutMillis: 1000 } : { connectTimeout: 1000 }),
              },
            };
      const c = make(undefined, base);
      const h = await c.health!(ctx());
      expect(h.ok).toBe(false);
      expect(h.code).toBe('SILO_UNAVAILABLE');
      const err = await c.access([{ type: 'email', value: ALICE.email }], ctx()).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ConnectorError);
      expect(err).toMatchObject({ code: 'SILO_UNAVAILABLE', retryable: true });
    });

    test('a statement that exceeds the query time limit is a retryable timeout, rolled back', async (t) => {
      if (!t.lockRow) return;
      const c = make(undefined, { queryTimeoutMs: 1000 });
      await c.init();
      const lock = await t.lockRow('customers', 2);
      try {
        const err = await c.erase([{ type: 'email', value: BOB.email }], ctx()).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(ConnectorError);
        expect(err).toMatchObject({ retryable: true });
        expect(['SILO_TIMEOUT', 'SILO_CONFLICT']).toContain((err as ConnectorError).code);
      } finally {
        await lock.release();
      }
      expect(await t.count('SELECT count(*) AS n FROM orders WHERE customer_id = 2')).toBe(1);
    }, 20_000);

    test('close() releases the connection pool', async (t) => {
      if (!t.sessions) return;
      // Other connectors of this file may hold idle sessions too: compare with the count before.
      const baseline = await t.sessions('fx-close');
      const c = make(undefined, { id: 'fx-close' });
      await c.access([{ type: 'email', value: ALICE.email }], ctx());
      expect(await t.sessions('fx-close')).toBeGreaterThan(baseline);
      await c.close();
      const deadline = Date.now() + 3000;
      let left = await t.sessions('fx-close');
      while (left > baseline && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 50));
        left = await t.sessions('fx-close');
      }
      expect(left).toBe(baseline);
    });

    test(
      'abort while the erasure waits on a lock: rejects promptly, nothing is committed',
      async (t) => {
        if (!t.lockRow) return;
        const c = make();
        await c.init();
        const lock = await t.lockRow('customers', 2);
        try {
          const ac = new AbortController();
          const started = Date.now();
          const pending = c.erase([{ type: 'email', value: BOB.email }], { ...ctx(), signal: ac.signal });
          setTimeout(() => ac.abort(new Error('deadline')), 300);
          const err = await pending.catch((e: unknown) => e);
          expect(err).toMatchObject({ code: 'ABORTED', retryable: true });
          expect(Date.now() - started).toBeLessThan(3000);
          // The aborted transaction is gone server-side too: the order row it had deleted is not
          // locked any more (this would hang if its session still ran).
          const orderLock = await t.lockRow!('orders', 20);
          await orderLock.release();
        } finally {
          await lock.release();
        }
        expect(await t.count('SELECT count(*) AS n FROM orders WHERE customer_id = 2')).toBe(1);
        expect(await t.count("SELECT count(*) AS n FROM invoices WHERE id = 200 AND customer_name = 'Bob Durand'")).toBe(1);
      },
      20_000,
    );
  });
}
