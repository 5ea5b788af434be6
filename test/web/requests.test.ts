/**
 * Requests from the privacy portal: access, portability and erasure asked by the signed-in
 * person, the erasure's confirmation from the preview, the status page through to completion
 * or refusal — and the attacks: another person's request ids, CSRF, HTML in what is shown back.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Browser, ORIGIN, portalWithSilos, signIn, type PortalKit } from './helpers.js';
import { ALICE, BOB } from '../helpers/synthetic-connector.js';
import type { Engine } from '../../src/engine/worker.js';
import { denyRequest } from '../../src/requests/service.js';
import { PREVIEWS_PER_WINDOW, PREVIEW_WINDOW_MS } from '../../src/portal/requests.js';
import { systemCtx } from '../helpers/deps.js';
import { call } from '../helpers/http.js';
import { checkReceipt } from '../../src/audit/verify.js';

let kit: PortalKit;
let engine: Engine;
afterEach(async () => kit?.close());

async function withSilos(opts: { requireApproval?: string[] } = {}) {
  ({ kit, engine } = await portalWithSilos(opts));
}

const idOf = (location: string | null) => /^\/privacy\/requests\/(req_[0-9a-z]+)\?m=opened$/.exec(location ?? '')?.[1];

async function ask(b: Browser, type: string, extra: Record<string, string> = {}) {
  const r = await b.post('/privacy/requests', { type, ...extra });
  expect(r.status, r.text.slice(0, 300)).toBe(303);
  const id = idOf(r.location);
  expect(id, r.location ?? '').toBeDefined();
  return id!;
}

describe('requests from the privacy portal', () => {
  it('opens a verified web access request for the session’s email, follows it to completion and hands over the archive', async () => {
    await withSilos();
    const b = await signIn(kit, ALICE.email);
    const list = await b.get('/privacy/requests');
    expect(list.status).toBe(200);
    expect(list.text).toContain('Vous n’avez encore fait aucune demande.');
    expect(list.text).toContain('href="/privacy/requests/erasure"');

    const id = await ask(b, 'access', { identities: 'email:mallory@example.com', email: 'mallory@example.com' });
    const row = (await kit.deps.db.requests.get(id))!;
    expect(row).toMatchObject({ type: 'access', channel: 'web', verified: true, locale: 'fr' });
    expect(row.createdBy).toMatch(/^subject:/);
    // The session's email only: the form's fields name nobody.
    expect((await kit.deps.db.requests.identities(id)).filter((i) => i.source === 'request').map((i) => [i.type, i.value])).toEqual([['email', ALICE.email]]);

    const opened = await b.get(`/privacy/requests/${id}?m=opened`);
    expect(opened.text).toContain('Nous avons bien reçu votre demande.');
    expect(opened.text).toContain('Accès à mes données');
    expect(opened.text).toContain('Votre identité est vérifiée');
    expect(opened.text).toContain('Reçue le 1 mars 2026');
    expect(opened.text).toContain('Nous vous répondrons au plus tard le 1 avril 2026 (fuseau horaire Europe/Paris).');
    expect((await b.get(`/privacy/requests/${id}/archive`)).status).toBe(404); // not ready yet
    expect((await b.get(`/privacy/requests/${id}/receipt`)).status).toBe(404); // no receipt before the end
    expect(opened.text).not.toContain('/receipt');

    await engine.runUntilIdle();
    const done = await b.get(`/privacy/requests/${id}`);
    expect((await kit.deps.db.requests.get(id))!.status).toBe('completed');
    expect(done.text).toContain('Terminée le 1 mars 2026.');
    expect(done.text).toContain('Synthetic shop : terminé');
    expect(done.text).not.toMatch(/>shop<|customers|C-1001/); // silo titles, not internals
    expect(done.text).toContain(`href="/privacy/requests/${id}/archive"`);
    expect(done.text).toContain('https://www.cnil.fr/fr/plaintes');
    const hop = await b.get(`/privacy/requests/${id}/archive`);
    expect(hop.location).toMatch(/^\/privacy\/archive\/[A-Za-z0-9._-]+$/); // a 10-minute signed link
    const zip = await b.follow(hop);
    expect(zip.status).toBe(200);
    expect(zip.headers.get('content-type')).toBe('application/zip');

    // The signed receipt, checkable offline against the public keys.
    expect(done.text).toContain(`href="/privacy/requests/${id}/receipt"`);
    const receipt = await b.get(`/privacy/requests/${id}/receipt`);
    expect(receipt.status).toBe(200);
    expect(receipt.headers.get('content-disposition')).toBe(`attachment; filename="request-receipt-${id}.jws"`);
    const jwks = (await call(kit.app, 'GET', '/.well-known/jwks.json')).json as any;
    const log = (await kit.deps.treeHeads.current()).log; // this deployment's log id
    const checked = await checkReceipt(receipt.text, jwks, log);
    expect(checked.ok, JSON.stringify(checked)).toBe(true);
    expect(checked.ok && checked.value.request).toMatchObject({ id, type: 'access', status: 'completed' });

    const again = await b.get('/privacy/requests');
    expect(again.text).toContain(`href="/privacy/requests/${id}"`);
    expect(again.text).toContain('Terminée');
  });

  it('opens a portability request too, in English for an English page', async () => {
    await withSilos();
    const b = await signIn(kit, BOB.email);
    b.jar.set('lang', 'en');
    const id = await ask(b, 'portability');
    expect((await kit.deps.db.requests.get(id))!).toMatchObject({ type: 'portability', locale: 'en' });
    const page = await b.get(`/privacy/requests/${id}?m=opened`);
    expect(page.text).toContain('<html lang="en">');
    expect(page.text).toContain('My data in a reusable file (portability)');
    expect(page.text).toContain('We will answer by April 1, 2026 (Europe/Paris time) at the latest.');
  });

  it('asks for an erasure only after showing what it deletes and what it keeps, and why', async () => {
    await withSilos();
    const b = await signIn(kit, ALICE.email);
    // A bare POST does not erase: it leads to the confirmation page.
    const bare = await b.post('/privacy/requests', { type: 'erasure' });
    expect(bare.status).toBe(303);
    expect(bare.location).toBe('/privacy/requests/erasure');
    expect(await kit.deps.db.requests.list({ limit: 10 })).toEqual([]);

    const confirm = await b.follow(bare);
    expect(confirm.status).toBe(200);
    expect(confirm.text).toContain('Effacer vos données : vérifiez avant de confirmer');
    expect(confirm.text).toContain('<h2>Synthetic shop</h2>');
    expect(confirm.text).toContain('3 enregistrements supprimés');
    expect(confirm.text).toContain('1 enregistrement gardé, parce que : legal obligation: 10-year retention of accounting records');
    expect(confirm.text).toContain('Confirmer : effacer mes données');

    const id = await ask(b, 'erasure', { confirm: 'yes' });
    expect((await b.get(`/privacy/requests/${id}/archive`)).status).toBe(404); // no archive for an erasure
    await engine.runUntilIdle();
    expect((await kit.deps.db.requests.get(id))!.status).toBe('completed');
    const done = await b.get(`/privacy/requests/${id}`);
    expect(done.status).toBe(200);
    expect(done.text).toContain('Vos données ont été effacées, sauf celles que la loi nous oblige à garder.');
    expect(done.text).not.toContain('/archive');
    // The consent pages know the person is gone; the request stays theirs to follow.
    expect((await b.get('/privacy/consents')).status).toBe(410);
  });

  it('shows a refusal with its reason, escaped, and the right to complain to the CNIL', async () => {
    await withSilos({ requireApproval: ['erasure'] });
    const b = await signIn(kit, ALICE.email);
    const id = await ask(b, 'erasure', { confirm: 'yes' });
    expect((await b.get(`/privacy/requests/${id}`)).text).toContain('notre délégué à la protection des données l’examine');
    await denyRequest(systemCtx(kit.deps), id, 'other', 'Contrat en cours <script>alert(1)</script> "><img src=x onerror=alert(2)>');
    const page = await b.get(`/privacy/requests/${id}`);
    expect(page.text).toContain('Refusée');
    expect(page.text).toContain('Nous avons refusé cette demande. Notre raison : Contrat en cours &lt;script&gt;alert(1)&lt;/script&gt;');
    expect(page.text).not.toMatch(/<script>|<img src=x/);
    expect(page.text).toContain('adresser une réclamation à la CNIL');
    expect(page.text).toContain('href="https://www.cnil.fr/fr/plaintes"');
  });

  it('never shows or hands over another person’s request: 404 like an id that does not exist', async () => {
    await withSilos();
    const alice = await signIn(kit, ALICE.email);
    const aliceId = await ask(alice, 'access');
    await engine.runUntilIdle();
    const bob = await signIn(kit, BOB.email);
    expect((await bob.get(`/privacy/requests/${aliceId}`)).status).toBe(404);
    expect((await bob.get(`/privacy/requests/${aliceId}/archive`)).status).toBe(404);
    expect((await bob.get(`/privacy/requests/${aliceId}/receipt`)).status).toBe(404);
    expect((await alice.get(`/privacy/requests/${aliceId}/receipt`)).status).toBe(200);
    expect((await bob.get('/privacy/requests')).text).not.toContain(aliceId);
    for (const bad of ['req_00000000000000000000000000', 'nope', '..%2f..%2fetc%2fpasswd', `${aliceId}%27%20or%201=1`]) {
      expect((await bob.get(`/privacy/requests/${bad}`)).status, bad).toBe(404);
    }
    // Alice still reaches hers; signed out, nobody does.
    expect((await alice.get(`/privacy/requests/${aliceId}`)).status).toBe(200);
    const anonymous = new Browser(kit.app);
    const r = await anonymous.get(`/privacy/requests/${aliceId}`);
    expect(r.status).toBe(303);
    expect(r.location).toBe('/privacy?m=ended');
    expect((await anonymous.get(`/privacy/requests/${aliceId}/archive`)).status).toBe(303);
  });

  it('answers the open request of the same type instead of opening another (no fan-out flood)', async () => {
    await withSilos();
    const b = await signIn(kit, ALICE.email);
    const first = await ask(b, 'access');
    for (let i = 0; i < 5; i++) {
      const again = await b.post('/privacy/requests', { type: 'access' });
      expect(again.location).toBe(`/privacy/requests/${first}?m=existing`);
    }
    expect((await b.get(`/privacy/requests/${first}?m=existing`)).text).toContain('Vous avez déjà une demande de ce type en cours');
    const portability = await ask(b, 'portability'); // another type is another request
    expect(portability).not.toBe(first);
    await engine.runUntilIdle();
    expect(await ask(b, 'access')).not.toBe(first); // once finished, a new one
    expect(await kit.deps.db.requests.list({ limit: 10 })).toHaveLength(3);
  });

  it('limits erasure previews (each calls every silo) per person, across sessions', async () => {
    await withSilos();
    const b = await signIn(kit, ALICE.email);
    for (let i = 0; i < PREVIEWS_PER_WINDOW; i++) expect((await b.get('/privacy/requests/erasure')).status).toBe(200);
    const calls = kit.deps.connectors.map((c) => (c as any).calls.access);
    const limited = await b.get('/privacy/requests/erasure');
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(limited.text).toContain('Trop de tentatives.');
    // No silo was called for the refused preview; a new session of the same person is limited too.
    expect(kit.deps.connectors.map((c) => (c as any).calls.access)).toEqual(calls);
    expect((await (await signIn(kit, ALICE.email)).get('/privacy/requests/erasure')).status).toBe(429);
    expect((await (await signIn(kit, BOB.email)).get('/privacy/requests/erasure')).status).toBe(200);
    kit.deps.clock.advance(PREVIEW_WINDOW_MS);
    expect((await b.get('/privacy/requests/erasure')).status).toBe(200);
  });

  it('refuses a request form without the CSRF token, with a forged one, or from another site; and an unknown type', async () => {
    await withSilos();
    const b = await signIn(kit, ALICE.email);
    await b.get('/privacy/requests');
    expect((await b.post('/privacy/requests', { type: 'access', csrf: '' })).status).toBe(403);
    expect((await b.post('/privacy/requests', { type: 'access', csrf: 'x'.repeat(43) })).status).toBe(403);
    expect((await b.post('/privacy/requests', { type: 'access' }, { origin: 'https://evil.example' })).status).toBe(403);
    expect((await b.post('/privacy/requests', { type: 'access' }, { origin: ORIGIN, 'sec-fetch-site': 'cross-site' })).status).toBe(403);
    // Another session's token does not pass either.
    const other = await signIn(kit, BOB.email);
    expect((await b.post('/privacy/requests', { type: 'access', csrf: other.csrf })).status).toBe(403);
    const unknown = await b.post('/privacy/requests', { type: '<script>x</script>' });
    expect(unknown.status).toBe(400);
    expect(unknown.text).not.toContain('<script>x');
    expect(await kit.deps.db.requests.list({ limit: 10 })).toEqual([]);
  });
});

describe('requests opened for the person by staff or the API', () => {
  const openByApi = async (email: string, verified: boolean, type = 'access') => {
    const r = await call(kit.app, 'POST', '/v1/requests', { headers: kit.auth, body: { type, identities: [{ type: 'email', value: email }], ...(verified ? { verified } : {}) } });
    expect(r.status, r.text).toBe(201);
    return r.json.id as string;
  };

  it('lists a verified request opened through the API for the person’s email, with its status page, archive and receipt', async () => {
    await withSilos();
    const id = await openByApi(ALICE.email, true);
    expect((await kit.deps.db.requests.get(id))!.createdBy).not.toMatch(/^subject:/);
    await engine.runUntilIdle();
    const b = await signIn(kit, ALICE.email);
    const list = await b.get('/privacy/requests');
    expect(list.text).toContain(`href="/privacy/requests/${id}"`);
    const page = await b.get(`/privacy/requests/${id}`);
    expect(page.status).toBe(200);
    expect(page.text).toContain('Accès à mes données');
    expect(page.text).toContain('Terminée le 1 mars 2026.');
    expect((await b.follow(await b.get(`/privacy/requests/${id}/archive`))).status).toBe(200); // via its 10-minute link
    expect((await b.get(`/privacy/requests/${id}/receipt`)).status).toBe(200);
    // It is the open access request the portal answers with instead of opening another.
    const portability = await openByApi(ALICE.email, true, 'portability');
    const again = await b.post('/privacy/requests', { type: 'portability' });
    expect(again.location).toBe(`/privacy/requests/${portability}?m=existing`);
  });

  it('never shows another person’s API request, nor an unverified one naming the person’s email', async () => {
    await withSilos();
    const bobs = await openByApi(BOB.email, true);
    const unverified = await openByApi(ALICE.email, false);
    expect((await kit.deps.db.requests.get(unverified))!.subjectId).toBeNull();
    await openByApi(ALICE.email, true, 'erasure'); // Alice is in the registry: her session names her subject
    await engine.runUntilIdle();
    expect((await kit.deps.db.requests.get(bobs))!.status).toBe('completed');
    const alice = await signIn(kit, ALICE.email);
    const list = await alice.get('/privacy/requests');
    expect(list.text).not.toContain(bobs);
    expect(list.text).not.toContain(unverified);
    for (const id of [bobs, unverified]) {
      expect((await alice.get(`/privacy/requests/${id}`)).status, id).toBe(404);
      expect((await alice.get(`/privacy/requests/${id}/archive`)).status, id).toBe(404);
      expect((await alice.get(`/privacy/requests/${id}/receipt`)).status, id).toBe(404);
    }
    // Bob reaches his own.
    const bob = await signIn(kit, BOB.email);
    expect((await bob.follow(await bob.get(`/privacy/requests/${bobs}/archive`))).status).toBe(200);
  });
});
