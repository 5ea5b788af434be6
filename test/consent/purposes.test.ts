import { describe, expect, it, vi } from 'vitest';
import { createHash } from 'node:crypto';
import { createTestApp, createTestDeps } from '../helpers/deps.js';
import { createPurpose, updatePurpose, type PurposeInput } from '../../src/consent/purposes.js';
import { PurposeCatalog } from '../../src/consent/catalog.js';
import { secondInstance } from './instances.js';
import { authSuite } from '../helpers/auth-suite.js';
import { call } from '../helpers/http.js';
import { consentApp, grant, NEWSLETTER } from './helpers.js';

authSuite('purposes', () => createTestApp(), [
  { method: 'POST', path: '/v1/purposes', scope: 'admin', body: NEWSLETTER },
  { method: 'GET', path: '/v1/purposes', scope: 'admin' },
  { method: 'GET', path: '/v1/purposes/newsletter', scope: 'admin' },
  { method: 'PATCH', path: '/v1/purposes/newsletter', scope: 'admin', body: { channels: ['email'] } },
]);

describe('purposes catalogue', () => {
  it('creates, lists and reads a purpose with its text hash, and audits it', async () => {
    const t = await consentApp();
    const list = await t.get('/v1/purposes');
    expect(list.status).toBe(200);
    expect(list.json.purposes.map((p: { id: string }) => p.id)).toEqual(['newsletter', 'targeted-ads']);
    const one = await t.get('/v1/purposes/newsletter');
    expect(one.json).toMatchObject({ id: 'newsletter', version: 1, validityDays: 365, gpcApplies: false, legalBasis: 'dpv:Consent' });
    const sha = createHash('sha256').update(JSON.stringify({ en: NEWSLETTER.text.en, fr: NEWSLETTER.text.fr })).digest('hex');
    expect(one.json.textSha256).toBe(sha);
    expect(one.json.versions).toHaveLength(1);
    const types = (await t.deps.audit.entries(0, 100)).map((e) => JSON.parse(e.entry).type);
    expect(types.filter((x: string) => x === 'purpose.created')).toHaveLength(2);
  });

  it('a text change creates a new version; the old text and hash are kept; other changes do not', async () => {
    const t = await consentApp();
    const before = (await t.get('/v1/purposes/newsletter')).json;
    const r = await call(t.app, 'PATCH', '/v1/purposes/newsletter', {
      headers: t.auth,
      body: { text: { fr: 'Nouveau texte.', en: 'New text.' } },
    });
    expect(r.status).toBe(200);
    expect(r.json.version).toBe(2);
    expect(r.json.versions.map((v: { version: number }) => v.version)).toEqual([1, 2]);
    expect(r.json.versions[0]).toMatchObject({ text: NEWSLETTER.text, textSha256: before.textSha256 });
    expect(r.json.textSha256).not.toBe(before.textSha256);
    const r2 = await call(t.app, 'PATCH', '/v1/purposes/newsletter', { headers: t.auth, body: { validityDays: 30 } });
    expect(r2.json).toMatchObject({ version: 2, validityDays: 30 });
  });

  it('rejects a duplicate id (409), an unknown purpose (404), a bad legal basis (400)', async () => {
    const t = await consentApp();
    const dup = await call(t.app, 'POST', '/v1/purposes', { headers: t.auth, body: NEWSLETTER });
    expect(dup.status).toBe(409);
    expect(dup.json.error.code).toBe('PURPOSE_EXISTS');
    const missing = await t.get('/v1/purposes/nope');
    expect(missing.status).toBe(404);
    expect(missing.json.error.code).toBe('PURPOSE_NOT_FOUND');
    const bad = await call(t.app, 'POST', '/v1/purposes', { headers: t.auth, body: { ...NEWSLETTER, id: 'x', legalBasis: 'consent' } });
    expect(bad.status).toBe(400);
    expect(bad.json.error.code).toBe('VALIDATION_FAILED');
  });
});

describe('the cached catalogue stays fresh across instances', () => {
  const LOYALTY = { ...NEWSLETTER, id: 'loyalty', title: { fr: 'Fidélité', en: 'Loyalty' } };

  it('a purpose created or changed on another instance is seen here at once (notification)', async () => {
    const t = await consentApp();
    const b = await secondInstance(t.deps);
    try {
      await t.get('/v1/purposes'); // cached here
      await createPurpose({ ...b, actor: { type: 'system', id: 'test' } }, LOYALTY as PurposeInput);
      await expect.poll(async () => (await t.get('/v1/purposes')).json.purposes.map((p: { id: string }) => p.id), { timeout: 2000 }).toContain('loyalty');
      await updatePurpose({ ...b, actor: { type: 'system', id: 'test' } }, 'newsletter', { text: { fr: 'Deux.', en: 'Two.' } });
      await expect.poll(async () => (await t.post(grant('v2@example.com'))).status, { timeout: 2000 }).toBe(201);
      await expect.poll(async () => (await t.get('/v1/subjects/email:v2%40example.com/consents/history')).json.events.at(-1).purposeVersion, { timeout: 2000 }).toBe(2);
    } finally {
      await b.close();
    }
  });

  it('a change whose announcement fails is still answered (it is committed) and seen here at once', async () => {
    const t = await consentApp();
    await t.get('/v1/purposes'); // cached here
    vi.spyOn(t.deps.db, 'notify').mockRejectedValueOnce(new Error('connection lost'));
    const r = await call(t.app, 'POST', '/v1/purposes', { headers: t.auth, body: LOYALTY });
    expect(r.status).toBe(201);
    expect((await t.get('/v1/purposes')).json.purposes.map((p: { id: string }) => p.id)).toContain('loyalty');
    expect((await t.post(grant('quiet@example.com', 'loyalty'))).status).toBe(201);
  });

  it('a change whose notification was lost is seen after the time-to-live; an unknown id reloads early, at most once per interval', async () => {
    const deps = await createTestDeps();
    let clock = 0;
    const catalog = new PurposeCatalog(deps.db, { ttlMs: 5000, missReloadMs: 1000, clock: () => clock });
    const ctx = { ...deps, purposes: catalog, actor: { type: 'system' as const, id: 'test' } };
    await createPurpose(ctx, NEWSLETTER as PurposeInput);
    // Another instance's write whose notification never arrives: rows written, nobody told.
    const quietly = (id: string) =>
      deps.db.tx(async (t) => {
        await t.purposes.insert({ ...NEWSLETTER, id, legalBasis: 'dpv:Consent', channels: ['email'], validityDays: null, gpcApplies: false, version: 1, createdAt: 1, updatedAt: 1 });
        await t.purposes.insertVersion({ purposeId: id, version: 1, title: NEWSLETTER.title, text: NEWSLETTER.text, textSha256: 'x', createdAt: 1 });
      });
    await quietly('loyalty');
    clock = 4000;
    expect((await catalog.get()).list.map((p) => p.id)).toEqual(['newsletter']);
    clock = 5001;
    expect((await catalog.get()).list.map((p) => p.id)).toEqual(['loyalty', 'newsletter']);

    const reads = vi.spyOn(deps.db.purposes, 'all');
    await quietly('sms');
    expect((await catalog.find('sms'))?.id).toBe('sms'); // unknown here: one early reload finds it
    expect(reads).toHaveBeenCalledTimes(1);
    clock += 500;
    expect(await catalog.find('nope')).toBeUndefined(); // within the interval: no reload
    expect(await catalog.find('nope')).toBeUndefined();
    expect(reads).toHaveBeenCalledTimes(1);
    clock += 600;
    expect(await catalog.find('nope')).toBeUndefined();
    expect(reads).toHaveBeenCalledTimes(2);
  });
});
