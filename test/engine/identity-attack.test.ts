/**
 * The identity-merging attack, on the real demo silos: a shop account created with the
 * attacker's own email and ANOTHER customer's phone number. A verified request for the
 * attacker's email must never reach the victim — not in the export, not in the silos' erasure,
 * not in the consent registry (the victim's subject and their recorded withdrawal stay).
 */
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from '../../connectors/sql/sqlite-binding.js';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_SILOS, demoConnectorConfigs, demoConnectors, demoCustomer, demoSiloPath, ensureDemoSilos, type DemoSilo } from '../../connectors/demo/index.js';
import { sqlConnector } from '../../connectors/sql/index.js';
import type { Connector } from '../../connectors/types.js';
import { SCOPES } from '../../src/db/schema/api-keys.js';
import { findSubjectIdByIdentity } from '../../src/subjects/service.js';
import { bearer, call } from '../helpers/http.js';
import { unzip } from '../requests/zip.js';
import { engineHarness, type Harness } from './helpers.js';

const VICTIM = demoCustomer(1);
const ATTACKER = { id: 900_001, email: 'mallory.attacker@example.net', firstName: 'Mallory', lastName: 'Attaquante' };

let pristine: string;
beforeAll(() => {
  pristine = mkdtempSync(join(tmpdir(), 'oubli-attack-'));
  ensureDemoSilos(pristine, { customers: 200 });
});
afterAll(() => rmSync(pristine, { recursive: true, force: true }));

/**
 * The demo config as a deployment that did not mark its customer-typed phones as weak links:
 * the phone is then searched by, and only the conflict rules stand between the attacker and
 * the victim.
 */
function strongPhones(dir: string): Connector[] {
  const configs = demoConnectorConfigs(dir);
  for (const [silo, collection] of [['shop', 'customers'], ['crm', 'contacts']] as const) {
    const discover = configs[silo].collections[collection]!.discover as Record<string, { column: string; reason?: string; weak?: boolean }>;
    delete discover.phone!.weak;
  }
  return DEMO_SILOS.map((s) => sqlConnector(configs[s]));
}

/** A private copy of the demo silos with extra shop accounts (by default the attacker's). */
const opened: { dir: string; connectors: Connector[] }[] = [];
async function silosWithAttacker(make: (dir: string) => Connector[] = demoConnectors, accounts = [{ ...ATTACKER, phone: VICTIM.phone }]) {
  const dir = mkdtempSync(join(tmpdir(), 'oubli-attack-run-'));
  cpSync(join(pristine, 'demo'), join(dir, 'demo'), { recursive: true });
  const shop = new Database(demoSiloPath(dir, 'shop'));
  const insert = shop.prepare('insert into customers (id, email, phone, first_name, last_name, birth_date, created_at, marketing_opt_in) values (?, ?, ?, ?, ?, null, ?, 0)');
  for (const a of accounts) insert.run(a.id, a.email, a.phone, a.firstName, a.lastName, '2026-02-01T10:00:00Z');
  shop.close();
  const connectors = make(dir);
  for (const c of connectors) await c.init?.();
  opened.push({ dir, connectors });
  return { dir, connectors };
}
afterEach(async () => {
  for (const o of opened.splice(0)) {
    for (const c of o.connectors) await c.close?.();
    rmSync(o.dir, { recursive: true, force: true });
  }
});

function count(dir: string, silo: DemoSilo, sql: string, ...params: unknown[]): number {
  const db = new Database(demoSiloPath(dir, silo), { readonly: true });
  try {
    return db.prepare(sql).pluck().get(...params) as number;
  } finally {
    db.close();
  }
}

/** Everything of the victim in the silos, by where it lives. */
function victimFootprint(dir: string) {
  return {
    customers: count(dir, 'shop', 'select count(*) from customers where id = ?', VICTIM.customerId),
    addresses: count(dir, 'shop', 'select count(*) from addresses where customer_id = ?', VICTIM.customerId),
    orders: count(dir, 'shop', 'select count(*) from orders where customer_id = ?', VICTIM.customerId),
    invoicesNamed: count(dir, 'shop', "select count(*) from invoices where customer_id = ? and customer_name <> '[effacé]'", VICTIM.customerId),
    cards: count(dir, 'loyalty', 'select count(*) from cards where card_number = ?', VICTIM.loyaltyCard),
    receipts: count(dir, 'loyalty', 'select count(*) from receipts where card_number = ?', VICTIM.loyaltyCard),
    contacts: count(dir, 'crm', 'select count(*) from contacts where phone = ?', VICTIM.phone),
    tickets: count(dir, 'crm', 'select count(*) from tickets t join contacts c on c.id = t.contact_id where c.phone = ?', VICTIM.phone),
    subscribers: count(dir, 'newsletter', "select count(*) from subscribers where email = ? and status <> 'erased'", VICTIM.email),
    events: count(dir, 'analytics', 'select count(*) from events where customer_id = ?', VICTIM.customerId),
  };
}

/** The victim's registry subject, with a recorded withdrawal of the newsletter consent. */
async function victimWithdrew(h: Harness) {
  const admin = { authorization: (await bearer(h.deps, [...SCOPES], 'setup')).authorization };
  const purpose = { id: 'newsletter', title: { fr: 'Lettre', en: 'Newsletter' }, text: { fr: 'Recevoir la lettre.', en: 'Get the letter.' }, legalBasis: 'dpv:Consent', channels: ['email'] };
  expect((await call(h.app, 'POST', '/v1/purposes', { headers: admin, body: purpose })).status).toBe(201);
  for (const decision of ['granted', 'withdrawn']) {
    const r = await call(h.app, 'POST', '/v1/consents', { headers: admin, body: { subject: { type: 'email', value: VICTIM.email }, purpose: 'newsletter', decision, source: { channel: 'web' } } });
    expect(r.status, r.text).toBe(201);
  }
  return (await findSubjectIdByIdentity(h.deps.db, { type: 'email', value: VICTIM.email }))!;
}

async function expectVictimStillInRegistry(h: Harness, subjectId: string) {
  expect(await findSubjectIdByIdentity(h.deps.db, { type: 'email', value: VICTIM.email })).toBe(subjectId);
  const admin = { authorization: (await bearer(h.deps, ['consents:read'], 'check')).authorization };
  const state = await call(h.app, 'GET', `/v1/subjects/email:${encodeURIComponent(VICTIM.email)}/consents`, { headers: admin });
  expect(state.status, state.text).toBe(200);
  expect(JSON.stringify(state.json)).toContain('withdrawn');
}

/** The victim's phone may appear once: on the attacker's own account, where the attacker typed it. */
function expectNoVictimValue(text: string) {
  for (const v of [VICTIM.email, VICTIM.lastName, VICTIM.loyaltyCard!, VICTIM.addresses[0]!.line1]) expect(text).not.toContain(v);
  expect(text.split(VICTIM.phone).length - 1).toBeLessThanOrEqual(1);
}

describe('identity merging attack on the demo silos (attacker account holding the victim’s phone)', () => {
  it('a verified access request for the attacker’s email exports nothing of the victim', async () => {
    const { connectors } = await silosWithAttacker();
    const h = await engineHarness(connectors);
    const rid = await h.submit('access', [{ type: 'email', value: ATTACKER.email }], { locale: 'en' });
    await h.engine.runUntilIdle();
    const view = await h.api('GET', `/v1/requests/${rid}`);
    expect(view.json.status, view.json.statusReason).toBe('completed');
    const res = await h.app.request(`/v1/requests/${rid}/export`, { headers: h.auth });
    expect(res.status).toBe(200);
    const files = await unzip(Buffer.from(await res.arrayBuffer()));
    const data = JSON.parse(files.get('data.json')!.toString());
    expect(data.connectors.shop.customers.map((c: { email: string }) => c.email)).toEqual([ATTACKER.email]);
    for (const [name, body] of files) if (name !== 'manifest.json') expectNoVictimValue(body.toString());
  });

  it('a verified erasure for the attacker’s email deletes the attacker only: the victim stays in every silo and in the registry', async () => {
    const { dir, connectors } = await silosWithAttacker();
    const h = await engineHarness(connectors);
    const subjectId = await victimWithdrew(h);
    const before = victimFootprint(dir);
    expect(Object.values(before).every((n) => n > 0), JSON.stringify(before)).toBe(true);
    const rid = await h.submit('erasure', [{ type: 'email', value: ATTACKER.email }]);
    await h.engine.runUntilIdle();
    const view = await h.api('GET', `/v1/requests/${rid}`);
    expect(view.json.status, view.json.statusReason).toBe('completed');
    expect(count(dir, 'shop', 'select count(*) from customers where id = ?', ATTACKER.id)).toBe(0);
    expect(victimFootprint(dir)).toEqual(before);
    await expectVictimStillInRegistry(h, subjectId);
  });

  it('with the phones declared strong links, the request stops in needs_review: the DPO sees, masked, which identity led where and why it conflicts', async () => {
    const { connectors } = await silosWithAttacker(strongPhones);
    const h = await engineHarness(connectors);
    const rid = await h.submit('access', [{ type: 'email', value: ATTACKER.email }]);
    await h.engine.runUntilIdle();
    const view = await h.dpo('GET', `/v1/requests/${rid}`);
    expect(view.json).toMatchObject({ status: 'needs_review', statusReasonCode: 'identity_conflict' });
    expect(view.json.statusReason).toMatch(/^identity conflict: 4 identities need the DPO's decision$/);
    type View = { id: number; type: string; value: string; state: string; source: string; collection: string; round: number; why: { code: string; conflictingType?: string; connector?: string; collection?: string; round?: number; via: { id: number; type: string; value: string }[] } };
    const ids = view.json.identities as View[];
    const phone = ids.find((i) => i.type === 'phone')!;
    expect(phone).toMatchObject({ state: 'pending', source: 'shop', collection: 'customers', round: 1 });
    // It led, in round 2, to the victim's shop account and CRM contact (either is named).
    expect(phone.why).toMatchObject({ code: 'leads_to_conflict', round: 2 });
    expect([['shop', 'customers'], ['crm', 'contacts']]).toContainEqual([phone.why.connector, phone.why.collection]);
    expect(['email', 'customer_id']).toContain(phone.why.conflictingType);
    const victimEmail = ids.find((i) => i.type === 'email' && i.source !== 'request')!;
    expect(victimEmail).toMatchObject({ state: 'pending', round: 2, why: { code: 'identity_conflict', conflictingType: 'email', via: [{ id: phone.id, type: 'phone', value: phone.value }] } });
    expect(ids.find((i) => i.type === 'customer_id' && i.why.code === 'identity_conflict')).toMatchObject({ state: 'pending', why: { conflictingType: 'customer_id', connector: 'shop', collection: 'customers' } });
    expect(ids.find((i) => i.type === 'loyalty_card')).toMatchObject({ state: 'pending', source: 'loyalty', why: { code: 'through_pending', via: [{ id: phone.id }] } });
    // The attacker's own identities stay held; the view shows masked values only.
    expect(ids.filter((i) => i.state === 'included').map((i) => i.type).sort()).toEqual(['customer_id', 'email']);
    expect(JSON.stringify(view.json)).not.toContain(VICTIM.email);
    expect(JSON.stringify(view.json)).not.toContain(VICTIM.phone);
    expect(JSON.stringify(view.json)).not.toContain(VICTIM.loyaltyCard);
    // Nothing runs while it waits; the audit entry names types and places, never values.
    expect(view.json.tasks.every((t: { status: string }) => t.status === 'done')).toBe(true);
    const entry = (await h.auditData('request.needs_review'))[0]!;
    expect(entry.data).toMatchObject({ reason: 'identity_conflict', conflicts: 3 });
    expectNoVictimValue((await h.auditText()));
    expect((await h.auditText())).not.toContain(VICTIM.phone);
  });

  it('the DPO excludes the phone: what it alone led to is excluded with it, the request resumes and exports the attacker’s data only; the audit keeps who and a keyed hash, the row the text', async () => {
    const { connectors } = await silosWithAttacker(strongPhones);
    const h = await engineHarness(connectors);
    const rid = await h.submit('access', [{ type: 'email', value: ATTACKER.email }]);
    await h.engine.runUntilIdle();
    const phone = (await h.dpo('GET', `/v1/requests/${rid}`)).json.identities.find((i: { type: string }) => i.type === 'phone');
    const note = `phone of Mme ${VICTIM.lastName} (customer ${VICTIM.customerId}), typed on another account`;
    const res = await h.dpo('POST', `/v1/requests/${rid}/identities/${phone.id}/exclude`, { reason: note });
    expect(res.status, res.text).toBe(200);
    expect(res.json.status).toBe('running');
    const decided = res.json.identities.find((i: { id: number }) => i.id === phone.id);
    expect(decided).toMatchObject({ state: 'excluded', why: { code: 'decided' }, decision: { decision: 'exclude', by: expect.stringMatching(/^api_key:key_/), reason: note } });
    expect(res.json.identities.filter((i: { state: string }) => i.state === 'pending')).toEqual([]);
    expect(res.json.identities.filter((i: { why: { code: string } }) => i.why.code === 'through_excluded').map((i: { type: string }) => i.type).sort()).toEqual(['customer_id', 'email', 'loyalty_card']);
    await h.engine.runUntilIdle();
    const view = await h.api('GET', `/v1/requests/${rid}`);
    expect(view.json.status, view.json.statusReason).toBe('completed');
    // The silos the phone was searched in were searched again without it.
    expect(view.json.tasks.filter((t: { connector: string; phase: string; round: number }) => t.phase === 'access' && t.round === 3).map((t: { connector: string }) => t.connector).sort()).toEqual(['crm', 'shop']);
    const res2 = await h.app.request(`/v1/requests/${rid}/export`, { headers: h.auth });
    const files = await unzip(Buffer.from(await res2.arrayBuffer()));
    const data = JSON.parse(files.get('data.json')!.toString());
    expect(data.connectors.shop.customers.map((c: { email: string }) => c.email)).toEqual([ATTACKER.email]);
    expect(data.connectors.loyalty).toEqual({});
    for (const [name, body] of files) if (name !== 'manifest.json') expectNoVictimValue(body.toString());
    const excluded = (await h.auditData('request.identity_excluded'));
    expect(excluded).toHaveLength(1);
    expect(excluded[0]).toMatchObject({ actor: { type: 'api_key' }, data: { identity: phone.id, type: 'phone', why: 'leads_to_conflict', reasonHash: expect.stringMatching(/^reason_/) } });
    expect((await h.auditTypes(rid))).toContain('request.resumed');
    const audit = (await h.auditText());
    expectNoVictimValue(audit);
    expect(audit).not.toContain(VICTIM.phone);
    expect(audit).not.toContain('typed on another account');
  });

  it('a verified erasure with the phones declared strong: the DPO excludes the phone; the attacker alone is erased and forgotten, the victim stays in every silo and in the registry', async () => {
    const { dir, connectors } = await silosWithAttacker(strongPhones);
    const h = await engineHarness(connectors);
    const subjectId = await victimWithdrew(h);
    const before = victimFootprint(dir);
    const rid = await h.submit('erasure', [{ type: 'email', value: ATTACKER.email }]);
    await h.engine.runUntilIdle();
    expect((await h.api('GET', `/v1/requests/${rid}`)).json.status).toBe('needs_review');
    expect(victimFootprint(dir)).toEqual(before); // nothing erased while it waits
    const attackerSubject = await findSubjectIdByIdentity(h.deps.db, { type: 'email', value: ATTACKER.email });
    expect(attackerSubject).toBeDefined();
    const phone = (await h.dpo('GET', `/v1/requests/${rid}`)).json.identities.find((i: { type: string }) => i.type === 'phone');
    expect((await h.dpo('POST', `/v1/requests/${rid}/identities/${phone.id}/exclude`, { reason: 'shared with another customer' })).status).toBe(200);
    await h.engine.runUntilIdle();
    const view = await h.api('GET', `/v1/requests/${rid}`);
    expect(view.json.status, view.json.statusReason).toBe('completed');
    expect(view.json.verification.ok).toBe(true);
    expect(view.json.tasks.filter((t: { phase: string }) => t.phase === 'erase').map((t: { connector: string }) => t.connector)).toEqual(['shop']);
    expect(count(dir, 'shop', 'select count(*) from customers where id = ?', ATTACKER.id)).toBe(0);
    expect(victimFootprint(dir)).toEqual(before);
    await expectVictimStillInRegistry(h, subjectId);
    expect(await findSubjectIdByIdentity(h.deps.db, { type: 'email', value: ATTACKER.email })).toBeUndefined();
    expect((await h.auditData('subject.forgotten'))).toHaveLength(1);
  });

  it('the same person with a second shop account on their phone: the DPO includes the phone, and both accounts are the person’s', async () => {
    const second = { id: 900_002, email: 'jeanne.second.account@example.org', phone: VICTIM.phone, firstName: VICTIM.firstName, lastName: VICTIM.lastName };
    const { connectors } = await silosWithAttacker(strongPhones, [second]);
    const h = await engineHarness(connectors);
    const rid = await h.submit('access', [{ type: 'email', value: VICTIM.email }]);
    await h.engine.runUntilIdle();
    const review = await h.dpo('GET', `/v1/requests/${rid}`);
    expect(review.json.status).toBe('needs_review');
    const phone = review.json.identities.find((i: { type: string }) => i.type === 'phone');
    expect(phone.why.code).toBe('leads_to_conflict');
    const res = await h.dpo('POST', `/v1/requests/${rid}/identities/${phone.id}/include`, { reason: 'second account opened by the same person (checked by phone)' });
    expect(res.status, res.text).toBe(200);
    expect(res.json.status).toBe('running');
    expect(res.json.identities.every((i: { state: string }) => i.state === 'included')).toBe(true);
    await h.engine.runUntilIdle();
    const view = await h.api('GET', `/v1/requests/${rid}`);
    expect(view.json.status, view.json.statusReason).toBe('completed');
    const files = await unzip(Buffer.from(await (await h.app.request(`/v1/requests/${rid}/export`, { headers: h.auth })).arrayBuffer()));
    const data = JSON.parse(files.get('data.json')!.toString());
    expect(data.connectors.shop.customers.map((c: { email: string }) => c.email).sort()).toEqual([second.email, VICTIM.email].sort());
    expect(data.connectors.loyalty.receipts.length).toBeGreaterThan(0);
    expect((await h.auditData('request.identity_included'))[0]).toMatchObject({ data: { identity: phone.id, type: 'phone', reasonHash: expect.stringMatching(/^reason_/) } });
  });
});

describe('identity decisions: who may decide, when, and only once', () => {
  async function inReview() {
    const { connectors } = await silosWithAttacker(strongPhones);
    const h = await engineHarness(connectors);
    const rid = await h.submit('access', [{ type: 'email', value: ATTACKER.email }]);
    await h.engine.runUntilIdle();
    const ids = (await h.dpo('GET', `/v1/requests/${rid}`)).json.identities as { id: number; type: string; source: string; state: string }[];
    return { h, rid, phone: ids.find((i) => i.type === 'phone')!, given: ids.find((i) => i.source === 'request')! };
  }

  it('a burst of decisions on one identity: exactly one wins, the others get 409 IDENTITY_NOT_PENDING', async () => {
    const { h, rid, phone } = await inReview();
    const burst = await Promise.all(
      Array.from({ length: 6 }, (_, k) => h.dpo('POST', `/v1/requests/${rid}/identities/${phone.id}/${k % 2 ? 'include' : 'exclude'}`, { reason: `decision ${k}` })),
    );
    const codes = burst.map((r) => r.status).sort();
    expect(codes).toEqual([200, 409, 409, 409, 409, 409]);
    for (const r of burst.filter((x) => x.status === 409)) expect(['IDENTITY_NOT_PENDING', 'INVALID_STATE']).toContain(r.json.error.code);
    expect([...(await h.auditTypes(rid)).filter((t) => t.startsWith('request.identity_'))]).toHaveLength(1);
    expect((await h.auditTypes(rid)).filter((t) => t === 'request.resumed')).toHaveLength(1);
  });

  it('the opener cannot decide (403 SEPARATION_OF_DUTIES), requests:write cannot (403), nothing outside needs_review (409), unknown identity (404), a given identity is not under review (409)', async () => {
    const { h, rid, phone, given } = await inReview();
    const opener = await call(h.app, 'POST', `/v1/requests/${rid}/identities/${phone.id}/include`, { headers: h.auth, body: { reason: 'mine' } });
    expect(opener.status).toBe(403);
    expect(opener.json.error.code).toBe('INSUFFICIENT_SCOPE');
    // Even with the DPO's scope, the principal that opened the request may not decide on it.
    const both = (await bearer(h.deps, ['requests:read', 'requests:write', 'requests:verify', 'requests:approve'], 'both'));
    const own = await call(h.app, 'POST', '/v1/requests', { headers: { authorization: both.authorization }, body: { type: 'access', identities: [{ type: 'email', value: ATTACKER.email }], verified: true } });
    await h.engine.runUntilIdle();
    const ownPhone = (await h.dpo('GET', `/v1/requests/${own.json.id}`)).json.identities.find((i: { type: string }) => i.type === 'phone');
    const self = await call(h.app, 'POST', `/v1/requests/${own.json.id}/identities/${ownPhone.id}/include`, { headers: { authorization: both.authorization }, body: { reason: 'mine' } });
    expect(self.status).toBe(403);
    expect(self.json.error.code).toBe('SEPARATION_OF_DUTIES');
    expect((await h.dpo('POST', `/v1/requests/${rid}/identities/${phone.id}/include`, {})).status).toBe(400);
    expect((await h.dpo('POST', `/v1/requests/${rid}/identities/${phone.id}/include`, { reason: ' ' })).status).toBe(400);
    expect((await h.dpo('POST', `/v1/requests/${rid}/identities/abc/include`, { reason: 'x' })).status).toBe(400);
    const unknown = await h.dpo('POST', `/v1/requests/${rid}/identities/999999/include`, { reason: 'x' });
    expect(unknown.status).toBe(404);
    expect(unknown.json.error.code).toBe('IDENTITY_NOT_FOUND');
    const notPending = await h.dpo('POST', `/v1/requests/${rid}/identities/${given.id}/exclude`, { reason: 'x' });
    expect(notPending.status).toBe(409);
    expect(notPending.json.error.code).toBe('IDENTITY_NOT_PENDING');
    // Another request's identity id is not found through this request.
    const cross = await h.dpo('POST', `/v1/requests/${own.json.id}/identities/${phone.id}/include`, { reason: 'x' });
    expect(cross.status).toBe(404);
    expect((await h.dpo('POST', `/v1/requests/${rid}/identities/${phone.id}/exclude`, { reason: 'shared' })).status).toBe(200);
    await h.engine.runUntilIdle();
    const late = await h.dpo('POST', `/v1/requests/${rid}/identities/${phone.id}/include`, { reason: 'changed my mind' });
    expect(late.status).toBe(409);
    expect(late.json.error).toMatchObject({ code: 'INVALID_STATE', details: { status: 'completed' } });
  });
});

describe('erasure preview with an identity conflict', () => {
  it('shows the conflict as a request would, erases nothing of the victim in its dry run, needs requests:verify and is audited without values', async () => {
    const { connectors } = await silosWithAttacker(strongPhones);
    const h = await engineHarness(connectors);
    const writer = (await bearer(h.deps, ['requests:read', 'requests:write'], 'writer'));
    const body = { type: 'erasure', identities: [{ type: 'email', value: ATTACKER.email }] };
    const denied = await call(h.app, 'POST', '/v1/requests/preview', { headers: { authorization: writer.authorization }, body });
    expect(denied.status).toBe(403);
    const res = await h.dpo('POST', '/v1/requests/preview', body);
    expect(res.status, res.text).toBe(200);
    expect(res.json.review).toEqual({ needed: true, pending: 4 });
    const phone = res.json.identities.find((i: { type: string }) => i.type === 'phone');
    expect(phone).toMatchObject({ state: 'pending', why: { code: 'leads_to_conflict' } });
    const shop = res.json.connectors.find((c: { connector: string }) => c.connector === 'shop');
    expect(shop.collections.find((c: { name: string }) => c.name === 'customers')).toMatchObject({ found: 1, deleted: 1 });
    expect(res.json.connectors.find((c: { connector: string }) => c.connector === 'loyalty').collections.every((c: { deleted: number; found: number }) => c.deleted === 0 && c.found === 0)).toBe(true);
    expect(JSON.stringify(res.json)).not.toContain(VICTIM.email);
    const entries = (await h.auditData('request.previewed'));
    expect(entries).toHaveLength(1);
    expect(entries[0]!.data).toEqual({ requestType: 'erasure', identityTypes: ['email'] });
    expect((await h.auditText())).not.toContain(ATTACKER.email);
  });
});

