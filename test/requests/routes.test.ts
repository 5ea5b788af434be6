import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ALICE, BOB, syntheticConnector, syntheticSilos } from '../helpers/synthetic-connector.js';
import { engineHarness, type Harness } from '../engine/helpers.js';
import { adminOf } from '../helpers/admin-sql.js';
import { exportFileOf } from '../../src/requests/spool.js';
import { authSuite } from '../helpers/auth-suite.js';
import { bearer, call } from '../helpers/http.js';
import { unzip, verifyJws } from './zip.js';
import { fromHex, verifyInclusion } from '../../src/audit/verify.js';
import { dateInZone, formatDate } from '../../src/requests/deadlines.js';
import { loginCookie, staff } from '../auth/helpers.js';

const RID = 'req_00000000000000000000000000';

authSuite('requests', () => engineHarness([]), [
  { method: 'POST', path: '/v1/requests', scope: 'requests:write', body: { type: 'access', identities: [{ type: 'email', value: 'a@example.com' }] } },
  { method: 'POST', path: '/v1/requests/preview', scope: 'requests:verify', body: { type: 'erasure', identities: [{ type: 'email', value: 'a@example.com' }] } },
  { method: 'GET', path: '/v1/requests', scope: 'requests:read' },
  { method: 'GET', path: `/v1/requests/${RID}`, scope: 'requests:read' },
  { method: 'POST', path: `/v1/requests/${RID}/verify`, scope: 'requests:verify' },
  { method: 'POST', path: `/v1/requests/${RID}/approve`, scope: 'requests:approve' },
  { method: 'POST', path: `/v1/requests/${RID}/deny`, scope: 'requests:approve', body: { reasonCode: 'other', reason: 'x' } },
  { method: 'POST', path: `/v1/requests/${RID}/extend`, scope: 'requests:approve', body: { months: 1, reason: 'x' } },
  { method: 'POST', path: `/v1/requests/${RID}/identities/1/include`, scope: 'requests:approve', body: { reason: 'x' } },
  { method: 'POST', path: `/v1/requests/${RID}/identities/1/exclude`, scope: 'requests:approve', body: { reason: 'x' } },
  { method: 'POST', path: `/v1/requests/${RID}/cancel`, scope: 'requests:write' },
  { method: 'POST', path: `/v1/requests/${RID}/retry`, scope: 'requests:write' },
  { method: 'GET', path: `/v1/requests/${RID}/export`, scope: 'requests:read' },
  { method: 'GET', path: `/v1/requests/${RID}/receipt`, scope: 'requests:read' },
]);

describe('POST /v1/requests: bad input', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await engineHarness(syntheticSilos([ALICE]).all);
  });
  const count = async () => (await h.deps.db.requests.list({ limit: 1000 })).length;
  it.each([
    ['unknown request type', { type: 'rectification', identities: [{ type: 'email', value: 'a@example.com' }] }, 'VALIDATION_FAILED'],
    ['no identity', { type: 'access', identities: [] }, 'NO_IDENTITY'],
    ['missing identities', { type: 'access' }, 'VALIDATION_FAILED'],
    ['malformed email', { type: 'access', identities: [{ type: 'email', value: 'not-an-email' }] }, 'INVALID_IDENTITY'],
    ['malformed phone', { type: 'access', identities: [{ type: 'phone', value: '12' }] }, 'INVALID_IDENTITY'],
    ['malformed identity type', { type: 'access', identities: [{ type: 'E-Mail!', value: 'a@example.com' }] }, 'INVALID_IDENTITY'],
    ['empty value', { type: 'access', identities: [{ type: 'customer_id', value: '  ' }] }, 'INVALID_IDENTITY'],
    ['unknown field', { type: 'access', identities: [{ type: 'email', value: 'a@example.com' }], foo: 1 }, 'VALIDATION_FAILED'],
    ['bad channel', { type: 'access', identities: [{ type: 'email', value: 'a@example.com' }], channel: 'fax' }, 'VALIDATION_FAILED'],
  ])('%s → 400 %s, nothing written', async (_label, body, code) => {
    const before = await count();
    const res = await h.api('POST', '/v1/requests', body);
    expect(res.status).toBe(400);
    expect(res.json.error.code).toBe(code);
    expect(await count()).toBe(before);
  });

  it('invalid JSON → 400 INVALID_JSON', async () => {
    const res = await call(h.app, 'POST', '/v1/requests', { raw: '{', headers: { authorization: h.auth.authorization } });
    expect(res.status).toBe(400);
    expect(res.json.error.code).toBe('INVALID_JSON');
  });

  it('verified: true needs requests:verify → 403, and nothing is written', async () => {
    const { authorization } = (await bearer(h.deps, ['requests:write']));
    const before = await count();
    const res = await call(h.app, 'POST', '/v1/requests', { headers: { authorization }, body: { type: 'erasure', identities: [{ type: 'email', value: ALICE.email }], verified: true } });
    expect(res.status).toBe(403);
    expect(res.json.error.code).toBe('INSUFFICIENT_SCOPE');
    expect(await count()).toBe(before);
    const ok = await call(h.app, 'POST', '/v1/requests', { headers: { authorization }, body: { type: 'erasure', identities: [{ type: 'email', value: ALICE.email }] } });
    expect(ok.status).toBe(201);
    expect(ok.json.status).toBe('pending_verification');
  });
});

describe('request lifecycle', () => {
  it('201 with id, status, receivedAt and dueAt (end of the due day in Paris); audit entry without identity; no registry subject until verified', async () => {
    const h = await engineHarness([]);
    const res = await h.api('POST', '/v1/requests', { type: 'access', identities: [{ type: 'email', value: ALICE.email }], channel: 'call_center', locale: 'en' });
    expect(res.status).toBe(201);
    expect(res.json).toEqual({ id: expect.stringMatching(/^req_/), status: 'pending_verification', receivedAt: '2026-03-01T09:00:00.000Z', dueAt: '2026-04-01T21:59:59.999Z', notSearchable: ['email'] });
    const entry = (await h.auditData('request.received'))[0]!;
    expect(JSON.stringify(entry)).not.toContain('alice');
    // An unproven claim creates nothing in the consent registry.
    expect(entry.subjectRef).toBeUndefined();
    expect(Number(await adminOf(h.deps.db).value('select count(*) from subjects'))).toBe(0);
    const view = await h.api('GET', `/v1/requests/${res.json.id}`);
    expect(view.json).toMatchObject({ status: 'pending_verification', channel: 'call_center', locale: 'en', dueDate: '2026-04-01', overdue: false, verified: false });
    expect(view.json.identities).toEqual([
      {
        id: expect.any(Number),
        type: 'email',
        value: 'a***@example.com',
        source: 'request',
        collection: null,
        reason: 'given with the request',
        round: 0,
        searchable: false,
        state: 'included',
        weak: false,
        why: { code: 'given', via: [] },
        decision: null,
      },
    ]);
    // Verified: the subject exists and names the later entries.
    const v = await h.api('POST', `/v1/requests/${res.json.id}/verify`);
    expect(v.status).toBe(200);
    expect(Number(await adminOf(h.deps.db).value('select count(*) from subjects'))).toBe(1);
    expect((await h.auditData('request.identity_verified'))[0]!.subjectRef).toMatch(/^sref_/);
  });

  it('verify → running; a second verify, approve, deny → 409 INVALID_STATE naming the current state', async () => {
    const h = await engineHarness(syntheticSilos([ALICE]).all);
    const { json } = await h.api('POST', '/v1/requests', { type: 'erasure', identities: [{ type: 'email', value: ALICE.email }] });
    const v = await h.api('POST', `/v1/requests/${json.id}/verify`);
    expect(v.status).toBe(200);
    expect(v.json.status).toBe('running');
    expect(v.json.verified).toBe(true);
    for (const [path, body] of [['verify'], ['approve'], ['deny', { reasonCode: 'other', reason: 'x' }]] as const) {
      const r = await h.dpo('POST', `/v1/requests/${json.id}/${path}`, body);
      expect(r.status).toBe(409);
      expect(r.json.error.code).toBe('INVALID_STATE');
      expect(r.json.error.details).toEqual({ status: 'running' });
      expect(r.json.error.message).toContain('running');
    }
    await h.engine.runUntilIdle();
    expect((await h.api('GET', `/v1/requests/${json.id}`)).json.status).toBe('completed');
    // A completed request: no retry, no cancel, no extension.
    for (const [path, body, as] of [['retry', undefined, h.api], ['cancel', undefined, h.api], ['extend', { months: 1, reason: 'complex' }, h.dpo]] as const) {
      const r = await as('POST', `/v1/requests/${json.id}/${path}`, body);
      expect(r.status).toBe(409);
      expect(r.json.error).toMatchObject({ code: 'INVALID_STATE', details: { status: 'completed' } });
    }
    expect((await h.auditTypes(json.id)).filter((t) => t === 'request.identity_verified')).toHaveLength(1);
  });

  it('deployment requiring approval: verified requests wait in awaiting_approval until the DPO approves', async () => {
    const silos = syntheticSilos([ALICE]);
    const h = await engineHarness(silos.all, { requireApproval: ['erasure'] });
    const id = await h.submit('erasure', [{ type: 'email', value: ALICE.email }]);
    expect((await h.api('GET', `/v1/requests/${id}`)).json.status).toBe('awaiting_approval');
    await h.engine.runUntilIdle();
    expect(silos.shop.calls.access).toBe(0);
    const a = await h.dpo('POST', `/v1/requests/${id}/approve`);
    expect(a.json.status).toBe('running');
    await h.engine.runUntilIdle();
    expect((await h.api('GET', `/v1/requests/${id}`)).json.status).toBe('completed');
    expect((await h.auditTypes(id))).toContain('request.approved');
    // Access requests do not need approval in this deployment.
    const acc = await h.submit('access', [{ type: 'email', value: BOB.email }]);
    expect((await h.api('GET', `/v1/requests/${acc}`)).json.status).toBe('running');
  });

  it('deny needs an Art. 12(4) ground and a text; the text stays in the request, the audit entry keeps the ground and a keyed hash only', async () => {
    const h = await engineHarness([]);
    const { json } = await h.api('POST', '/v1/requests', { type: 'erasure', identities: [{ type: 'email', value: ALICE.email }] });
    expect((await h.dpo('POST', `/v1/requests/${json.id}/deny`, {})).status).toBe(400);
    expect((await h.dpo('POST', `/v1/requests/${json.id}/deny`, { reasonCode: 'other', reason: '  ' })).status).toBe(400);
    expect((await h.dpo('POST', `/v1/requests/${json.id}/deny`, { reason: 'no code' })).status).toBe(400);
    expect((await h.dpo('POST', `/v1/requests/${json.id}/deny`, { reasonCode: 'because', reason: 'bad code' })).status).toBe(400);
    const text = 'Mme Jeanne Martin (alice@example.com) asked the same thing 12 times this week';
    const d = await h.dpo('POST', `/v1/requests/${json.id}/deny`, { reasonCode: 'excessive', reason: text });
    expect(d.status, d.text).toBe(200);
    expect(d.json).toMatchObject({ status: 'denied', statusReason: text, statusReasonCode: 'excessive' });
    const data = (await h.auditData('request.denied'))[0]!.data;
    expect(data).toEqual({ from: 'pending_verification', to: 'denied', reasonCode: 'excessive', reasonHash: expect.stringMatching(/^reason_[A-Za-z0-9_-]{22}$/) });
    const audit = (await h.auditText());
    for (const v of ['Jeanne', 'Martin', 'alice', '12 times']) expect(audit).not.toContain(v);
  });

  it('approve, deny and extend need requests:approve, and never the principal that opened the request (403 SEPARATION_OF_DUTIES)', async () => {
    const h = await engineHarness(syntheticSilos([ALICE]).all, { requireApproval: ['erasure'] });
    // A key with every request scope: it may open, verify and approve — but not its own request.
    const both = { authorization: (await bearer(h.deps, ['requests:read', 'requests:write', 'requests:verify', 'requests:approve'])).authorization };
    const opened = await call(h.app, 'POST', '/v1/requests', { headers: both, body: { type: 'erasure', identities: [{ type: 'email', value: ALICE.email }], verified: true } });
    expect(opened.json.status).toBe('awaiting_approval');
    for (const [path, body] of [['approve'], ['deny', { reasonCode: 'other', reason: 'x' }], ['extend', { months: 1, reason: 'x' }]] as const) {
      const own = await call(h.app, 'POST', `/v1/requests/${opened.json.id}/${path}`, { headers: both, body });
      expect(own.status, path).toBe(403);
      expect(own.json.error.code).toBe('SEPARATION_OF_DUTIES');
      // requests:write is no longer enough.
      const writer = await h.api('POST', `/v1/requests/${opened.json.id}/${path}`, body);
      expect(writer.status, path).toBe(403);
      expect(writer.json.error.code).toBe('INSUFFICIENT_SCOPE');
    }
    expect((await h.api('GET', `/v1/requests/${opened.json.id}`)).json).toMatchObject({ status: 'awaiting_approval', extendedMonths: 0 });
    expect((await h.auditTypes(opened.json.id))).not.toContain('request.approved');
    const ok = await h.dpo('POST', `/v1/requests/${opened.json.id}/approve`);
    expect(ok.status).toBe(200);
    expect(ok.json.status).toBe('running');
    expect((await h.auditData('request.approved'))[0]).toMatchObject({ actor: { type: 'api_key' } });
  });

  it('a dpo or admin session has the DPO’s authority; a viewer session does not', async () => {
    const h = await engineHarness(syntheticSilos([ALICE]).all, { requireApproval: ['erasure'] });
    const ids = [await h.submit('erasure', [{ type: 'email', value: ALICE.email }]), await h.submit('erasure', [{ type: 'email', value: BOB.email }])];
    await staff(h.deps, 'viewer@example.com', 'viewer');
    await staff(h.deps, 'dpo@example.com', 'dpo');
    const viewer = { cookie: await loginCookie(h.app, 'viewer@example.com') };
    const dpo = { cookie: await loginCookie(h.app, 'dpo@example.com') };
    const v = await call(h.app, 'POST', `/v1/requests/${ids[0]}/approve`, { headers: viewer });
    expect(v.status).toBe(403);
    expect(v.json.error.code).toBe('INSUFFICIENT_SCOPE');
    expect((await call(h.app, 'POST', '/v1/requests/preview', { headers: viewer, body: { type: 'erasure', identities: [{ type: 'email', value: ALICE.email }] } })).status).toBe(403);
    expect((await call(h.app, 'POST', `/v1/requests/${ids[0]}/approve`, { headers: dpo })).json.status).toBe('running');
    const d = await call(h.app, 'POST', `/v1/requests/${ids[1]}/deny`, { headers: dpo, body: { reasonCode: 'manifestly_unfounded', reason: 'test' } });
    expect(d.json).toMatchObject({ status: 'denied', statusReasonCode: 'manifestly_unfounded' });
    expect((await h.auditData('request.denied'))[0]).toMatchObject({ actor: { type: 'user' } });
  });

  it('a burst of approvals: exactly one wins, the others get 409', async () => {
    const h = await engineHarness([], { requireApproval: ['erasure'] });
    const id = await h.submit('erasure', [{ type: 'email', value: ALICE.email }]);
    const all = await Promise.all(Array.from({ length: 8 }, () => h.dpo('POST', `/v1/requests/${id}/approve`)));
    expect(all.map((r) => r.status).sort()).toEqual([200, 409, 409, 409, 409, 409, 409, 409]);
    expect((await h.auditTypes(id)).filter((t) => t === 'request.approved')).toHaveLength(1);
    expect((await h.auditTypes(id)).filter((t) => t === 'request.started')).toHaveLength(1);
  });

  it('extend: 1 then 1 more month (counted from receipt), never beyond 2 in total, reason required', async () => {
    const h = await engineHarness([]);
    h.deps.clock.set(Date.parse('2026-01-31T10:00:00Z'));
    const { json } = await h.api('POST', '/v1/requests', { type: 'access', identities: [{ type: 'email', value: ALICE.email }] });
    expect(json.dueAt).toBe('2026-02-28T22:59:59.999Z');
    expect((await h.dpo('POST', `/v1/requests/${json.id}/extend`, { months: 1 })).status).toBe(400);
    expect((await h.dpo('POST', `/v1/requests/${json.id}/extend`, { months: 3, reason: 'x' })).status).toBe(400);
    const e1 = await h.dpo('POST', `/v1/requests/${json.id}/extend`, { months: 1, reason: 'many silos, and Mme Martin sent 40 pages' });
    expect(e1.json).toMatchObject({ extendedMonths: 1, dueDate: '2026-03-31', dueAt: '2026-03-31T21:59:59.999Z', extensionReason: 'many silos, and Mme Martin sent 40 pages' });
    const too = await h.dpo('POST', `/v1/requests/${json.id}/extend`, { months: 2, reason: 'more' });
    expect(too.status).toBe(409);
    expect(too.json.error.code).toBe('EXTENSION_LIMIT');
    const e2 = await h.dpo('POST', `/v1/requests/${json.id}/extend`, { months: 1, reason: 'still more' });
    expect(e2.json).toMatchObject({ extendedMonths: 2, dueDate: '2026-04-30' });
    expect((await h.auditTypes(json.id)).filter((t) => t === 'request.extended')).toHaveLength(2);
    // The reason stays in the request; the audit entry has its keyed hash only.
    expect((await h.auditData('request.extended'))[0]!.data).toEqual({ months: 1, totalMonths: 1, dueAt: '2026-03-31T21:59:59.999Z', reasonHash: expect.stringMatching(/^reason_/) });
    expect((await h.auditText())).not.toContain('Martin');
  });

  it('cancel stops a running request and its queued tasks', async () => {
    const silos = syntheticSilos([ALICE]);
    const h = await engineHarness(silos.all);
    const id = await h.submit('erasure', [{ type: 'email', value: ALICE.email }]);
    const c = await h.api('POST', `/v1/requests/${id}/cancel`);
    expect(c.json.status).toBe('cancelled');
    expect(c.json.tasks.every((t: { status: string }) => t.status === 'cancelled')).toBe(true);
    await h.engine.runUntilIdle();
    expect(silos.shop.calls.access).toBe(0);
    expect((await h.api('POST', `/v1/requests/${id}/cancel`)).status).toBe(409);
  });

  it('unknown request id → 404; malformed id → 400', async () => {
    const h = await engineHarness([]);
    expect((await h.api('GET', `/v1/requests/${RID}`)).json.error.code).toBe('REQUEST_NOT_FOUND');
    expect((await h.api('POST', `/v1/requests/${RID}/verify`)).status).toBe(404);
    expect((await h.api('GET', '/v1/requests/nope')).status).toBe(400);
  });

  it('a request never verified expires after its deadline (sweep)', async () => {
    const h = await engineHarness([]);
    const { json } = await h.api('POST', '/v1/requests', { type: 'access', identities: [{ type: 'email', value: ALICE.email }] });
    h.deps.clock.advance(40 * 86_400_000);
    await h.engine.sweep();
    const v = await h.api('GET', `/v1/requests/${json.id}`);
    expect(v.json.status).toBe('expired');
    expect((await h.auditTypes(json.id))).toContain('request.expired');
  });
});

describe('GET /v1/requests', () => {
  it('lists newest first with filters, overdue flag and cursor', async () => {
    const h = await engineHarness([]);
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const r = await h.api('POST', '/v1/requests', { type: i % 2 ? 'erasure' : 'access', identities: [{ type: 'email', value: `p${i}@example.com` }] });
      ids.push(r.json.id);
      h.deps.clock.advance(1000);
    }
    await h.dpo('POST', `/v1/requests/${ids[0]}/deny`, { reasonCode: 'excessive', reason: 'duplicate' });
    const all = await h.api('GET', '/v1/requests?limit=2');
    expect(all.json.items.map((i: { id: string }) => i.id)).toEqual([ids[4], ids[3]]);
    const p2 = await h.api('GET', `/v1/requests?limit=2&cursor=${all.json.nextCursor}`);
    expect(p2.json.items.map((i: { id: string }) => i.id)).toEqual([ids[2], ids[1]]);
    const p3 = await h.api('GET', `/v1/requests?limit=2&cursor=${p2.json.nextCursor}`);
    expect(p3.json.items.map((i: { id: string }) => i.id)).toEqual([ids[0]]);
    expect(p3.json.nextCursor).toBeNull();
    expect((await h.api('GET', '/v1/requests?type=erasure')).json.items).toHaveLength(2);
    expect((await h.api('GET', '/v1/requests?status=denied')).json.items.map((i: { id: string }) => i.id)).toEqual([ids[0]]);
    expect((await h.api('GET', '/v1/requests?overdue=true')).json.items).toHaveLength(0);
    h.deps.clock.advance(32 * 86_400_000);
    const overdue = await h.api('GET', '/v1/requests?overdue=true');
    expect(overdue.json.items).toHaveLength(4); // the denied one is closed
    expect(overdue.json.items.every((i: { overdue: boolean }) => i.overdue)).toBe(true);
    expect((await h.api('GET', '/v1/requests?status=nope')).status).toBe(400);
    expect((await h.api('GET', '/v1/requests?limit=0')).status).toBe(400);
  });
});

describe('exports', () => {
  it('an access request yields a ZIP: data.json, one CSV per collection, index.html, manifest.json whose JWS verifies', async () => {
    const silos = syntheticSilos([ALICE, BOB]);
    const h = await engineHarness(silos.all);
    const id = await h.submit('access', [{ type: 'email', value: ALICE.email }], { locale: 'fr' });
    await h.engine.runUntilIdle();
    const view = await h.api('GET', `/v1/requests/${id}`);
    expect(view.json.status).toBe('completed');
    expect(view.json.export.available).toBe(true);
    const res = await h.app.request(`/v1/requests/${id}/export`, { headers: h.auth });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/zip');
    const files = await unzip(Buffer.from(await res.arrayBuffer()));
    const names = [...files.keys()].sort();
    expect(names).toEqual(
      ['analytics-events.csv', 'crm-contacts.csv', 'data.json', 'index.html', 'loyalty-cards.csv', 'loyalty-receipts.csv', 'manifest.json', 'newsletter-subscribers.csv', 'shop-customers.csv', 'shop-invoices.csv', 'shop-orders.csv'].sort(),
    );
    const data = JSON.parse(files.get('data.json')!.toString());
    expect(data.connectors.shop.customers).toEqual([{ id: ALICE.customerId, email: ALICE.email, phone: ALICE.phone, first_name: 'Jeanne' }]);
    expect(data.connectors.analytics.events).toHaveLength(3);
    expect(data.connectors.loyalty.receipts).toEqual([{ card: ALICE.card, amount: 5 }]);
    expect(JSON.stringify(data)).not.toContain(BOB.email);
    expect(files.get('shop-orders.csv')!.toString()).toBe(`id,customer_id,total\r\n${ALICE.customerId}-o1,${ALICE.customerId},10\r\n${ALICE.customerId}-o2,${ALICE.customerId},20\r\n`);
    const html = files.get('index.html')!.toString();
    expect(html).toContain('<html lang="fr">');
    expect(html).toContain('Vos données personnelles');
    expect(html).toContain(ALICE.email);
    const manifest = JSON.parse(files.get('manifest.json')!.toString());
    const expected = Object.fromEntries(names.filter((n) => n !== 'manifest.json').map((n) => [n, createHash('sha256').update(files.get(n)!).digest('hex')]));
    expect(manifest.files).toEqual(expected);
    expect(await verifyJws(manifest.jws, h.deps.keys.jwks())).toEqual(expected);
    // The spool is gone once the ZIP is built; the download is audited.
    expect(existsSync(`${h.deps.config.dataDir}/exports/${id}`)).toBe(false);
    expect((await h.auditTypes(id))).toContain('request.export_downloaded');
  });

  it('portability keeps only portable collections; English page', async () => {
    const silos = syntheticSilos([ALICE]);
    const h = await engineHarness(silos.all);
    const id = await h.submit('portability', [{ type: 'email', value: ALICE.email }], { locale: 'en' });
    await h.engine.runUntilIdle();
    const res = await h.app.request(`/v1/requests/${id}/export`, { headers: h.auth });
    const files = await unzip(Buffer.from(await res.arrayBuffer()));
    expect([...files.keys()].sort()).toEqual(['crm-contacts.csv', 'data.json', 'index.html', 'loyalty-cards.csv', 'manifest.json', 'newsletter-subscribers.csv', 'shop-customers.csv', 'shop-orders.csv']);
    const data = JSON.parse(files.get('data.json')!.toString());
    expect(data.connectors.shop.invoices).toBeUndefined();
    expect(data.connectors.analytics).toEqual({});
    expect(files.get('index.html')!.toString()).toContain('Your personal data');
  });

  it('export of an erasure request → 409 NO_EXPORT_FOR_ERASURE; before completion → 409; unknown → 404; after the TTL → 404 EXPORT_EXPIRED', async () => {
    const silos = syntheticSilos([ALICE]);
    const h = await engineHarness(silos.all);
    const er = await h.submit('erasure', [{ type: 'email', value: ALICE.email }]);
    const r1 = await h.api('GET', `/v1/requests/${er}/export`);
    expect(r1.status).toBe(409);
    expect(r1.json.error.code).toBe('NO_EXPORT_FOR_ERASURE');
    const acc = await h.submit('access', [{ type: 'email', value: BOB.email }]);
    const r2 = await h.api('GET', `/v1/requests/${acc}/export`);
    expect(r2.status).toBe(409);
    expect(r2.json.error).toMatchObject({ code: 'EXPORT_NOT_READY', details: { status: 'running' } });
    expect((await h.api('GET', `/v1/requests/${RID}/export`)).status).toBe(404);
    await h.engine.runUntilIdle();
    expect((await h.app.request(`/v1/requests/${acc}/export`, { headers: h.auth })).status).toBe(200);
    const path = exportFileOf(h.deps.config.dataDir, (await h.deps.db.requests.get(acc))!)!;
    expect(existsSync(path)).toBe(true);
    h.deps.clock.advance(7 * 86_400_000 + 1);
    await h.engine.sweep();
    expect(existsSync(path)).toBe(false);
    const r3 = await h.api('GET', `/v1/requests/${acc}/export`);
    expect(r3.status).toBe(404);
    expect(r3.json.error.code).toBe('EXPORT_EXPIRED');
    expect((await h.auditTypes(acc))).toContain('request.export_deleted');
  });

  it('spooled results of a request that will not be exported are deleted by the sweep; identities cleared with the export', async () => {
    const silos = syntheticSilos([ALICE]);
    silos.newsletter.setDown(true);
    const h = await engineHarness(silos.all, { engine: { maxAttempts: 1 } });
    const id = await h.submit('access', [{ type: 'email', value: ALICE.email }]);
    await h.engine.runUntilIdle();
    expect((await h.api('GET', `/v1/requests/${id}`)).json.status).toBe('needs_attention');
    const spool = `${h.deps.config.dataDir}/exports/${id}`;
    expect(existsSync(spool)).toBe(true);
    await h.engine.sweep();
    expect(existsSync(spool)).toBe(true); // kept: a retry builds the export from it
    await h.api('POST', `/v1/requests/${id}/cancel`);
    await h.engine.sweep();
    expect(existsSync(spool)).toBe(false);

    const ok = await h.submit('access', [{ type: 'email', value: BOB.email }]);
    silos.newsletter.setDown(false);
    await h.engine.runUntilIdle();
    expect(await h.identityValues(ok)).toBe(1);
    h.deps.clock.advance(8 * 86_400_000);
    await h.engine.sweep();
    expect(await h.identityValues(ok)).toBe(0);
  });

  it('a database administrator pointing a request at another file (a key, another person’s archive) gets it nothing: 404 EXPORT_EXPIRED', async () => {
    const h = await engineHarness(syntheticSilos([ALICE, BOB]).all);
    const mine = await h.submit('access', [{ type: 'email', value: ALICE.email }]);
    const theirs = await h.submit('access', [{ type: 'email', value: BOB.email }]);
    await h.engine.runUntilIdle();
    const secret = join(h.deps.config.dataDir, 'secrets', 'master.key');
    mkdirSync(dirname(secret), { recursive: true });
    writeFileSync(secret, 'TOP-SECRET-MASTER-KEY');
    const bobs = (await h.deps.db.requests.get(theirs))!.exportPath!;
    for (const forged of [secret, 'secrets/master.key', 'exports/../secrets/master.key', bobs, join(h.deps.config.dataDir, bobs)]) {
      await adminOf(h.deps.db).run('update requests set export_path = ? where id = ?', forged, mine);
      const res = await h.api('GET', `/v1/requests/${mine}/export`);
      expect(res.status, forged).toBe(404);
      expect(res.json.error.code).toBe('EXPORT_EXPIRED');
      expect(res.text).not.toContain('TOP-SECRET');
    }
    // An archive of this request named by an older version's absolute path still resolves.
    const own = exportFileOf(h.deps.config.dataDir, (await h.deps.db.requests.get(theirs))!)!;
    await adminOf(h.deps.db).run('update requests set export_path = ? where id = ?', `/srv/old-mount/exports/${own.split('/').at(-1)}`, theirs);
    expect((await h.app.request(`/v1/requests/${theirs}/export`, { headers: h.auth })).status).toBe(200);
  });

  it('a key without requests:read cannot download an export (403)', async () => {
    const h = await engineHarness(syntheticSilos([ALICE]).all);
    const id = await h.submit('access', [{ type: 'email', value: ALICE.email }]);
    await h.engine.runUntilIdle();
    const { authorization } = (await bearer(h.deps, ['requests:write', 'requests:verify']));
    const res = await call(h.app, 'GET', `/v1/requests/${id}/export`, { headers: { authorization } });
    expect(res.status).toBe(403);
  });
});

describe('receipt', () => {
  it('is a JWS naming the request, its outcome per connector and its audit entries with inclusion proofs against a signed tree head', async () => {
    const silos = syntheticSilos([ALICE]);
    const h = await engineHarness(silos.all);
    const id = await h.submit('erasure', [{ type: 'email', value: ALICE.email }]);
    const early = await h.api('GET', `/v1/requests/${id}/receipt`);
    expect(early.status).toBe(409);
    expect(early.json.error.code).toBe('REQUEST_NOT_FINISHED');
    await h.engine.runUntilIdle();
    const res = await h.api('GET', `/v1/requests/${id}/receipt`);
    expect(res.status).toBe(200);
    const jwks = h.deps.keys.jwks();
    const payload = await verifyJws(res.json.jws, jwks);
    expect(payload.request).toMatchObject({ id, type: 'erasure', status: 'completed' });
    expect(payload.outcome.find((o: { connector: string; phase: string }) => o.connector === 'shop' && o.phase === 'erase')).toMatchObject({ deleted: 3, retained: 1 });
    const indices = await h.deps.db.audit.indicesOfRequest(id);
    expect(payload.entries.map((e: { index: number }) => e.index)).toEqual(indices);
    const head = await verifyJws(payload.treeHead.jws, jwks);
    expect(head.root).toBe(payload.treeHead.root);
    for (const e of payload.entries) {
      expect(verifyInclusion(fromHex(e.leafHash)!, e.index, head.size, e.proof.map((x: string) => fromHex(x)!), fromHex(head.root)!)).toBe(true);
    }
    expect(JSON.stringify(payload)).not.toContain('alice');
  });
});

describe('POST /v1/requests/preview', () => {
  it('reports what would be deleted / masked / retained and the identities followed, and changes nothing', async () => {
    const silos = syntheticSilos([ALICE, BOB]);
    const h = await engineHarness(silos.all);
    const auditBefore = await h.deps.audit.size();
    const res = await h.api('POST', '/v1/requests/preview', { type: 'erasure', identities: [{ type: 'email', value: ALICE.email }] });
    expect(res.status).toBe(200);
    const shop = res.json.connectors.find((c: { connector: string }) => c.connector === 'shop');
    expect(shop.collections).toEqual([
      { name: 'customers', found: 1, deleted: 1, masked: 0, retained: 0 },
      { name: 'orders', found: 2, deleted: 2, masked: 0, retained: 0 },
      { name: 'invoices', found: 1, deleted: 0, masked: 0, retained: 1, retainedBecause: 'legal obligation: 10-year retention of accounting records', retainedFields: ['amount', 'issued_at'] },
    ]);
    expect(res.json.connectors.find((c: { connector: string }) => c.connector === 'loyalty').collections.map((c: { deleted: number }) => c.deleted)).toEqual([1, 1]);
    const card = res.json.identities.find((i: { type: string }) => i.type === 'loyalty_card');
    expect(card).toMatchObject({ source: 'loyalty', round: 2, searchable: true });
    expect(card.reason).toContain('loyalty.cards.number');
    expect(card.value).not.toContain(ALICE.card);
    expect(res.json.review).toEqual({ needed: false, pending: 0 });
    expect(res.json.identities.every((i: { state: string }) => i.state === 'included')).toBe(true);
    // Nothing changed: silos intact, no request; one audit entry: who previewed, which identity types.
    expect(silos.shop.collections[0]!.rows).toHaveLength(2);
    expect(silos.all.reduce((n, s) => n + s.removed, 0)).toBe(0);
    expect(await h.deps.db.requests.list({ limit: 10 })).toEqual([]);
    expect(await h.deps.audit.size()).toBe(auditBefore + 1);
    const entry = (await h.auditData('request.previewed'))[0]! as unknown as { actor: { type: string }; data: unknown };
    expect(entry.actor.type).toBe('api_key');
    expect(entry.data).toEqual({ requestType: 'erasure', identityTypes: ['email'] });
    expect((await h.auditText())).not.toContain('alice');
    expect((await h.api('POST', '/v1/requests/preview', { type: 'access', identities: [{ type: 'email', value: ALICE.email }] })).status).toBe(400);
  });

  it('a failing connector is reported, the others still previewed', async () => {
    const down = syntheticConnector({ id: 'down', collections: [{ name: 'r', keys: { email: 'email' }, policy: 'delete', rows: [] }], down: true });
    const h = await engineHarness([...syntheticSilos([ALICE]).all, down]);
    const res = await h.api('POST', '/v1/requests/preview', { type: 'erasure', identities: [{ type: 'email', value: ALICE.email }] });
    expect(res.json.connectors.find((c: { connector: string }) => c.connector === 'down').error.code).toBe('CONNECTION_REFUSED');
    expect(res.json.connectors.find((c: { connector: string }) => c.connector === 'newsletter').collections[0].deleted).toBe(1);
  });
});

describe('OpenAPI', () => {
  it('lists the request routes and states the dueAt convention', async () => {
    const h = await engineHarness([]);
    const doc = (await call(h.app, 'GET', '/openapi.json')).json;
    for (const p of ['/v1/requests', '/v1/requests/preview', '/v1/requests/{id}', '/v1/requests/{id}/export', '/v1/requests/{id}/receipt', '/v1/requests/{id}/retry']) {
      expect(doc.paths[p], p).toBeDefined();
    }
    expect(JSON.stringify(doc)).toContain('last millisecond');
    expect(formatDate(dateInZone(Date.parse('2026-04-01T21:59:59.999Z'), 'Europe/Paris'))).toBe('2026-04-01');
  });
});
