/** The consent centre: choices through the forms, recorded in the ledger (channel web), GPC, receipts, scope, escaping. */
import { afterEach, describe, expect, it } from 'vitest';
import { compactVerify, importJWK } from 'jose';
import { ADS, NEWSLETTER, portalApp, signIn, type PortalKit } from './helpers.js';
import { call } from '../helpers/http.js';

let kit: PortalKit;
afterEach(async () => kit?.close());

const history = async (email: string) => (await call(kit.app, 'GET', `/v1/subjects/email:${encodeURIComponent(email)}/consents/history`, { headers: kit.auth })).json as { events: Record<string, any>[] };

describe('consent centre', () => {
  it('records grant then withdrawal through the form, channel web, with the page’s version and evidence', async () => {
    kit = await portalApp();
    const b = await signIn(kit, 'alice@example.com');
    const granted = await b.post('/privacy/consents', { purpose: 'newsletter', version: '1', decision: 'granted' }, { 'user-agent': 'TestBrowser/1' });
    expect(granted.status).toBe(303);
    const page = await b.follow(granted);
    expect(page.text).toContain('Votre choix pour « Lettre d’information » est enregistré.');
    expect(page.text).toContain('Votre choix actuel : accepté le');
    expect(page.text).toContain('Retirer mon consentement');
    kit.deps.clock.advance(60_000);
    expect((await b.post('/privacy/consents', { purpose: 'newsletter', version: '1', decision: 'withdrawn' })).status).toBe(303);
    const { events } = await history('alice@example.com');
    expect(events.map((e) => [e.decision, e.source.channel, e.purposeVersion, e.method])).toEqual([
      ['granted', 'web', 1, 'privacy-portal'],
      ['withdrawn', 'web', 1, 'privacy-portal'],
    ]);
    expect(events[0]!.evidence).toMatchObject({ purposeVersion: 1, page: '/privacy/consents' });
    expect(events[0]!.evidence.userAgentSha256).toMatch(/^[0-9a-f]{64}$/);
    expect((await b.get('/privacy/consents')).text).toContain('Votre choix actuel : retiré le');
  });

  it('shows both choices as the same element with the same class, refusal first', async () => {
    kit = await portalApp();
    const b = await signIn(kit, 'bob@example.com');
    const html = (await b.get('/privacy/consents')).text;
    const groups = [...html.matchAll(/<div class="choices"[^>]*>(.*?)<\/div>/g)].map((m) => m[1]!);
    expect(groups).toHaveLength(2);
    for (const g of groups) {
      const buttons = [...g.matchAll(/<button ([^>]*)>/g)].map((m) => m[1]!.replace(/ value="[^"]*"| aria-pressed="[^"]*"/g, ''));
      expect(buttons).toHaveLength(2);
      expect(buttons[0]).toBe(buttons[1]);
      expect(g.indexOf('value="refused"')).toBeLessThan(g.indexOf('value="granted"'));
    }
  });

  it('honours Global Privacy Control: shown on the page, a grant of a GPC purpose recorded as refused', async () => {
    kit = await portalApp();
    const b = await signIn(kit, 'carol@example.com');
    b.headers['sec-gpc'] = '1';
    const page = await b.get('/privacy/consents');
    expect(page.text).toContain('Votre navigateur envoie le signal Global Privacy Control');
    const r = await b.post('/privacy/consents', { purpose: 'targeted-ads', version: '1', decision: 'granted' });
    expect(r.location).toContain('gpc=1');
    expect((await b.follow(r)).text).toContain('a transformé ce choix en refus');
    // A non-GPC purpose is granted as asked.
    await b.post('/privacy/consents', { purpose: 'newsletter', version: '1', decision: 'granted' });
    const { events } = await history('carol@example.com');
    expect(events.map((e) => [e.purpose, e.decision, e.gpcApplied]).sort()).toEqual([
      ['newsletter', 'granted', false],
      ['targeted-ads', 'refused', true],
    ]);
  });

  it('offers the signed receipt of the person’s latest choice, verifiable with the JWKS', async () => {
    kit = await portalApp();
    const b = await signIn(kit, 'dan@example.com');
    expect((await b.get('/privacy/consents/newsletter/receipt')).status).toBe(404);
    await b.post('/privacy/consents', { purpose: 'newsletter', version: '1', decision: 'granted' });
    const page = await b.get('/privacy/consents');
    expect(page.text).toContain('href="/privacy/consents/newsletter/receipt"');
    const res = await kit.app.request('/privacy/consents/newsletter/receipt', { headers: { cookie: `oubli_privacy=${b.jar.get('oubli_privacy')}` } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-disposition')).toMatch(/^attachment; filename="consent-receipt-/);
    const jws = await res.text();
    const jwks = (await call(kit.app, 'GET', '/.well-known/jwks.json')).json as { keys: any[] };
    const verified = await compactVerify(jws, await importJWK(jwks.keys[0], 'EdDSA'));
    const payload = JSON.parse(new TextDecoder().decode(verified.payload));
    expect(payload.services[0].purposes[0]).toMatchObject({ decision: 'granted', channel: 'web' });
  });

  it('keeps each person to their own consents: another person’s choices are neither shown nor reachable', async () => {
    kit = await portalApp();
    const alice = await signIn(kit, 'alice@example.com');
    await alice.post('/privacy/consents', { purpose: 'newsletter', version: '1', decision: 'granted' });
    const mallory = await signIn(kit, 'mallory@example.com');
    const page = await mallory.get('/privacy/consents');
    expect(page.text).not.toContain('accepté le');
    expect((await mallory.get('/privacy/consents/newsletter/receipt')).status).toBe(404);
    // Form fields naming a person are ignored: only purpose, version and decision count.
    await mallory.post('/privacy/consents', { purpose: 'newsletter', version: '1', decision: 'withdrawn', subject: 'email:alice@example.com', subjectId: 'sub_x' });
    const a = await history('alice@example.com');
    expect(a.events.map((e) => e.decision)).toEqual(['granted']);
    expect((await history('mallory@example.com')).events.map((e) => e.decision)).toEqual(['withdrawn']);
  });

  it('refuses unknown purposes, versions and decisions, and oversized fields', async () => {
    kit = await portalApp();
    const b = await signIn(kit, 'erin@example.com');
    expect((await b.post('/privacy/consents', { purpose: 'nope', version: '1', decision: 'granted' })).status).toBe(404);
    expect((await b.post('/privacy/consents', { purpose: 'newsletter', version: '9', decision: 'granted' })).status).toBe(404);
    expect((await b.post('/privacy/consents', { purpose: 'newsletter', version: '1', decision: 'maybe' })).status).toBe(400);
    expect((await b.post('/privacy/consents', { purpose: 'x'.repeat(50_000), version: '1', decision: 'granted' })).status).toBe(404);
    const huge = await b.post('/privacy/consents', { purpose: 'newsletter', version: '1', decision: 'granted', pad: 'x'.repeat(2 * 1024 * 1024) });
    expect(huge.status).toBe(413);
  });

  it('escapes HTML in purpose titles and texts', async () => {
    kit = await portalApp({
      purposes: [
        { ...NEWSLETTER, title: { fr: '<script>alert(1)</script>', en: '"><img src=x onerror=alert(1)>' }, text: { fr: '"><img src=x onerror=alert(2)>', en: '<script>alert(3)</script>' } },
        ADS,
      ],
    });
    for (const lang of ['fr', 'en']) {
      const b = await signIn(kit, `${lang}@example.com`);
      b.jar.set('lang', lang);
      await b.post('/privacy/consents', { purpose: 'newsletter', version: '1', decision: 'granted' });
      const html = (await b.get('/privacy/consents?saved=newsletter')).text;
      expect(html).not.toMatch(/<script>|<img src=x/);
      expect(html).toContain(lang === 'fr' ? '&lt;script&gt;alert(1)&lt;/script&gt;' : '&quot;&gt;&lt;img src=x onerror=alert(1)&gt;');
    }
  });

  it('ends the session when the person was erased meanwhile', async () => {
    kit = await portalApp();
    const b = await signIn(kit, 'gone@example.com');
    await b.post('/privacy/consents', { purpose: 'newsletter', version: '1', decision: 'granted' });
    const { forgetSubject } = await import('../../src/subjects/service.js');
    const { systemCtx } = await import('../helpers/deps.js');
    const subjectId = (await kit.deps.db.subjects.idByIdentity({ type: 'email', value: 'gone@example.com' }))!;
    await kit.deps.db.tx((t) => forgetSubject(systemCtx(kit.deps), t, subjectId));
    expect((await b.get('/privacy/consents')).status).toBe(410);
    expect((await b.get('/privacy/consents')).status).toBe(303);
  });
});
