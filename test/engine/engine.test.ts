import { readFileSync, statSync } from 'node:fs';
import { describe, expect, it, vi } from 'vitest';
import { ALICE, BOB, syntheticConnector, syntheticSilos } from '../helpers/synthetic-connector.js';
import { auditEntries, engineHarness } from './helpers.js';
import { findSubjectIdByIdentity } from '../../src/subjects/service.js';
import { backoffDelay, Engine } from '../../src/engine/worker.js';
import { Scheduler } from '../../src/engine/claim.js';
import { adminOf } from '../helpers/admin-sql.js';
import { TEST_STORE } from '../helpers/db.js';
import type { SqliteDatabase } from '../../src/db/sqlite.js';

describe('engine: erasure across silos with identity expansion', () => {
  it('an erasure by email alone reaches analytics (via customer_id) and till receipts (via phone → loyalty card)', async () => {
    const silos = syntheticSilos([ALICE, BOB]);
    const h = await engineHarness(silos.all);
    const id = await h.submit('erasure', [{ type: 'email', value: ' Alice@Example.com ' }]);
    await h.engine.runUntilIdle();

    const res = await h.api('GET', `/v1/requests/${id}`);
    expect(res.status).toBe(200);
    expect(res.json.status).toBe('completed');
    // Alice is gone everywhere, invoices retained; Bob untouched.
    const rows = (c: string, coll: string) => silos.all.find((s) => s.id === c)!.collections.find((x) => x.name === coll)!.rows;
    expect(rows('shop', 'customers').map((r) => r.email)).toEqual([BOB.email]);
    expect(rows('shop', 'orders').every((r) => r.customer_id === BOB.customerId)).toBe(true);
    expect(rows('shop', 'invoices')).toHaveLength(2);
    expect(rows('loyalty', 'cards').map((r) => r.number)).toEqual([BOB.card]);
    expect(rows('loyalty', 'receipts').map((r) => r.card)).toEqual([BOB.card]);
    expect(rows('analytics', 'events').every((r) => r.customer_id === BOB.customerId)).toBe(true);
    expect(rows('crm', 'contacts').map((r) => r.email)).toEqual([BOB.email]);
    expect(rows('newsletter', 'subscribers').map((r) => r.email)).toEqual([BOB.email]);

    // Identities: followed with reasons, shown masked; values destroyed after completion.
    const types = res.json.identities.map((i: { type: string }) => i.type).sort();
    expect(types).toEqual(['customer_id', 'email', 'loyalty_card', 'phone']);
    const card = res.json.identities.find((i: { type: string }) => i.type === 'loyalty_card');
    expect(card.source).toBe('loyalty');
    expect(card.reason).toContain('loyalty.cards.number');
    expect(card.value).not.toBe(ALICE.card);
    expect(await h.identityValues(id)).toBe(0);

    // Verification recorded: only the declared retained invoices remain.
    expect(res.json.verification).toEqual({ ok: true, residual: [], retained: [{ connector: 'shop', collection: 'invoices', records: 1 }] });
    const erase = res.json.tasks.filter((t: { phase: string }) => t.phase === 'erase');
    expect(erase.map((t: { connector: string }) => t.connector).sort()).toEqual(['analytics', 'crm', 'loyalty', 'newsletter', 'shop']);
    expect(erase.find((t: { connector: string }) => t.connector === 'shop').counts).toEqual({ found: 0, deleted: 3, masked: 0, retained: 1 });

    // Audit: transitions and outcomes, never a personal value; the person's pseudonym key is destroyed.
    const types2 = await h.auditTypes(id);
    expect(types2).toContain('request.received');
    expect(types2).toContain('request.started');
    expect(types2).toContain('request.expansion_round');
    expect(types2.filter((t) => t === 'task.completed').length).toBeGreaterThanOrEqual(10);
    expect(types2).toContain('request.verified_erasure');
    expect(types2.at(-1)).toBe('request.completed');
    const all = await h.auditText();
    for (const v of [ALICE.email, ALICE.phone, ALICE.customerId, ALICE.card, 'alice']) expect(all).not.toContain(v);
    expect(await h.auditTypes()).toContain('subject.forgotten');
    expect(await findSubjectIdByIdentity(h.deps.db, { type: 'email', value: ALICE.email })).toBeUndefined();
    const retainedEntry = (await h.auditData('task.completed')).find((e) => e.data.phase === 'erase' && e.data.connector === 'shop')!;
    expect(JSON.stringify(retainedEntry.data)).toContain('10-year retention');
    expect(retainedEntry.subjectRef).toMatch(/^sref_/);
    // Every entry of the request names the same person until their key is destroyed, none after.
    const entries = (await auditEntries(h.deps)).filter((e) => e.requestId === id || e.type === 'subject.forgotten');
    const forgotten = entries.findIndex((e) => e.type === 'subject.forgotten');
    expect(forgotten).toBeGreaterThan(0);
    const person = entries.find((e) => e.type === 'request.received')!.subjectRef;
    expect(person).toMatch(/^sref_/);
    const before = entries.slice(0, forgotten);
    expect(before.filter((e) => e.type === 'task.completed').length).toBeGreaterThanOrEqual(10);
    expect(new Set(before.map((e) => e.subjectRef))).toEqual(new Set([person]));
    expect(entries.slice(forgotten + 1).map((e) => e.subjectRef)).toEqual(entries.slice(forgotten + 1).map(() => undefined));
  });

  it('an identity type no connector knows is accepted and reported as not searchable', async () => {
    const h = await engineHarness(syntheticSilos([ALICE]).all);
    const res = await h.api('POST', '/v1/requests', { type: 'access', identities: [{ type: 'email', value: ALICE.email }, { type: 'iban', value: 'FR7630006000011234567890189' }], verified: true });
    expect(res.status).toBe(201);
    expect(res.json.notSearchable).toEqual(['iban']);
    await h.engine.runUntilIdle();
    const view = await h.api('GET', `/v1/requests/${res.json.id}`);
    expect(view.json.status).toBe('completed');
    expect(view.json.identities.find((i: { type: string }) => i.type === 'iban').searchable).toBe(false);
  });

  it('expansion is bounded and each connector reruns only when it has new identities to search by', async () => {
    const silos = syntheticSilos([ALICE]);
    const h = await engineHarness(silos.all);
    const id = await h.submit('access', [{ type: 'email', value: ALICE.email }]);
    await h.engine.runUntilIdle();
    const view = await h.api('GET', `/v1/requests/${id}`);
    expect(view.json.status).toBe('completed');
    const access = view.json.tasks.filter((t: { phase: string }) => t.phase === 'access');
    const byConnector = (c: string) => access.filter((t: { connector: string }) => t.connector === c).map((t: { round: number }) => t.round).sort();
    expect(byConnector('shop')).toEqual([1, 2]); // email, then the customer_id it discovered itself
    expect(byConnector('newsletter')).toEqual([1]);
    expect(byConnector('analytics')).toEqual([2]);
    expect(byConnector('loyalty')).toEqual([2, 3]); // phone in round 2, then the card it discovered
    expect(silos.analytics.calls.access).toBe(1);
  });
});

describe('engine: planning', () => {
  it('a silo that holds nothing on the person (access with every usable identity found nothing) is not erased or verified', async () => {
    const silos = syntheticSilos([BOB]);
    const alice = syntheticConnector({ id: 'alice_only', collections: [{ name: 'r', keys: { email: 'email' }, policy: 'delete', rows: [{ email: ALICE.email }] }] });
    const h = await engineHarness([...silos.all, alice]);
    const id = await h.submit('erasure', [{ type: 'email', value: ALICE.email }]);
    await h.engine.runUntilIdle();
    const view = await h.api('GET', `/v1/requests/${id}`);
    expect(view.json.status).toBe('completed');
    expect(view.json.tasks.filter((t: { phase: string }) => t.phase !== 'access').map((t: { connector: string; phase: string }) => `${t.connector}:${t.phase}`).sort()).toEqual(['alice_only:erase', 'alice_only:verify']);
    expect(silos.all.every((s) => s.calls.erase === 0)).toBe(true);
    expect(alice.collections[0]!.rows).toEqual([]);
  });
});

describe('engine: bounded expansion', () => {
  it('stops following identities at 50 per request and says so in the audit entry', async () => {
    const many = syntheticConnector({
      id: 'many',
      collections: [{ name: 'r', keys: { email: 'email' }, discovers: { cid: 'customer_id' }, policy: 'delete', rows: Array.from({ length: 60 }, (_, i) => ({ email: ALICE.email, cid: `C${i}` })) }],
    });
    const h = await engineHarness([many]);
    const id = await h.submit('access', [{ type: 'email', value: ALICE.email }]);
    await h.engine.runUntilIdle();
    const view = await h.api('GET', `/v1/requests/${id}`);
    expect(view.json.status).toBe('completed');
    expect(view.json.identities).toHaveLength(50);
    expect((await h.auditData('task.completed'))[0]!.data).toMatchObject({ identityLimitReached: 50 });
  });
});

describe('engine: bounded rounds', () => {
  it('follows identities at most 5 findings away from what the person gave, then moves on', async () => {
    // Each row links one device id to the next: an endless trail (device ids are not
    // person-unique, so the trail is no contradiction).
    const chain = syntheticConnector({
      id: 'chain',
      collections: [{ name: 'links', keys: { from: 'device_id' }, discovers: { to: 'device_id' }, policy: 'delete', rows: Array.from({ length: 20 }, (_, i) => ({ from: `C${i}`, to: `C${i + 1}` })) }],
    });
    const h = await engineHarness([chain]);
    const id = await h.submit('erasure', [{ type: 'device_id', value: 'C0' }]);
    await h.engine.runUntilIdle();
    const view = await h.api('GET', `/v1/requests/${id}`);
    expect(view.json.status).toBe('completed');
    const rounds = view.json.tasks.filter((t: { phase: string }) => t.phase === 'access').map((t: { round: number }) => t.round);
    expect(rounds).toEqual([1, 2, 3, 4, 5]);
    expect(view.json.identities.map((i: { value: string }) => i.value)).toHaveLength(6);
  });
});

describe('engine: identity conflicts with connectors that do not say which identity led where', () => {
  it('a phone two customers share leads to two loyalty cards: the request waits for the DPO; excluding the phone leaves both cards untouched', async () => {
    const household = { ...BOB, phone: ALICE.phone };
    const silos = syntheticSilos([ALICE, household]);
    const h = await engineHarness(silos.all);
    const id = await h.submit('erasure', [{ type: 'email', value: ALICE.email }]);
    await h.engine.runUntilIdle();
    const view = await h.dpo('GET', `/v1/requests/${id}`);
    expect(view.json.status).toBe('needs_review');
    const pending = view.json.identities.filter((i: { state: string }) => i.state === 'pending');
    expect(pending.map((i: { type: string }) => i.type).sort()).toEqual(['loyalty_card', 'loyalty_card', 'phone']);
    expect(pending.find((i: { type: string }) => i.type === 'loyalty_card').why).toMatchObject({ code: 'identity_conflict', conflictingType: 'loyalty_card', connector: 'loyalty' });
    // Nothing is erased while the request waits.
    expect(silos.all.every((s) => s.calls.erase === 0)).toBe(true);
    const phone = pending.find((i: { type: string }) => i.type === 'phone');
    expect((await h.dpo('POST', `/v1/requests/${id}/identities/${phone.id}/exclude`, { reason: 'household phone' })).status).toBe(200);
    await h.engine.runUntilIdle();
    const done = await h.api('GET', `/v1/requests/${id}`);
    expect(done.json.status, done.json.statusReason).toBe('completed');
    expect(silos.shop.collections[0]!.rows.map((r) => r.email)).toEqual([BOB.email]);
    expect(silos.loyalty.collections[0]!.rows).toHaveLength(2);
    expect(silos.loyalty.calls.erase).toBe(0);
  });

  it('which types identify one person is the deployment’s: with customer ids declared shared, a trail of customer ids is followed without review', async () => {
    const chain = syntheticConnector({
      id: 'chain',
      collections: [{ name: 'links', keys: { from: 'customer_id' }, discovers: { to: 'customer_id' }, policy: 'delete', rows: Array.from({ length: 4 }, (_, i) => ({ from: `C${i}`, to: `C${i + 1}` })) }],
    });
    const strict = await engineHarness([chain]);
    const a = await strict.submit('access', [{ type: 'customer_id', value: 'C0' }]);
    await strict.engine.runUntilIdle();
    expect((await strict.api('GET', `/v1/requests/${a}`)).json.status).toBe('needs_review');
    const relaxed = await engineHarness([chain], { uniqueIdentityTypes: ['email'] });
    const b = await relaxed.submit('access', [{ type: 'customer_id', value: 'C0' }]);
    await relaxed.engine.runUntilIdle();
    expect((await relaxed.api('GET', `/v1/requests/${b}`)).json.status).toBe('completed');
  });
});

describe('engine: upgrade', () => {
  it('an identity followed before findings were judged (a request in flight during the upgrade) keeps its standing', async () => {
    const old = syntheticConnector({ id: 'old', collections: [{ name: 'r', keys: { member: 'member_no' }, policy: 'delete', rows: [{ member: 'M-77' }, { member: 'M-78' }] }] });
    const h = await engineHarness([...syntheticSilos([ALICE]).all, old]);
    const id = await h.submit('erasure', [{ type: 'email', value: ALICE.email }]);
    // As the previous version stored a discovered identity: included by default, never judged.
    await adminOf(h.deps.db).run("insert into request_identities (request_id, type, value, masked, source, collection, reason, round, searchable) values (?, 'member_no', 'M-77', 'M-**7', 'crm', null, 'found before the upgrade', 1, true)", id);
    await h.engine.runUntilIdle();
    const view = await h.api('GET', `/v1/requests/${id}`);
    expect(view.json.status, view.json.statusReason).toBe('completed');
    expect(view.json.identities.find((i: { type: string }) => i.type === 'member_no').state).toBe('included');
    expect(old.collections[0]!.rows).toEqual([{ member: 'M-78' }]);
  });
});

describe('engine: connector failures', () => {
  it('a connector failing twice then succeeding completes, attempts recorded, backoff applied', async () => {
    const flaky = syntheticConnector({
      id: 'flaky',
      collections: [{ name: 'rows', keys: { email: 'email' }, policy: 'delete', rows: [{ email: ALICE.email }] }],
      eraseFaults: ['retryable', 'throw'],
    });
    const h = await engineHarness([flaky]);
    const id = await h.submit('erasure', [{ type: 'email', value: ALICE.email }]);
    await h.engine.runUntilIdle();
    let view = await h.api('GET', `/v1/requests/${id}`);
    let erase = view.json.tasks.find((t: { phase: string }) => t.phase === 'erase');
    expect(erase).toMatchObject({ status: 'queued', attempts: 1, lastError: { code: 'UNAVAILABLE' } });
    // Not due before the backoff (1 s · 2^0, jitter 0.5 → 750 ms).
    expect(Date.parse(erase.nextAttemptAt) - h.deps.now()).toBe(750);
    h.deps.clock.advance(749);
    await h.engine.runUntilIdle();
    expect(flaky.calls.erase).toBe(1);
    h.deps.clock.advance(1);
    await h.engine.runUntilIdle();
    view = await h.api('GET', `/v1/requests/${id}`);
    erase = view.json.tasks.find((t: { phase: string }) => t.phase === 'erase');
    expect(erase).toMatchObject({ status: 'queued', attempts: 2, lastError: { code: 'CONNECTOR_ERROR' } });
    h.deps.clock.advance(60_000);
    await h.engine.runUntilIdle();
    view = await h.api('GET', `/v1/requests/${id}`);
    expect(view.json.status).toBe('completed');
    erase = view.json.tasks.find((t: { phase: string }) => t.phase === 'erase');
    expect(erase).toMatchObject({ status: 'done', attempts: 3, counts: { deleted: 1 } });
    expect((await h.auditTypes(id)).filter((t) => t === 'task.retry_scheduled')).toHaveLength(2);
    expect(flaky.removed).toBe(1);
  });

  it('a connector permanently down: the others finish, the request shows which silo failed and why; retry re-runs only it', async () => {
    const silos = syntheticSilos([ALICE]);
    silos.newsletter.setDown(true);
    const h = await engineHarness(silos.all, { engine: { maxAttempts: 3 } });
    const id = await h.submit('erasure', [{ type: 'email', value: ALICE.email }]);
    for (let i = 0; i < 5; i++) {
      await h.engine.runUntilIdle();
      h.deps.clock.advance(10 * 60_000);
    }
    let view = await h.api('GET', `/v1/requests/${id}`);
    expect(view.json.status).toBe('needs_attention');
    expect(view.json.statusReason).toContain('newsletter (access): CONNECTION_REFUSED');
    const failed = view.json.tasks.filter((t: { status: string }) => t.status === 'failed');
    expect(failed).toHaveLength(1);
    expect(failed[0]).toMatchObject({ connector: 'newsletter', attempts: 3, lastError: { code: 'CONNECTION_REFUSED' } });
    // The others did not wait: every other silo is erased and verified.
    expect(view.json.tasks.filter((t: { connector: string; status: string }) => t.connector !== 'newsletter' && t.status !== 'done')).toEqual([]);
    expect(silos.shop.collections[0]!.rows).toEqual([]);
    expect(silos.analytics.collections[0]!.rows).toEqual([]);
    expect(view.json.tasks.filter((t: { connector: string }) => t.connector === 'newsletter')).toHaveLength(1);
    expect(await h.auditTypes(id)).toContain('request.needs_attention');

    const doneBefore = view.json.tasks.filter((t: { status: string }) => t.status === 'done').length;
    const callsBefore = silos.shop.calls.access;
    silos.newsletter.setDown(false);
    const retry = await h.api('POST', `/v1/requests/${id}/retry`);
    expect(retry.status).toBe(200);
    expect(retry.json.status).toBe('running');
    const queued = retry.json.tasks.filter((t: { status: string }) => t.status === 'queued');
    expect(queued.map((t: { connector: string }) => t.connector)).toEqual(['newsletter']);
    expect(retry.json.tasks.filter((t: { status: string }) => t.status === 'done')).toHaveLength(doneBefore);
    await h.engine.runUntilIdle();
    view = await h.api('GET', `/v1/requests/${id}`);
    expect(view.json.status).toBe('completed');
    expect(silos.shop.calls.access).toBe(callsBefore); // nothing re-run but the failed silo
    expect(silos.shop.calls.erase).toBe(1);
    expect(view.json.tasks.filter((t: { connector: string }) => t.connector === 'newsletter').map((t: { phase: string }) => t.phase).sort()).toEqual(['access', 'erase', 'verify']);
    expect(silos.newsletter.collections[0]!.rows).toEqual([]);
  });

  it('a malformed result fails the task at once with a clear error; nothing is recorded as done', async () => {
    const bad = syntheticConnector({ id: 'bad', collections: [{ name: 'rows', keys: { email: 'email' }, policy: 'delete', rows: [{ email: ALICE.email }] }], eraseFaults: ['malformed'] });
    const h = await engineHarness([bad]);
    const id = await h.submit('erasure', [{ type: 'email', value: ALICE.email }]);
    await h.engine.runUntilIdle();
    const view = await h.api('GET', `/v1/requests/${id}`);
    expect(view.json.status).toBe('needs_attention');
    const erase = view.json.tasks.find((t: { phase: string }) => t.phase === 'erase');
    expect(erase.status).toBe('failed');
    expect(erase.attempts).toBe(1);
    expect(erase.counts).toBeNull();
    expect(erase.lastError.code).toBe('MALFORMED_RESULT');
    expect(erase.lastError.message).toMatch(/malformed erasure result/);
    expect((await h.auditData('task.failed'))[0]!.data).toMatchObject({ code: 'MALFORMED_RESULT', retryable: false });
    expect(await h.auditTypes(id)).not.toContain('request.completed');
  });

  it('a verification that finds data left stops in needs_attention; retry erases and verifies again', async () => {
    const buggy = syntheticConnector({ id: 'buggy', collections: [{ name: 'rows', keys: { email: 'email' }, policy: 'delete', rows: [{ email: ALICE.email }] }], eraseNoops: 1 });
    const h = await engineHarness([buggy]);
    const id = await h.submit('erasure', [{ type: 'email', value: ALICE.email }]);
    await h.engine.runUntilIdle();
    let view = await h.api('GET', `/v1/requests/${id}`);
    expect(view.json.status).toBe('needs_attention');
    expect(view.json.verification).toEqual({ ok: false, residual: [{ connector: 'buggy', collection: 'rows', records: 1 }], retained: [] });
    expect(view.json.statusReason).toContain('buggy.rows: 1');
    expect(await h.auditTypes(id)).not.toContain('request.completed');
    // The identities are kept (values) until the erasure is really done.
    expect(await h.identityValues(id)).toBe(1);
    const retry = await h.api('POST', `/v1/requests/${id}/retry`);
    expect(retry.json.status).toBe('running');
    await h.engine.runUntilIdle();
    view = await h.api('GET', `/v1/requests/${id}`);
    expect(view.json.status).toBe('completed');
    expect(view.json.verification.ok).toBe(true);
    expect(buggy.calls.erase).toBe(2);
    expect(buggy.collections[0]!.rows).toEqual([]);
  });

  it('a non-retryable error fails at once; a hung connector times out and is retried', async () => {
    const fatal = syntheticConnector({ id: 'fatal', collections: [{ name: 'r', keys: { email: 'email' }, policy: 'delete', rows: [] }], accessFaults: ['fatal'] });
    const hang = syntheticConnector({ id: 'hang', collections: [{ name: 'r', keys: { email: 'email' }, policy: 'delete', rows: [] }], accessFaults: ['hang'] });
    const h = await engineHarness([fatal, hang], { engine: { timeoutMs: 50 } });
    const id = await h.submit('access', [{ type: 'email', value: ALICE.email }]);
    await h.engine.runUntilIdle();
    const view = await h.api('GET', `/v1/requests/${id}`);
    const t = (c: string) => view.json.tasks.find((x: { connector: string }) => x.connector === c);
    expect(t('fatal')).toMatchObject({ status: 'failed', attempts: 1, lastError: { code: 'BAD_REQUEST' } });
    expect(t('hang')).toMatchObject({ status: 'queued', attempts: 1, lastError: { code: 'TIMEOUT' } });
    expect(view.json.status).toBe('running');
    h.deps.clock.advance(5000);
    await h.engine.runUntilIdle();
    const after = await h.api('GET', `/v1/requests/${id}`);
    expect(after.json.status).toBe('needs_attention');
    expect(after.json.statusReason).toContain('fatal (access): BAD_REQUEST');
  });

  it('honours the per-connector concurrency limit', async () => {
    const slow = syntheticConnector({ id: 'slow', collections: [{ name: 'r', keys: { email: 'email' }, policy: 'delete', rows: [] }], delayMs: 5 });
    const h = await engineHarness([slow], { engine: { concurrency: 2 } });
    for (let i = 0; i < 8; i++) await h.submit('access', [{ type: 'email', value: `p${i}@example.com` }]);
    await h.engine.runUntilIdle();
    expect(slow.calls.access).toBe(8);
    expect(slow.maxConcurrent).toBe(2);
    const listed = await h.api('GET', '/v1/requests?status=completed');
    expect(listed.json.items).toHaveLength(8);
  });

  it('honours the global in-flight cap across connectors (a 1,000-silo fan-out does not open 1,000 calls)', async () => {
    let active = 0;
    let peak = 0;
    const silos = Array.from({ length: 12 }, (_, i) => {
      const c = syntheticConnector({ id: `s${i}`, collections: [{ name: 'r', keys: { email: 'email' }, policy: 'delete', rows: [] }], delayMs: 25 });
      const access = c.access.bind(c);
      c.access = async (who, ctx) => {
        peak = Math.max(peak, ++active);
        try {
          return await access(who, ctx);
        } finally {
          active--;
        }
      };
      return c;
    });
    const h = await engineHarness(silos, { engine: { maxInFlight: 3 } });
    const id = await h.submit('access', [{ type: 'email', value: ALICE.email }]);
    await h.engine.runUntilIdle();
    expect((await h.api('GET', `/v1/requests/${id}`)).json.status).toBe('completed');
    expect(silos.every((s) => s.calls.access === 1)).toBe(true);
    // Never above the cap; calls do overlap up to it (on PostgreSQL claims answer over the
    // network, so whether the third slot fills in time is not guaranteed).
    expect(peak).toBeLessThanOrEqual(3);
    expect(peak).toBeGreaterThanOrEqual(2);
  });

  it('backoff grows exponentially with jitter and is capped', () => {
    expect(backoffDelay(1, 1000, 60_000, () => 0)).toBe(500);
    expect(backoffDelay(1, 1000, 60_000, () => 1)).toBe(1000);
    expect(backoffDelay(3, 1000, 60_000, () => 1)).toBe(4000);
    expect(backoffDelay(20, 1000, 60_000, () => 1)).toBe(60_000);
  });
});

describe('engine: group commit', () => {
  it('an outcome that fails to record does not undo the others recorded in the same batch', async () => {
    const silos = syntheticSilos([ALICE]);
    const h = await engineHarness(silos.all);
    const appendMany = h.deps.audit.appendMany.bind(h.deps.audit);
    let thrown = 0;
    h.deps.audit.appendMany = async (t, inputs) => {
      if (inputs.some((i) => i.type === 'task.completed' && i.data?.connector === 'crm') && thrown++ < 2) throw new Error('disk full');
      return appendMany(t, inputs);
    };
    const id = await h.submit('access', [{ type: 'email', value: ALICE.email }]);
    await h.engine.runUntilIdle();
    const view = await h.api('GET', `/v1/requests/${id}`);
    // crm's first outcome could not be recorded: retried later; the others of its batch stand.
    const crm = view.json.tasks.find((t: { connector: string; round: number }) => t.connector === 'crm' && t.round === 1);
    expect(crm).toMatchObject({ status: 'queued', attempts: 1, lastError: { code: 'CONNECTOR_ERROR' } });
    expect(view.json.tasks.filter((t: { round: number; status: string }) => t.round === 1 && t.status === 'done').map((t: { connector: string }) => t.connector).sort()).toEqual(['newsletter', 'shop']);
    h.deps.clock.advance(60_000);
    await h.engine.runUntilIdle();
    expect((await h.api('GET', `/v1/requests/${id}`)).json.status).toBe('completed');
  });
});

describe('engine: several workers on one database', () => {
  it('two engines share the queue: every task runs exactly once, within one per-connector limit for both', async () => {
    const slow = syntheticConnector({ id: 'slow', collections: [{ name: 'r', keys: { email: 'email' }, policy: 'delete', rows: Array.from({ length: 20 }, (_, i) => ({ email: `p${i}@example.com` })) }], delayMs: 3 });
    // Each instance runs at most 2 calls; the connector takes 3 at once, from both together.
    const h = await engineHarness([slow], { engine: { concurrency: 3, maxInFlight: 2 } });
    const other = new Engine(h.deps, { concurrency: 3, maxInFlight: 2, random: () => 0.5 });
    for (let i = 0; i < 20; i++) await h.submit('erasure', [{ type: 'email', value: `p${i}@example.com` }]);
    await Promise.all([h.engine.runUntilIdle(), other.runUntilIdle()]);
    await Promise.all([h.engine.runUntilIdle(), other.runUntilIdle()]);
    const tasks = Number(await adminOf(h.deps.db).value('select count(*) as n from tasks'));
    expect(tasks).toBe(60);
    expect(slow.calls.access + slow.calls.erase).toBe(60);
    expect(slow.removed).toBe(20);
    expect(h.engine.connectorMs).toBeGreaterThan(0); // both did part of the work
    expect(other.connectorMs).toBeGreaterThan(0);
    // The limit holds for both together (whether a run reaches it depends on timing).
    expect(slow.maxConcurrent).toBeLessThanOrEqual(3);
    expect(slow.maxConcurrent).toBeGreaterThanOrEqual(2);
    expect((await h.deps.db.requests.list({ status: 'completed', limit: 100 })).length).toBe(20);
    expect((await h.auditData('task.completed')).length).toBe(60);
  });
  it('an instance whose connector has every slot taken by another instance claims without a transaction (nothing to claim, no lock taken)', async () => {
    const slow = syntheticConnector({ id: 'slow', collections: [{ name: 'r', keys: { email: 'email' }, policy: 'delete', rows: [{ email: ALICE.email }, { email: BOB.email }] }] });
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const access = slow.access.bind(slow);
    let started = 0;
    slow.access = async (who, ctx) => {
      started++;
      await held;
      return access(who, ctx);
    };
    const h = await engineHarness([slow], { engine: { concurrency: 1 } });
    await h.submit('erasure', [{ type: 'email', value: ALICE.email }]);
    await h.submit('erasure', [{ type: 'email', value: BOB.email }]);
    const run = h.engine.runUntilIdle();
    for (let waited = 0; waited < 10_000 && started === 0; waited += 10) await new Promise((r) => setTimeout(r, 10));
    expect(started).toBe(1); // the one slot is taken; the other access task is due

    const opts = { ...h.engine.opts, workerId: 'wrk_other' };
    const tx = vi.spyOn(h.deps.db, 'tx');
    const claimed = await new Scheduler(h.deps, opts, ['slow']).claim({ inflight: 0, running: () => 0 }, false);
    expect(claimed).toEqual([]);
    expect(tx).not.toHaveBeenCalled();
    tx.mockRestore();

    release();
    await run;
    await h.engine.runUntilIdle();
    expect(slow.removed).toBe(2);
  });
});

describe('engine: crash safety (leases)', () => {
  it('a task whose worker died is re-run after its lease expires; a task recorded done is never re-run', async () => {
    const silos = syntheticSilos([ALICE]);
    const hang = syntheticConnector({ id: 'hang', collections: [{ name: 'r', keys: { email: 'email' }, policy: 'delete', rows: [{ email: ALICE.email }] }], eraseFaults: ['hang'] });
    const h = await engineHarness([...silos.all, hang], { engine: { timeoutMs: 10_000 } });
    const id = await h.submit('erasure', [{ type: 'email', value: ALICE.email }]);
    // Worker A runs until the erase pass, then "dies" while `hang` erases (its promise never settles for us).
    const a = h.engine;
    const run = a.runUntilIdle();
    // Until A is stuck in `hang`'s erase alone (how long that takes depends on the machine's load).
    const runningNow = async () => (await h.deps.db.tasks.ofRequest(id)).filter((t) => t.status === 'running').map((t) => ({ connector: t.connectorId, owner: t.leaseOwner }));
    for (let waited = 0; waited < 10_000 && (hang.calls.erase === 0 || silos.all.some((s) => s.calls.erase === 0) || (await runningNow()).length !== 1); waited += 25) await new Promise((r) => setTimeout(r, 25));
    expect(await runningNow()).toEqual([{ connector: 'hang', owner: a.opts.workerId }]);
    const erasedBefore = silos.all.map((s) => s.calls.erase);
    expect(erasedBefore).toEqual([1, 1, 1, 1, 1]);

    // Worker B (a restarted process) does not touch the leased task before the lease expires…
    const b = new Engine(h.deps, { random: () => 0.5 });
    await b.runUntilIdle();
    expect(hang.calls.erase).toBe(1);
    // …and takes it over afterwards; the finished erasures are not run again.
    h.deps.clock.advance(10_000 + 5000);
    await b.runUntilIdle();
    expect(hang.calls.erase).toBe(2);
    expect(silos.all.map((s) => s.calls.erase)).toEqual([1, 1, 1, 1, 1]);
    const view = await h.api('GET', `/v1/requests/${id}`);
    expect(view.json.status).toBe('completed');
    expect(hang.removed).toBe(1);
    // A's late outcome (its lease was lost) is ignored.
    await a.stop();
    await run;
    expect((await h.auditTypes(id)).filter((t) => t === 'request.completed')).toHaveLength(1);
  });
});

describe('engine: erased data at rest', () => {
  it.skipIf(TEST_STORE !== 'sqlite')('once an erasure completes, the write-ahead log is emptied: the person’s identifiers are in neither oubli.db nor its WAL', async () => {
    const h = await engineHarness(syntheticSilos([ALICE, BOB]).all);
    const file = (h.deps.db as SqliteDatabase).writer.name;
    const id = await h.submit('erasure', [{ type: 'email', value: ALICE.email }]);
    await h.engine.runUntilIdle();
    expect((await h.api('GET', `/v1/requests/${id}`)).json.status).toBe('completed');
    expect(statSync(`${file}-wal`).size).toBe(0);
    for (const f of [file, `${file}-wal`]) expect(readFileSync(f).includes(ALICE.email), f).toBe(false);
    // BOB's request, still open, keeps his: the scan would see it.
    await h.api('POST', '/v1/requests', { type: 'erasure', identities: [{ type: 'email', value: BOB.email }] });
    expect(readFileSync(`${file}-wal`).includes(BOB.email) || readFileSync(file).includes(BOB.email)).toBe(true);
  });
});
