import { describe, expect, it } from 'vitest';
import { compactVerify, createLocalJWKSet } from 'jose';
import { createTestApp, systemCtx } from '../helpers/deps.js';
import { authSuite } from '../helpers/auth-suite.js';
import { bearer, call } from '../helpers/http.js';
import { countDistinct, eq } from 'drizzle-orm';
import type { SQLiteTable } from 'drizzle-orm/sqlite-core';
import { forgetSubject, subjectRefOf } from '../../src/subjects/service.js';
import { MAX_CLOCK_SKEW_MS } from '../../src/consent/prepare.js';
import { consentApp, count, failInserts, grant } from './helpers.js';

const ALICE = 'email:alice%40example.com';

authSuite('consents', () => createTestApp(), [
  { method: 'POST', path: '/v1/consents', scope: 'consents:write', body: grant('a@example.com') },
  { method: 'POST', path: '/v1/consents/batch', scope: 'consents:write', body: [grant('a@example.com')] },
  { method: 'GET', path: '/v1/consents/changes', scope: 'consents:read' },
  { method: 'GET', path: '/v1/consents/stats', scope: 'consents:read' },
  { method: 'GET', path: '/v1/consents/evt_x/receipt', scope: 'consents:read' },
  { method: 'GET', path: `/v1/subjects/${ALICE}/consents`, scope: 'consents:read' },
  { method: 'GET', path: `/v1/subjects/${ALICE}/consents/history`, scope: 'consents:read' },
  { method: 'POST', path: `/v1/subjects/${ALICE}/identifiers`, scope: 'consents:write', body: { type: 'phone', value: '0612345678' } },
]);

describe('recording and reading consents', () => {
  it('records a grant, creates the person, keeps the state, and audits by pseudonym only', async () => {
    const t = await consentApp();
    const r = await t.post(grant(' Alice@Example.com ', 'newsletter', { method: 'checkbox', evidence: { purposeVersion: 1, uiElement: 'signup-form' } }));
    expect(r.status).toBe(201);
    expect(r.json).toMatchObject({ purpose: 'newsletter', decision: 'granted', gpcApplied: false, stateChanged: true, occurredAt: new Date(t.deps.now()).toISOString() });
    expect(r.json.id).toMatch(/^evt_/);
    expect(r.json.subjectId).toMatch(/^sub_/);

    const states = await t.get(`/v1/subjects/${ALICE}/consents`);
    expect(states.status).toBe(200);
    expect(states.json).toEqual({
      subjectId: r.json.subjectId,
      consents: [
        { purpose: 'newsletter', state: 'granted', since: r.json.occurredAt, channel: 'web' },
        { purpose: 'targeted-ads', state: 'unknown', since: null, channel: null },
      ],
    });
    const last = (await t.deps.audit.entries((await t.deps.audit.size()) - 1, 1))[0]!.entry;
    const entry = JSON.parse(last);
    expect(entry).toMatchObject({
      type: 'consent.recorded',
      subjectRef: await subjectRefOf(t.deps, t.deps.db, r.json.subjectId),
      data: { purpose: 'newsletter', decision: 'granted', channel: 'web', purposeVersion: 1, gpc: false, event: r.json.id },
    });
    expect(last.toLowerCase()).not.toContain('alice');
    expect(await count(t.deps, 'outbox')).toBe(1);
  });

  it('accepts the identifier with a raw colon or %3A, filters by ?purpose=, and answers unknown people with unknown states', async () => {
    const t = await consentApp();
    await t.post(grant('alice@example.com'));
    const a = await t.get('/v1/subjects/email%3Aalice%40example.com/consents?purpose=newsletter');
    expect(a.status).toBe(200);
    expect(a.json.consents).toEqual([expect.objectContaining({ purpose: 'newsletter', state: 'granted' })]);
    const nobody = await t.get('/v1/subjects/email:nobody%40example.com/consents');
    expect(nobody.json.subjectId).toBeNull();
    expect(nobody.json.consents.every((c: { state: string }) => c.state === 'unknown')).toBe(true);
    const unknownPurpose = await t.get(`/v1/subjects/${ALICE}/consents?purpose=nope`);
    expect(unknownPurpose.status).toBe(404);
    expect(unknownPurpose.json.error.code).toBe('PURPOSE_NOT_FOUND');
  });

  it('normalizes phone numbers with the configured default region (FR)', async () => {
    const t = await consentApp();
    const r = await t.post({ ...grant('x'), subject: { type: 'phone', value: '06 12 34 56 78' } });
    expect(r.status).toBe(201);
    const s = await t.get('/v1/subjects/phone:%2B33612345678/consents?purpose=newsletter');
    expect(s.json.subjectId).toBe(r.json.subjectId);
  });

  it('uses OUBLI_PHONE_REGION for phone numbers written without a country code', async () => {
    const t = await consentApp({ env: { OUBLI_PHONE_REGION: 'BE' } });
    const r = await t.post({ ...grant('x'), subject: { type: 'phone', value: '0470 12 34 56' } });
    expect(r.status).toBe(201);
    const s = await t.get('/v1/subjects/phone:%2B32470123456/consents?purpose=newsletter');
    expect(s.json).toMatchObject({ subjectId: r.json.subjectId, consents: [{ state: 'granted' }] });
  });

  it('counts a grant as expired after the purpose validity', async () => {
    const t = await consentApp();
    await t.post(grant('alice@example.com'));
    t.deps.clock.advance(366 * 86_400_000);
    const s = await t.get(`/v1/subjects/${ALICE}/consents?purpose=newsletter`);
    expect(s.json.consents[0].state).toBe('expired');
  });

  it('the latest occurredAt wins: a late store import does not override a newer web withdrawal', async () => {
    const t = await consentApp();
    const now = t.deps.now();
    await t.post({ ...grant('alice@example.com'), decision: 'withdrawn', occurredAt: new Date(now - 60_000).toISOString() });
    const late = await t.post({
      ...grant('alice@example.com'),
      source: { channel: 'import', location: 'store-42' },
      occurredAt: new Date(now - 86_400_000).toISOString(),
    });
    expect(late.status).toBe(201);
    expect(late.json.stateChanged).toBe(false);
    const s = await t.get(`/v1/subjects/${ALICE}/consents?purpose=newsletter`);
    expect(s.json.consents[0]).toMatchObject({ state: 'withdrawn', channel: 'web', since: new Date(now - 60_000).toISOString() });
    expect(await count(t.deps, 'outbox', (o) => eq(o.type, 'consent.updated'))).toBe(1);

    // history: oldest occurredAt first, whatever the recording order
    const h = await t.get(`/v1/subjects/${ALICE}/consents/history`);
    expect(h.status).toBe(200);
    expect(h.json.events.map((e: { decision: string }) => e.decision)).toEqual(['granted', 'withdrawn']);
    expect(h.json.events[0].source).toEqual({ channel: 'import', location: 'store-42' });
  });

  it('withdrawing twice is idempotent: both are in the ledger, the state stays withdrawn since the first', async () => {
    const t = await consentApp();
    await t.post(grant('alice@example.com'));
    t.deps.clock.advance(1000);
    const w1 = await t.post({ ...grant('alice@example.com'), decision: 'withdrawn' });
    t.deps.clock.advance(1000);
    const w2 = await t.post({ ...grant('alice@example.com'), decision: 'withdrawn' });
    expect(w1.status).toBe(201);
    expect(w2.status).toBe(201);
    expect(w1.json.stateChanged).toBe(true);
    expect(w2.json.stateChanged).toBe(false);
    const s = await t.get(`/v1/subjects/${ALICE}/consents?purpose=newsletter`);
    expect(s.json.consents[0]).toMatchObject({ state: 'withdrawn', since: w1.json.occurredAt });
    expect(await count(t.deps, 'consentEvents')).toBe(3);
    expect(await count(t.deps, 'outbox')).toBe(2);
  });

  it('links another identifier to the same person; a taken one is a 409', async () => {
    const t = await consentApp();
    const a = await t.post(grant('alice@example.com'));
    await t.post(grant('bob@example.com'));
    const link = await call(t.app, 'POST', `/v1/subjects/${ALICE}/identifiers`, { headers: t.auth, body: { type: 'phone', value: '06 12 34 56 78' } });
    expect(link.status).toBe(201);
    expect(link.json).toEqual({ subjectId: a.json.subjectId, linked: true });
    const again = await call(t.app, 'POST', `/v1/subjects/${ALICE}/identifiers`, { headers: t.auth, body: { type: 'phone', value: '+33612345678' } });
    expect(again.status).toBe(200);
    expect(again.json).toEqual({ subjectId: a.json.subjectId, linked: false });
    const taken = await call(t.app, 'POST', '/v1/subjects/email:bob%40example.com/identifiers', { headers: t.auth, body: { type: 'phone', value: '0612345678' } });
    expect(taken.status).toBe(409);
    expect(taken.json.error.code).toBe('IDENTIFIER_CONFLICT');
    const viaPhone = await t.get('/v1/subjects/phone:0612345678/consents');
    expect(viaPhone.json.subjectId).toBe(a.json.subjectId);
    const unknown = await call(t.app, 'POST', '/v1/subjects/email:zed%40example.com/identifiers', { headers: t.auth, body: { type: 'customer_id', value: 'C1' } });
    expect(unknown.status).toBe(404);
  });
});

describe('a grant dated in the future (within the clock skew) cannot outlast a later withdrawal', () => {
  const withdrawal = (value: string, extra: Record<string, unknown> = {}) => ({ ...grant(value), decision: 'withdrawn', ...extra });

  it('a grant dated at the skew edge, then a withdrawal recorded 1 ms later: the withdrawal wins', async () => {
    const t = await consentApp();
    const future = new Date(t.deps.now() + MAX_CLOCK_SKEW_MS).toISOString();
    const g = await t.post(grant('alice@example.com', 'newsletter', { occurredAt: future }));
    expect(g.status).toBe(201);
    expect(g.json.occurredAt).toBe(future); // kept as evidence
    t.deps.clock.advance(1);
    const w = await t.post(withdrawal('alice@example.com'));
    expect(w.status).toBe(201);
    expect(w.json.stateChanged).toBe(true);
    const s = await t.get(`/v1/subjects/${ALICE}/consents?purpose=newsletter`);
    expect(s.json.consents[0]).toMatchObject({ state: 'withdrawn', since: new Date(t.deps.now()).toISOString() });
    const changes = (await t.get('/v1/consents/changes')).json.changes;
    expect(changes.map((c: { decision: string }) => c.decision)).toEqual(['granted', 'withdrawn']);
    // the grant's own date stays in the ledger as evidence
    const h = await t.get(`/v1/subjects/${ALICE}/consents/history`);
    expect(h.json.events.find((e: { decision: string }) => e.decision === 'granted').occurredAt).toBe(future);
  });

  it('a withdrawal recorded in the same instant, or dated itself, after the future grant still wins', async () => {
    const t = await consentApp();
    const now = t.deps.now();
    await t.post(grant('alice@example.com', 'newsletter', { occurredAt: new Date(now + MAX_CLOCK_SKEW_MS).toISOString() }));
    expect((await t.post(withdrawal('alice@example.com'))).json.stateChanged).toBe(true);
    await t.post(grant('bob@example.com', 'newsletter', { occurredAt: new Date(now + MAX_CLOCK_SKEW_MS).toISOString() }));
    t.deps.clock.advance(60_000);
    // the withdrawing device's clock is a little behind, but not behind the grant's recording
    const w = await t.post(withdrawal('bob@example.com', { occurredAt: new Date(now + 30_000).toISOString() }));
    expect(w.json.stateChanged).toBe(true);
    for (const who of [ALICE, 'email:bob%40example.com']) {
      expect((await t.get(`/v1/subjects/${who}/consents?purpose=newsletter`)).json.consents[0].state).toBe('withdrawn');
    }
  });

  it('in one batch: a future-dated grant then a withdrawal → withdrawn', async () => {
    const t = await consentApp();
    const body = [grant('alice@example.com', 'newsletter', { occurredAt: new Date(t.deps.now() + MAX_CLOCK_SKEW_MS).toISOString() }), withdrawal('alice@example.com')];
    expect((await call(t.app, 'POST', '/v1/consents/batch', { headers: t.auth, body })).status).toBe(201);
    expect((await t.get(`/v1/subjects/${ALICE}/consents?purpose=newsletter`)).json.consents[0].state).toBe('withdrawn');
  });

  it('the late-import rule holds: an older store grant recorded after a web withdrawal does not override it', async () => {
    const t = await consentApp();
    await t.post(withdrawal('alice@example.com'));
    t.deps.clock.advance(3_600_000);
    const late = await t.post({ ...grant('alice@example.com'), source: { channel: 'import' }, occurredAt: new Date(t.deps.now() - 2 * 3_600_000).toISOString() });
    expect(late.json.stateChanged).toBe(false);
    expect((await t.get(`/v1/subjects/${ALICE}/consents?purpose=newsletter`)).json.consents[0].state).toBe('withdrawn');
    // a store grant that happened after the withdrawal (recorded later still) is the person's newer choice
    t.deps.clock.advance(3_600_000);
    const newer = await t.post({ ...grant('alice@example.com'), source: { channel: 'import' }, occurredAt: new Date(t.deps.now() - 1_800_000).toISOString() });
    expect(newer.json.stateChanged).toBe(true);
    expect((await t.get(`/v1/subjects/${ALICE}/consents?purpose=newsletter`)).json.consents[0].state).toBe('granted');
  });
});

describe('linking an identifier discloses nothing', () => {
  it('a consents:write key that links an identifier gets {subjectId, linked} only, never the person\'s other identifiers; the link is audited by type', async () => {
    const t = await consentApp();
    const a = await t.post(grant('alice@example.com'));
    for (const body of [{ type: 'phone', value: '06 12 34 56 78' }, { type: 'customer_id', value: 'CUST-4242' }]) {
      expect((await call(t.app, 'POST', `/v1/subjects/${ALICE}/identifiers`, { headers: t.auth, body })).status).toBe(201);
    }
    const writer = { authorization: (await bearer(t.deps, ['consents:write'])).authorization };
    // The writer knows one email and wants the phone and customer number behind it.
    const res = await call(t.app, 'POST', `/v1/subjects/${ALICE}/identifiers`, { headers: writer, body: { type: 'loyalty_card', value: 'LC-0001' } });
    expect(res.status).toBe(201);
    expect(res.json).toEqual({ subjectId: a.json.subjectId, linked: true });
    const again = await call(t.app, 'POST', `/v1/subjects/${ALICE}/identifiers`, { headers: writer, body: { type: 'loyalty_card', value: 'LC-0001' } });
    expect(again.json).toEqual({ subjectId: a.json.subjectId, linked: false });
    for (const text of [res.text, again.text]) expect(text).not.toMatch(/33612345678|CUST-4242|alice@|LC-0001/);
    // reading them still needs consents:read
    expect((await call(t.app, 'GET', `/v1/subjects/${ALICE}/consents`, { headers: writer })).status).toBe(403);

    const links = (await t.deps.audit.entries(0, 1000)).map((e) => JSON.parse(e.entry)).filter((e) => e.type === 'subject.identifier_linked');
    expect(links.map((e) => e.data)).toEqual([{ identifierType: 'phone' }, { identifierType: 'customer_id' }, { identifierType: 'loyalty_card' }]);
    expect(links.every((e) => /^sref_/.test(e.subjectRef))).toBe(true);
    expect(JSON.stringify(links)).not.toMatch(/33612345678|CUST-4242|alice|LC-0001/);
  });
});

describe('bad input', () => {
  it('unknown purpose → 404 PURPOSE_NOT_FOUND, nothing written', async () => {
    const t = await consentApp();
    const size = await t.deps.audit.size();
    const r = await t.post(grant('alice@example.com', 'nope'));
    expect(r.status).toBe(404);
    expect(r.json.error.code).toBe('PURPOSE_NOT_FOUND');
    expect(await count(t.deps, 'subjects')).toBe(0);
    expect(await t.deps.audit.size()).toBe(size);
  });

  it('malformed identifier (email:not-an-email, unknown type) → 400 INVALID_IDENTITY, in the body and in the path', async () => {
    const t = await consentApp();
    const a = await t.post(grant('not-an-email'));
    expect(a.status).toBe(400);
    expect(a.json.error.code).toBe('INVALID_IDENTITY');
    const b = await t.post({ ...grant('x'), subject: { type: 'shoe_size', value: '42' } });
    expect(b.status).toBe(400);
    expect(b.json.error.code).toBe('INVALID_IDENTITY');
    for (const p of ['email:not-an-email', 'shoe_size:42', 'no-colon']) {
      const r = await t.get(`/v1/subjects/${p}/consents`);
      expect(r.status, p).toBe(400);
      expect(r.json.error.code).toBe('INVALID_IDENTITY');
    }
    expect(await count(t.deps, 'consentEvents')).toBe(0);
  });

  it('decision outside the enum → 400 VALIDATION_FAILED naming the field', async () => {
    const t = await consentApp();
    const r = await t.post({ ...grant('alice@example.com'), decision: 'maybe' });
    expect(r.status).toBe(400);
    expect(r.json.error.code).toBe('VALIDATION_FAILED');
    expect(r.json.error.message).toContain('decision');
  });

  it('occurredAt in the future beyond 5 minutes → 400 OCCURRED_AT_IN_FUTURE; within the skew it is accepted', async () => {
    const t = await consentApp();
    const far = await t.post(grant('alice@example.com', 'newsletter', { occurredAt: new Date(t.deps.now() + 6 * 60_000).toISOString() }));
    expect(far.status).toBe(400);
    expect(far.json.error.code).toBe('OCCURRED_AT_IN_FUTURE');
    const near = await t.post(grant('alice@example.com', 'newsletter', { occurredAt: new Date(t.deps.now() + 4 * 60_000).toISOString() }));
    expect(near.status).toBe(201);
    expect(await count(t.deps, 'consentEvents')).toBe(1);
  });

  it('a purpose version that does not exist → 404 PURPOSE_VERSION_NOT_FOUND', async () => {
    const t = await consentApp();
    const r = await t.post(grant('alice@example.com', 'newsletter', { evidence: { purposeVersion: 7 } }));
    expect(r.status).toBe(404);
    expect(r.json.error.code).toBe('PURPOSE_VERSION_NOT_FOUND');
    expect(await count(t.deps, 'consentEvents')).toBe(0);
  });

  it('GPC: Sec-GPC: 1 or gpc:true records GPC purposes as refused (method gpc); any other header value is ignored', async () => {
    const t = await consentApp();
    const on = await t.post(grant('alice@example.com', 'targeted-ads'), { 'sec-gpc': '1' });
    expect(on.json).toMatchObject({ decision: 'refused', gpcApplied: true });
    const h = await t.get(`/v1/subjects/${ALICE}/consents/history`);
    expect(h.json.events[0]).toMatchObject({ method: 'gpc', decision: 'refused', gpcApplied: true });
    for (const v of ['0', 'true', '2', 'yes', '1, 1']) {
      const r = await t.post(grant(`p${v.replace(/\W/g, '')}@example.com`, 'targeted-ads'), { 'sec-gpc': v });
      expect(r.json, v).toMatchObject({ decision: 'granted', gpcApplied: false });
    }
    const body = await t.post(grant('bob@example.com', 'targeted-ads', { gpc: true }));
    expect(body.json).toMatchObject({ decision: 'refused', gpcApplied: true });
    const notGpcPurpose = await t.post(grant('carol@example.com', 'newsletter'), { 'sec-gpc': '1' });
    expect(notGpcPurpose.json).toMatchObject({ decision: 'granted', gpcApplied: false });
    const audit = JSON.parse((await t.deps.audit.entries((await t.deps.audit.size()) - 2, 1))[0]!.entry);
    expect(audit.data).toMatchObject({ gpc: true, decision: 'refused' });
  });

  it('a consent for an erased person starts a new person; nothing of the old one comes back', async () => {
    const t = await consentApp();
    const first = await t.post(grant('alice@example.com'));
    await t.post(grant('alice@example.com', 'targeted-ads'));
    const oldRef = await subjectRefOf(t.deps, t.deps.db, first.json.subjectId);
    await t.deps.db.tx((tx) => forgetSubject(systemCtx(t.deps), tx, first.json.subjectId));
    expect(await count(t.deps, 'consentEvents')).toBe(0);
    expect(await count(t.deps, 'consentStates')).toBe(0);
    // by id: the erased person is gone
    const byId = await t.post({ ...grant('x'), subject: { id: first.json.subjectId } });
    expect(byId.status).toBe(404);
    expect(byId.json.error.code).toBe('SUBJECT_NOT_FOUND');

    const again = await t.post({ ...grant('alice@example.com'), decision: 'refused' });
    expect(again.status).toBe(201);
    expect(again.json.subjectId).not.toBe(first.json.subjectId);
    const h = await t.get(`/v1/subjects/${ALICE}/consents/history`);
    expect(h.json.events).toHaveLength(1);
    expect(h.json.events[0].id).toBe(again.json.id);
    const s = await t.get(`/v1/subjects/${ALICE}/consents`);
    expect(s.json.consents.map((c: { state: string }) => c.state)).toEqual(['refused', 'unknown']);
    expect(await subjectRefOf(t.deps, t.deps.db, again.json.subjectId)).not.toBe(oldRef);
  });

  it('a failing event leaves neither the event, its state, its audit entry nor its outbox row', async () => {
    const t = await consentApp();
    const undo = await failInserts(t.deps.db, 'outbox');
    const size = await t.deps.audit.size();
    const r = await t.post(grant('alice@example.com'));
    await undo();
    expect(r.status).toBe(500);
    for (const table of ['consentEvents', 'consentStates', 'outbox', 'subjects', 'subjectIdentifiers', 'subjectKeys'] as const) {
      expect(await count(t.deps, table), table).toBe(0);
    }
    expect(await t.deps.audit.size()).toBe(size);
    expect((await t.post(grant('alice@example.com'))).status).toBe(201);
    expect(await count(t.deps, 'outbox')).toBe(1);
  });
});

describe('the change feed counter', () => {
  it('is made if missing and never goes below the highest seq stored', async () => {
    const t = await consentApp();
    const { outbox, outboxSequencer } = t.deps.db.tables;
    await t.deps.db.tx(async (h) => {
      await h.q.delete(outboxSequencer as SQLiteTable);
      await h.q.insert(outbox as SQLiteTable).values({ seq: 7, type: 'other', payload: '{}', createdAt: 0 });
    });
    expect((await call(t.app, 'POST', '/v1/consents/batch', { headers: t.auth, body: [grant('a@example.com'), grant('b@example.com')] })).status).toBe(201);
    expect((await t.post(grant('c@example.com'))).status).toBe(201);
    const rows = await t.deps.db.q.select({ seq: outbox.seq }).from(outbox as SQLiteTable).where(eq(outbox.type, 'consent.updated'));
    expect(rows.map((r) => r.seq).sort((a, b) => a - b)).toEqual([8, 9, 10]);
  });

  it('outbox.append draws the same way: made if missing, above the highest seq, in order', async () => {
    const t = await consentApp();
    const { outbox, outboxSequencer } = t.deps.db.tables;
    await t.deps.db.tx(async (h) => {
      await h.q.delete(outboxSequencer as SQLiteTable);
      await h.q.insert(outbox as SQLiteTable).values({ seq: 41, type: 'other', payload: '{}', createdAt: 0 });
    });
    const row = (payload: string) => ({ type: 'test.appended', payload, createdAt: 1 });
    await t.deps.db.tx((h) => h.outbox.append([row('"a"'), row('"b"')]));
    await t.deps.db.tx((h) => h.outbox.append([row('"c"')]));
    const rows = await t.deps.db.q.select({ seq: outbox.seq, payload: outbox.payload }).from(outbox as SQLiteTable).where(eq(outbox.type, 'test.appended'));
    expect(rows.sort((x, y) => x.seq - y.seq)).toEqual([
      { seq: 42, payload: '"a"' },
      { seq: 43, payload: '"b"' },
      { seq: 44, payload: '"c"' },
    ]);
  });
});

describe('batch', () => {
  const lines = (n: number) => Array.from({ length: n }, (_, i) => grant(`user${i}@example.com`, i % 2 ? 'newsletter' : 'targeted-ads'));

  it('records a JSON array in one go, with one audit entry per event', async () => {
    const t = await consentApp();
    const size = await t.deps.audit.size();
    const r = await call(t.app, 'POST', '/v1/consents/batch', { headers: t.auth, body: lines(50) });
    expect(r.status).toBe(201);
    expect(r.json).toMatchObject({ recorded: 50, stateChanges: 50 });
    expect(r.json.ids).toHaveLength(50);
    expect(await t.deps.audit.size()).toBe(size + 50);
    expect(await count(t.deps, 'consentEvents')).toBe(50);
    expect(await count(t.deps, 'outbox')).toBe(50);
    const s = await t.get('/v1/subjects/email:user3%40example.com/consents?purpose=newsletter');
    expect(s.json.consents[0].state).toBe('granted');
  });

  it('records NDJSON (blank lines skipped), several events of one person included', async () => {
    const t = await consentApp();
    const body = [grant('a@example.com'), '', { ...grant('a@example.com'), decision: 'withdrawn' }]
      .map((l) => (typeof l === 'string' ? l : JSON.stringify(l)))
      .join('\n');
    const r = await call(t.app, 'POST', '/v1/consents/batch', { headers: { ...t.auth, 'content-type': 'application/x-ndjson' }, raw: body });
    expect(r.status).toBe(201);
    expect(r.json.recorded).toBe(2);
    const [people] = await t.deps.db.q.select({ n: countDistinct(t.deps.db.tables.consentEvents.subjectId) }).from(t.deps.db.tables.consentEvents);
    expect(people!.n).toBe(1);
  });

  it('one bad line → 400 BATCH_INVALID naming the line; nothing written', async () => {
    const t = await consentApp();
    const size = await t.deps.audit.size();
    const body = lines(20);
    body[6] = { ...body[6]!, decision: 'maybe' } as never;
    body[11] = grant('not-an-email') as never;
    const r = await call(t.app, 'POST', '/v1/consents/batch', { headers: t.auth, body });
    expect(r.status).toBe(400);
    expect(r.json.error.code).toBe('BATCH_INVALID');
    expect(r.json.error.details.errors).toEqual([
      expect.objectContaining({ line: 7, code: 'VALIDATION_FAILED' }),
      expect.objectContaining({ line: 12, code: 'INVALID_IDENTITY' }),
    ]);
    expect(await count(t.deps, 'consentEvents')).toBe(0);
    expect(await count(t.deps, 'subjects')).toBe(0);
    expect(await t.deps.audit.size()).toBe(size);

    const nd = `${JSON.stringify(grant('a@example.com'))}\n{not json\n`;
    const r2 = await call(t.app, 'POST', '/v1/consents/batch', { headers: { ...t.auth, 'content-type': 'application/x-ndjson' }, raw: nd });
    expect(r2.status).toBe(400);
    expect(r2.json.error.details.errors).toEqual([expect.objectContaining({ line: 2, code: 'INVALID_JSON' })]);
    expect(await count(t.deps, 'consentEvents')).toBe(0);
  });

  it('oversized batch → 413 (body over 8 MB, or more than 10,000 events)', async () => {
    const t = await consentApp();
    const big = `[${JSON.stringify({ ...grant('a@example.com'), method: 'x'.repeat(100) })}${','.padEnd(1, ' ')}`;
    const raw = big + Array.from({ length: 40_000 }, () => JSON.stringify({ ...grant('a@example.com'), method: 'x'.repeat(100) })).join(',') + ']';
    expect(raw.length).toBeGreaterThan(8 * 1024 * 1024);
    const r = await call(t.app, 'POST', '/v1/consents/batch', { headers: t.auth, raw });
    expect(r.status).toBe(413);
    expect(r.json.error.code).toBe('PAYLOAD_TOO_LARGE');
    const many = await call(t.app, 'POST', '/v1/consents/batch', { headers: t.auth, body: lines(10_001) });
    expect(many.status).toBe(413);
    expect(many.json.error.code).toBe('BATCH_TOO_LARGE');
    expect(await count(t.deps, 'consentEvents')).toBe(0);
  });

  it('wrong content type → 415', async () => {
    const t = await consentApp();
    const r = await call(t.app, 'POST', '/v1/consents/batch', { headers: { ...t.auth, 'content-type': 'text/plain' }, raw: 'x' });
    expect(r.status).toBe(415);
  });
});

describe('receipts, changes, stats, GPC resource, OpenAPI', () => {
  it('signs a receipt that verifies with the app JWKS and carries the Kantara fields', async () => {
    const t = await consentApp();
    const r = await t.post(grant('alice@example.com', 'newsletter', { method: 'checkbox' }));
    const rec = await t.get(`/v1/consents/${r.json.id}/receipt`);
    expect(rec.status).toBe(200);
    const jwks = (await call(t.app, 'GET', '/.well-known/jwks.json')).json;
    const { payload, protectedHeader } = await compactVerify(rec.json.jws, createLocalJWKSet(jwks));
    expect(protectedHeader.alg).toBe('EdDSA');
    const body = JSON.parse(new TextDecoder().decode(payload));
    for (const k of ['version', 'jurisdiction', 'consentTimestamp', 'collectionMethod', 'consentReceiptID', 'language', 'piiPrincipalId', 'piiControllers', 'policyUrl', 'services']) {
      expect(body, k).toHaveProperty(k);
    }
    expect(body.consentReceiptID).toBe(r.json.id);
    expect(body.piiPrincipalId).toBe(await subjectRefOf(t.deps, t.deps.db, r.json.subjectId));
    expect(body.services[0].purposes[0]).toHaveProperty('purpose');
    for (const k of ['consentType', 'termination', 'thirdPartyDisclosure']) expect(body.services[0].purposes[0]).toHaveProperty(k);
    const purpose = (await t.get('/v1/purposes/newsletter')).json;
    expect(body.purposeTextSha256).toBe(purpose.textSha256);
    const audit = JSON.parse((await t.deps.audit.entries(body.auditIndex, 1))[0]!.entry);
    expect(audit.data.event).toBe(r.json.id);
    expect(JSON.stringify(body)).not.toContain('alice');
    const again = await t.get(`/v1/consents/${r.json.id}/receipt`);
    expect(again.json.jws).toBe(rec.json.jws);
    expect((await t.get('/v1/consents/evt_nope/receipt')).status).toBe(404);
  });

  it('pages the consent.updated stream with an opaque cursor', async () => {
    const t = await consentApp();
    for (let i = 0; i < 5; i++) await t.post(grant(`u${i}@example.com`));
    const p1 = await t.get('/v1/consents/changes?limit=3');
    expect(p1.status).toBe(200);
    expect(p1.json.changes).toHaveLength(3);
    expect(p1.json.hasMore).toBe(true);
    expect(p1.json.changes[0]).toMatchObject({ type: 'consent.updated', purpose: 'newsletter', decision: 'granted' });
    expect(p1.json.changes[0].subject).toMatch(/^sub_/);
    const p2 = await t.get(`/v1/consents/changes?limit=3&after=${encodeURIComponent(p1.json.cursor)}`);
    expect(p2.json.changes).toHaveLength(2);
    expect(p2.json.hasMore).toBe(false);
    const p3 = await t.get(`/v1/consents/changes?after=${encodeURIComponent(p2.json.cursor)}`);
    expect(p3.json.changes).toHaveLength(0);
    expect(p3.json.cursor).toBe(p2.json.cursor);
    const bad = await t.get('/v1/consents/changes?after=garbage');
    expect(bad.status).toBe(400);
    expect(bad.json.error.code).toBe('INVALID_CURSOR');
  });

  it('counts states per purpose and grants/withdrawals per day over 90 days', async () => {
    const t = await consentApp();
    const now = t.deps.now();
    await t.post(grant('a@example.com'));
    await t.post(grant('b@example.com'));
    await t.post({ ...grant('b@example.com'), decision: 'withdrawn', occurredAt: new Date(now + 1000).toISOString() });
    await t.post(grant('c@example.com', 'newsletter', { occurredAt: new Date(now - 400 * 86_400_000).toISOString() }));
    await t.post(grant('d@example.com', 'targeted-ads'));
    const s = await t.get('/v1/consents/stats');
    expect(s.status).toBe(200);
    expect(s.json.subjects).toBe(4);
    const nl = s.json.purposes.find((p: { purpose: string }) => p.purpose === 'newsletter');
    expect(nl.states).toEqual({ granted: 1, refused: 0, withdrawn: 1, expired: 1, unknown: 1 });
    expect(nl.daily).toHaveLength(90);
    expect(nl.daily.at(-1)).toEqual({ date: new Date(now).toISOString().slice(0, 10), granted: 2, withdrawn: 1 });
  });

  it('serves /.well-known/gpc.json and documents every route in /openapi.json', async () => {
    const t = await consentApp();
    const g = await call(t.app, 'GET', '/.well-known/gpc.json');
    expect(g.status).toBe(200);
    expect(g.json.gpc).toBe(true);
    expect(g.json.lastUpdate).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    const doc = (await call(t.app, 'GET', '/openapi.json')).json;
    for (const p of [
      '/v1/purposes',
      '/v1/purposes/{id}',
      '/v1/consents',
      '/v1/consents/batch',
      '/v1/consents/changes',
      '/v1/consents/stats',
      '/v1/consents/{eventId}/receipt',
      '/v1/subjects/{identifier}/consents',
      '/v1/subjects/{identifier}/consents/history',
      '/v1/subjects/{identifier}/identifiers',
      '/.well-known/gpc.json',
    ]) {
      expect(doc.paths, p).toHaveProperty([p]);
    }
  });
});
