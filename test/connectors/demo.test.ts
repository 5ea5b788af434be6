/**
 * The demo silos: deterministic generation, idempotent reuse, a size change regenerates, and an
 * erasure by email and phone reaches every silo through discovered identities (invoices
 * retained and masked, till receipts and analytics events reached through the loyalty card and
 * customer id); the phones customers typed are weak links, never searched by.
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from '../../connectors/sql/sqlite-binding.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_SILOS, INVOICE_BASIS, demoConnectors, demoCustomer, demoSiloPath, ensureDemoSilos, listDemoCustomers, readDemoManifest } from '../../connectors/demo/index.js';
import { isPending, type Connector, type ConnectorContext, type Identity } from '../../connectors/types.js';

const ctx = (dryRun = false): ConnectorContext => ({
  signal: new AbortController().signal,
  requestId: 'req_test',
  dryRun,
  log: { debug() {}, info() {}, warn() {}, error() {} },
});

/** The engine's identity expansion in miniature: rounds until nothing new appears; weak links are not followed. */
async function expand(connectors: Connector[], start: Identity[]): Promise<{ who: Identity[]; weak: Identity[] }> {
  const who = [...start];
  const weak: Identity[] = [];
  const known = (d: Identity) => [...who, ...weak].some((w) => w.type === d.type && w.value === d.value);
  for (let round = 0; round < 6; round++) {
    const before = who.length;
    for (const c of connectors) {
      if (!c.lookupBy.some((t) => who.some((w) => w.type === t))) continue;
      const r = await c.access(who, ctx());
      if (isPending(r)) throw new Error(`${c.id}: a demo silo answers at once`);
      for (const d of r.discovered) if (!known(d)) (d.weak ? weak : who).push({ type: d.type, value: d.value });
    }
    if (who.length === before) break;
  }
  return { who, weak };
}

const count = (silo: (typeof DEMO_SILOS)[number], sql: string, ...params: unknown[]) => {
  const db = new Database(demoSiloPath(dir, silo), { readonly: true });
  try {
    return (db.prepare(sql).get(...params) as { n: number }).n;
  } finally {
    db.close();
  }
};

let dir: string;
let connectors: Connector[];
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'oubli-demo-'));
  ensureDemoSilos(dir, { customers: 300 });
  connectors = demoConnectors(dir);
});
afterAll(async () => {
  for (const c of connectors) await c.close?.();
  rmSync(dir, { recursive: true, force: true });
});

describe('demo people', () => {
  it('are deterministic, normalized and unique', () => {
    expect(demoCustomer(7)).toEqual(demoCustomer(7));
    const people = listDemoCustomers(2000);
    for (const p of people) {
      expect(p.email).toBe(p.email.toLowerCase());
      expect(p.email).toMatch(/^[a-z0-9.-]+@example\.(com|fr|net|org)$/);
      expect(p.phone).toMatch(/^\+336\d{8}$/);
    }
    expect(new Set(people.map((p) => p.email)).size).toBe(2000);
    expect(new Set(people.map((p) => p.phone)).size).toBe(2000);
    const cards = people.filter((p) => p.loyaltyCard).length;
    expect(cards).toBeGreaterThan(1200);
    expect(cards).toBeLessThan(1600);
    expect(people.some((p) => !p.inCrm) && people.some((p) => p.inCrm && !p.crmByEmail)).toBe(true);
    const first = demoCustomer(1);
    expect([first.loyaltyCard !== null, first.inCrm, first.inNewsletter, first.hasWebEvents]).toEqual([true, true, true, true]);
  });
});

describe('demo silos', () => {
  it('are generated once and reused; a size change regenerates', () => {
    expect(readDemoManifest(dir)?.customers).toBe(300);
    const mtime = statSync(demoSiloPath(dir, 'shop')).mtimeMs;
    const again = ensureDemoSilos(dir, { customers: 300 });
    expect(again.generated).toBe(false);
    expect(statSync(demoSiloPath(dir, 'shop')).mtimeMs).toBe(mtime);
    expect(count('shop', 'SELECT count(*) AS n FROM customers')).toBe(300);

    const other = mkdtempSync(join(tmpdir(), 'oubli-demo-size-'));
    try {
      ensureDemoSilos(other, { customers: 50 });
      const db = new Database(join(other, 'demo', 'shop.db'), { readonly: true });
      const email = (db.prepare('SELECT email FROM customers WHERE id = 7').get() as { email: string }).email;
      db.close();
      expect(email).toBe(demoCustomer(7).email);
      const grown = ensureDemoSilos(other, { customers: 80 });
      expect(grown.generated).toBe(true);
      const db2 = new Database(join(other, 'demo', 'shop.db'), { readonly: true });
      expect((db2.prepare('SELECT count(*) AS n FROM customers').get() as { n: number }).n).toBe(80);
      db2.close();
    } finally {
      rmSync(other, { recursive: true, force: true });
    }
  });

  it('are deterministic: two generations hold the same rows', () => {
    const a = mkdtempSync(join(tmpdir(), 'oubli-demo-a-'));
    const b = mkdtempSync(join(tmpdir(), 'oubli-demo-b-'));
    try {
      ensureDemoSilos(a, { customers: 120 });
      ensureDemoSilos(b, { customers: 120 });
      for (const silo of DEMO_SILOS) {
        const dump = (d: string) => {
          const db = new Database(join(d, 'demo', `${silo}.db`), { readonly: true });
          const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").pluck().all() as string[];
          const out = tables.map((t) => db.prepare(`SELECT * FROM ${t}`).all());
          db.close();
          return out;
        };
        const da = dump(a);
        expect(da.flat().length).toBeGreaterThan(0);
        expect(dump(b)).toEqual(da);
      }
    } finally {
      rmSync(a, { recursive: true, force: true });
      rmSync(b, { recursive: true, force: true });
    }
  });

  it('validate against the live schema', async () => {
    for (const c of connectors) await c.init?.();
    expect(connectors.map((c) => c.id)).toEqual(['shop', 'loyalty', 'crm', 'newsletter', 'analytics']);
    expect(connectors.find((c) => c.id === 'analytics')!.lookupBy).toEqual(['customer_id']);
    for (const c of connectors) expect((await c.health!(ctx())).ok).toBe(true);
  });

  it('an erasure by email and phone reaches every silo through discovered identities; by email alone, the phone is a weak link', async () => {
    // Customer 1 is in every silo.
    const p = demoCustomer(1);
    const alone = await expand(connectors, [{ type: 'email', value: p.email }]);
    expect(alone.weak).toEqual([{ type: 'phone', value: p.phone }]);
    expect(alone.who.map((i) => i.type).sort()).toEqual(['customer_id', 'email']);
    const { who } = await expand(connectors, [{ type: 'email', value: p.email }, { type: 'phone', value: p.phone }]);
    expect(who).toEqual(
      expect.arrayContaining([
        { type: 'customer_id', value: '1' },
        { type: 'phone', value: p.phone },
        { type: 'loyalty_card', value: p.loyaltyCard! },
      ]),
    );
    const receiptsBefore = count('loyalty', 'SELECT count(*) AS n FROM receipts WHERE card_number = ?', p.loyaltyCard);
    const eventsBefore = count('analytics', 'SELECT count(*) AS n FROM events WHERE customer_id = 1');
    const invoicesBefore = count('shop', 'SELECT count(*) AS n FROM invoices WHERE customer_id = 1');
    expect(receiptsBefore).toBeGreaterThan(0);
    expect(eventsBefore).toBeGreaterThan(0);
    expect(invoicesBefore).toBeGreaterThan(0);

    const results = Object.fromEntries(await Promise.all(connectors.map(async (c) => [c.id, await c.erase(who, ctx())] as const)));
    const shop = (results.shop as { collections: { name: string; retained: number; retainedBecause?: string }[] }).collections;
    expect(shop.find((c) => c.name === 'invoices')).toMatchObject({ retained: invoicesBefore, retainedBecause: INVOICE_BASIS });

    expect(count('shop', 'SELECT count(*) AS n FROM customers WHERE email = ?', p.email)).toBe(0);
    expect(count('shop', 'SELECT count(*) AS n FROM orders WHERE customer_id = 1')).toBe(0);
    expect(count('shop', "SELECT count(*) AS n FROM invoices WHERE customer_id = 1 AND customer_name = '[effacé]' AND billing_address IS NULL")).toBe(invoicesBefore);
    expect(count('loyalty', 'SELECT count(*) AS n FROM cards WHERE phone = ?', p.phone)).toBe(0);
    expect(count('loyalty', 'SELECT count(*) AS n FROM receipts WHERE card_number = ?', p.loyaltyCard)).toBe(0);
    expect(count('crm', 'SELECT count(*) AS n FROM contacts WHERE phone = ? OR email = ?', p.phone, p.email)).toBe(0);
    expect(count('newsletter', 'SELECT count(*) AS n FROM subscribers WHERE email = ?', p.email)).toBe(0);
    expect(count('newsletter', "SELECT count(*) AS n FROM subscribers WHERE email LIKE 'hmac:%' AND status = 'erased'")).toBe(1);
    expect(count('analytics', 'SELECT count(*) AS n FROM events WHERE customer_id = 1')).toBe(0);
    // Other people are untouched.
    expect(count('shop', 'SELECT count(*) AS n FROM customers')).toBe(299);
    expect(count('analytics', 'SELECT count(*) AS n FROM events WHERE customer_id = 2')).toBeGreaterThanOrEqual(demoCustomer(2).hasWebEvents ? 1 : 0);
  });
});

describe('listDemoCustomers', () => {
  it('lists from a data dir, capped at what was generated', () => {
    expect(listDemoCustomers(dir, 5).map((p) => p.customerId)).toEqual([1, 2, 3, 4, 5]);
    expect(listDemoCustomers(dir, 10_000)).toHaveLength(300);
    expect(listDemoCustomers(dir, 3, 299).map((p) => p.customerId)).toEqual([299, 300]);
    expect(listDemoCustomers(join(dir, 'nothing-here'), 5)).toEqual([]);
    expect(listDemoCustomers(2, 10).map((p) => p.customerId)).toEqual([10, 11]);
  });
});
