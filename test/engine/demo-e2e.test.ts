/**
 * End to end over the real demo silos (SQLite, declarative SQL connector): an erasure by a demo
 * customer's email and phone empties every silo of that person through the API and the
 * engine; by email alone it reaches every silo but the loyalty programme (the phone the
 * customer typed in the shop is a weak link: recorded, never searched by); an access request
 * yields a verifiable ZIP.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from '../../connectors/sql/sqlite-binding.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { demoConnectors, demoCustomer, demoSiloPath, ensureDemoSilos, INVOICE_BASIS, listDemoCustomers, type DEMO_SILOS } from '../../connectors/demo/index.js';
import type { Connector } from '../../connectors/types.js';
import { engineHarness, type Harness } from './helpers.js';
import { unzip, verifyJws } from '../requests/zip.js';

let dir: string;
let connectors: Connector[];
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'oubli-e2e-'));
  ensureDemoSilos(dir, { customers: 200 });
  connectors = demoConnectors(dir);
  for (const c of connectors) await c.init?.();
});
afterAll(async () => {
  for (const c of connectors) await c.close?.();
  rmSync(dir, { recursive: true, force: true });
});

const count = (silo: (typeof DEMO_SILOS)[number], sql: string, ...params: unknown[]) => {
  const db = new Database(demoSiloPath(dir, silo), { readonly: true });
  try {
    return db.prepare(sql).pluck().get(...params) as number;
  } finally {
    db.close();
  }
};

describe('end to end over the demo silos', () => {
  it('an erasure by email and phone reaches every silo; invoices masked and retained; verification recorded', async () => {
    const h = await engineHarness(connectors);
    const p = demoCustomer(1);
    const id = String(p.customerId);
    const before = {
      invoices: count('shop', 'select count(*) from invoices where customer_id = ?', id),
      events: count('analytics', 'select count(*) from events where customer_id = ?', id),
      receipts: count('loyalty', 'select count(*) from receipts where card_number = ?', p.loyaltyCard),
      customers: count('shop', 'select count(*) from customers'),
    };
    expect(before.invoices * before.events * before.receipts).toBeGreaterThan(0);

    const rid = await h.submit('erasure', [
      { type: 'email', value: p.email.toUpperCase() },
      { type: 'phone', value: p.phone.replace('+33', '0') },
    ]);
    await h.engine.runUntilIdle();
    const view = await h.api('GET', `/v1/requests/${rid}`);
    expect(view.json.status, view.json.statusReason).toBe('completed');
    expect(view.json.identities.map((i: { type: string }) => i.type).sort()).toEqual(['customer_id', 'email', 'loyalty_card', 'phone']);
    expect(view.json.identities.every((i: { state: string }) => i.state === 'included')).toBe(true);

    expect(count('shop', 'select count(*) from customers where email = ?', p.email)).toBe(0);
    expect(count('shop', 'select count(*) from orders where customer_id = ?', id)).toBe(0);
    expect(count('shop', 'select count(*) from addresses where customer_id = ?', id)).toBe(0);
    expect(count('shop', "select count(*) from invoices where customer_id = ? and customer_name = '[effacé]' and billing_address is null", id)).toBe(before.invoices);
    expect(count('loyalty', 'select count(*) from cards where phone = ?', p.phone)).toBe(0);
    expect(count('loyalty', 'select count(*) from receipts where card_number = ?', p.loyaltyCard)).toBe(0);
    expect(count('crm', 'select count(*) from contacts where phone = ? or email = ?', p.phone, p.email)).toBe(0);
    expect(count('newsletter', 'select count(*) from subscribers where email = ?', p.email)).toBe(0);
    expect(count('analytics', 'select count(*) from events where customer_id = ?', id)).toBe(0);
    expect(count('shop', 'select count(*) from customers')).toBe(before.customers - 1);

    const shopErase = view.json.tasks.find((t: { connector: string; phase: string }) => t.connector === 'shop' && t.phase === 'erase');
    expect(shopErase.collections.find((c: { name: string }) => c.name === 'invoices')).toMatchObject({ retained: before.invoices, retainedBecause: INVOICE_BASIS });
    expect(view.json.verification.ok).toBe(true);
    expect(view.json.verification.retained).toEqual([{ connector: 'shop', collection: 'invoices', records: before.invoices }]);
    const audit = await h.auditText();
    for (const v of [p.email, p.phone, p.lastName, p.loyaltyCard!]) expect(audit).not.toContain(v);
  });

  it('an erasure by email alone reaches every silo but the loyalty card registered to the phone the customer typed (a weak link)', async () => {
    const h = await engineHarness(connectors);
    const p = listDemoCustomers(100, 10).find((c) => c.loyaltyCard !== null)!;
    const cardBefore = count('loyalty', 'select count(*) from cards where card_number = ?', p.loyaltyCard);
    expect(cardBefore).toBe(1);
    const rid = await h.submit('erasure', [{ type: 'email', value: p.email }]);
    await h.engine.runUntilIdle();
    const view = await h.api('GET', `/v1/requests/${rid}`);
    expect(view.json.status, view.json.statusReason).toBe('completed');
    const phone = view.json.identities.find((i: { type: string }) => i.type === 'phone');
    expect(phone).toMatchObject({ state: 'included', weak: true, why: { code: 'weak_link' } });
    expect([['shop', 'customers'], ['crm', 'contacts']]).toContainEqual([phone.source, phone.collection]);
    expect(view.json.tasks.filter((t: { connector: string }) => t.connector === 'loyalty')).toEqual([]);
    expect(count('shop', 'select count(*) from customers where id = ?', p.customerId)).toBe(0);
    expect(count('analytics', 'select count(*) from events where customer_id = ?', p.customerId)).toBe(0);
    expect(count('loyalty', 'select count(*) from cards where card_number = ?', p.loyaltyCard)).toBe(cardBefore);
  });

  it('an access request yields a ZIP with data.json, CSVs, index.html and a verifiable manifest', async () => {
    const h = await engineHarness(connectors);
    const p = demoCustomer(2);
    const rid = await h.submit('access', [{ type: 'email', value: p.email }], { locale: 'en' });
    await h.engine.runUntilIdle();
    expect((await h.api('GET', `/v1/requests/${rid}`)).json.status).toBe('completed');
    const res = await h.app.request(`/v1/requests/${rid}/export`, { headers: h.auth });
    expect(res.status).toBe(200);
    const files = await unzip(Buffer.from(await res.arrayBuffer()));
    expect(files.has('data.json') && files.has('index.html') && files.has('manifest.json')).toBe(true);
    expect(files.has('shop-customers.csv')).toBe(true);
    expect(files.has('shop-orders.csv')).toBe(true);
    const data = JSON.parse(files.get('data.json')!.toString());
    expect(data.connectors.shop.customers[0].email).toBe(p.email);
    expect(files.get('index.html')!.toString()).toContain(p.email);
    const manifest = JSON.parse(files.get('manifest.json')!.toString());
    for (const [name, sha] of Object.entries(manifest.files)) expect(createHash('sha256').update(files.get(name)!).digest('hex')).toBe(sha);
    expect(Object.keys(manifest.files).sort()).toEqual([...files.keys()].filter((n) => n !== 'manifest.json').sort());
    expect(await verifyJws(manifest.jws, h.deps.keys.jwks())).toEqual(manifest.files);
  });
});
