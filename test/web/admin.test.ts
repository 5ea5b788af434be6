/**
 * The DPO's dashboard through its pages: staff login, the queue (counters, filters, keyset
 * pages, CSV), one request with its timeline, progress and actions — and the attacks: a viewer
 * posting a DPO action, the opener approving their own request, missing or forged CSRF tokens,
 * a deny or extend without a reason, more than two months of extension, script in a reason or a
 * silo's error, an open redirect after login, a session that ends while a form is filled.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { eq } from 'drizzle-orm';
import { Browser } from './helpers.js';
import { createTestApp, systemCtx, type TestDeps } from '../helpers/deps.js';
import { bearer, call } from '../helpers/http.js';
import { createUser } from '../../src/auth/users.js';
import { openRequest } from '../../src/requests/service.js';
import { csvCell } from '../../src/admin/queue.js';
import { SCOPES } from '../../src/db/schema/api-keys.js';
import type { App } from '../../src/app.js';
import { ALICE, syntheticSilos } from '../helpers/synthetic-connector.js';
import { auditTexts } from '../auth/helpers.js';
import { Engine } from '../../src/engine/worker.js';
import { verificationSettled } from '../../src/admin/audit-verification.js';

const PASSWORD = 'correct horse battery staple';
let deps: TestDeps;
let app: App;
let api: { authorization: string };
const users: Record<'dpo' | 'dpo2' | 'viewer', string> = { dpo: '', dpo2: '', viewer: '' };

beforeEach(async () => {
  ({ deps, app } = await createTestApp());
  api = { authorization: (await bearer(deps, [...SCOPES])).authorization };
  users.dpo = (await createUser(systemCtx(deps), { email: 'dpo@shop.example', role: 'dpo', password: PASSWORD })).id;
  users.dpo2 = (await createUser(systemCtx(deps), { email: 'dpo2@shop.example', role: 'dpo', password: PASSWORD })).id;
  users.viewer = (await createUser(systemCtx(deps), { email: 'viewer@shop.example', role: 'viewer', password: PASSWORD })).id;
  deps.requireApproval = ['erasure'];
});

async function logIn(email: string, next = '/admin'): Promise<Browser> {
  const b = new Browser(app);
  await b.get(`/admin/login?next=${encodeURIComponent(next)}`);
  const r = await b.post('/admin/login', { email, password: PASSWORD, next });
  expect(r.status, r.text.slice(0, 400)).toBe(303);
  return b;
}

async function apiRequest(type: 'access' | 'erasure', email: string, extra: Record<string, unknown> = {}): Promise<string> {
  const r = await call(app, 'POST', '/v1/requests', { body: { type, identities: [{ type: 'email', value: email }], verified: true, ...extra }, headers: api });
  expect(r.status, r.text).toBe(201);
  return (r.json as { id: string }).id;
}

describe('dashboard login', () => {
  it('sends a visitor to the login page, refuses a wrong password, and returns to the page asked for', async () => {
    const anon = new Browser(app);
    const r = await anon.get('/admin?view=overdue');
    expect(r.status).toBe(303);
    expect(r.location).toBe('/admin/login?next=%2Fadmin%3Fview%3Doverdue');
    const login = await anon.follow(r);
    expect(login.status).toBe(200);
    expect(login.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(login.text).toContain('<html lang="fr">');
    const wrong = await anon.post('/admin/login', { email: 'dpo@shop.example', password: 'nope', next: '/admin?view=overdue' });
    expect(wrong.status).toBe(401);
    expect(wrong.text).toContain('L’adresse e-mail ou le mot de passe est incorrect.');
    const ok = await anon.post('/admin/login', { email: 'dpo@shop.example', password: PASSWORD, next: '/admin?view=overdue' });
    expect(ok.status).toBe(303);
    expect(ok.location).toBe('/admin?view=overdue');
    expect((await anon.follow(ok)).text).toContain('File des demandes');
  });

  it('never redirects off the dashboard after login', async () => {
    for (const next of ['//evil.example/', 'https://evil.example/admin', '/admin/../privacy', '/admin/%2e%2e/x', '/\\evil.example', '/admin//evil.example', 'javascript:alert(1)']) {
      const b = new Browser(app);
      await b.get('/admin/login');
      const r = await b.post('/admin/login', { email: 'dpo@shop.example', password: PASSWORD, next });
      expect(r.location, next).toBe('/admin');
    }
  });

  it('refuses a login or an action form without the CSRF token, with a forged one, or from another origin', async () => {
    const b = new Browser(app);
    await b.get('/admin/login');
    expect((await b.post('/admin/login', { email: 'dpo@shop.example', password: PASSWORD, csrf: '' })).status).toBe(403);
    expect((await b.post('/admin/login', { email: 'dpo@shop.example', password: PASSWORD, csrf: 'forged' })).status).toBe(403);
    const dpo = await logIn('dpo@shop.example');
    const id = await apiRequest('erasure', 'alice@example.com');
    await dpo.get(`/admin/requests/${id}`);
    expect((await dpo.post(`/admin/requests/${id}/approve`, { confirm: 'yes', csrf: '' })).status).toBe(403);
    expect((await dpo.post(`/admin/requests/${id}/approve`, { confirm: 'yes', csrf: 'A'.repeat(43) })).status).toBe(403);
    expect((await dpo.post(`/admin/requests/${id}/approve`, { confirm: 'yes' }, { origin: 'https://evil.example' })).status).toBe(403);
    expect((await deps.db.requests.get(id))!.status).toBe('awaiting_approval');
  });
});

describe('the request queue', () => {
  it('lists open requests soonest due first, with counters, filters and days-left badges', async () => {
    const a = await apiRequest('access', 'a@example.com', { channel: 'store', locale: 'en' });
    deps.clock.advance(10 * 86_400_000);
    const b = await apiRequest('erasure', 'b@example.com');
    deps.clock.advance(22 * 86_400_000); // a is overdue now, b due in 9 days
    const dpo = await logIn('dpo@shop.example');
    const page = await dpo.get('/admin');
    expect(page.status).toBe(200);
    expect(page.text.indexOf(a)).toBeLessThan(page.text.indexOf(b));
    expect(page.text).toMatch(/<strong>2<\/strong> ouvertes/);
    expect(page.text).toMatch(/<strong>1<\/strong> en retard/);
    expect(page.text).toMatch(/<strong>1<\/strong> en attente d’approbation/);
    expect(page.text).toContain('class="badge red">en retard de 1 jours');
    expect((await dpo.get('/admin?view=overdue')).text).not.toContain(b);
    expect((await dpo.get('/admin?type=erasure')).text).not.toContain(a);
    expect((await dpo.get('/admin?channel=store')).text).not.toContain(b);
    expect((await dpo.get('/admin?lang=en')).text).not.toContain(b);
    expect((await dpo.get('/admin?view=approval')).text).not.toContain(a);
    const bad = await dpo.get('/admin?status=bogus');
    expect(bad.status).toBe(400);
    expect((await dpo.get('/admin?after=1%27%20or%201=1')).status).toBe(400);
    const found = await dpo.get(`/admin/find?id=${b}`);
    expect(found.location).toBe(`/admin/requests/${b}`);
    expect((await dpo.get('/admin/find?id=req_00000000000000000000000000')).status).toBe(404);
  });

  it('pages with a keyset cursor (no row twice, none missed) and exports the filtered queue as CSV', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 60; i++) {
      ids.push(await apiRequest('access', `p${i}@example.com`));
      deps.clock.advance(60_000);
    }
    const viewer = await logIn('viewer@shop.example');
    const first = await viewer.get('/admin');
    const shown = (text: string) => [...text.matchAll(/<a href="\/admin\/requests\/(req_[0-9a-z]+)"/g)].map((m) => m[1]);
    expect(shown(first.text)).toEqual(ids.slice(0, 50));
    const next = /<a href="([^"]+)" rel="next"/.exec(first.text)![1]!.replace(/&amp;/g, '&');
    const second = await viewer.get(next);
    expect(shown(second.text)).toEqual(ids.slice(50));
    expect(second.text).not.toContain('rel="next"');

    const csv = await viewer.get('/admin/requests.csv');
    expect(csv.status).toBe(200);
    expect(csv.headers.get('content-type')).toBe('text/csv; charset=utf-8');
    const lines = csv.text.trim().split('\r\n');
    expect(lines[0]).toBe('id,type,status,channel,language,received_at,due_at,days_left,extended_months,completed_at');
    expect(lines.slice(1).map((l) => JSON.parse(l.split(',')[0]!))).toEqual(ids);
    expect(csv.text).not.toContain('@example.com');
  });

  it('makes spreadsheet formulas inert in CSV cells', () => {
    expect(csvCell('=HYPERLINK("http://evil")')).toBe('"\'=HYPERLINK(""http://evil"")"');
    expect(csvCell('+1')).toBe('"\'+1"');
    expect(csvCell('@SUM(A1)')).toBe('"\'@SUM(A1)"');
    expect(csvCell(-3)).toBe('"\'-3"');
    expect(csvCell('req_1')).toBe('"req_1"');
  });
});

describe('one request', () => {
  it('lets a DPO approve an erasure, showing the timeline with who did it', async () => {
    const id = await apiRequest('erasure', 'alice@example.com');
    const dpo = await logIn('dpo@shop.example');
    const page = await dpo.get(`/admin/requests/${id}`);
    expect(page.text).toContain(`action="/admin/requests/${id}/approve"`);
    expect(page.text).toContain('request.received');
    expect(page.text).toContain('<strong>email</strong> a***@example.com'); // masked identities only
    expect(page.text).not.toContain('alice@example.com');
    const unconfirmed = await dpo.post(`/admin/requests/${id}/approve`, {});
    expect(unconfirmed.status).toBe(400);
    const done = await dpo.post(`/admin/requests/${id}/approve`, { confirm: 'yes' });
    expect(done.status).toBe(303);
    expect(done.location).toBe(`/admin/requests/${id}?m=approve`);
    expect((await deps.db.requests.get(id))!.status).not.toBe('awaiting_approval'); // running, or done: no silo here
    const after = await dpo.follow(done);
    expect(after.text).toContain('Approuvée : la demande est en cours.');
    expect(after.text).toMatch(/<code>request.approved<\/code> <span class="meta">dpo@shop.example<\/span>/);
  });

  it('offers a viewer no action, and refuses the action they post anyway (403, nothing changes)', async () => {
    const id = await apiRequest('erasure', 'alice@example.com');
    const viewer = await logIn('viewer@shop.example');
    const page = await viewer.get(`/admin/requests/${id}`);
    expect(page.status).toBe(200);
    expect(page.text).not.toContain('class="admin-action"');
    for (const action of ['approve', 'cancel']) {
      const r = await viewer.post(`/admin/requests/${id}/${action}`, { confirm: 'yes' });
      expect(r.status, action).toBe(403);
      expect(r.text).toContain('Votre rôle ne permet pas cette action.');
    }
    const deny = await viewer.post(`/admin/requests/${id}/deny`, { confirm: 'yes', reasonCode: 'other', reason: 'no' });
    expect(deny.status).toBe(403);
    expect((await deps.db.requests.get(id))!.status).toBe('awaiting_approval');
  });

  it('refuses the approval of a request by the staff member who opened it', async () => {
    const { request } = await openRequest(
      { ...deps, actor: { type: 'user', id: users.dpo } },
      { type: 'erasure', identities: [{ type: 'email', value: 'alice@example.com' }], verified: true },
    );
    const dpo = await logIn('dpo@shop.example');
    const page = await dpo.get(`/admin/requests/${request.id}`);
    expect(page.text).toContain('Vous avez ouvert cette demande');
    expect(page.text).not.toContain(`/admin/requests/${request.id}/approve`);
    const r = await dpo.post(`/admin/requests/${request.id}/approve`, { confirm: 'yes' });
    expect(r.status).toBe(403);
    expect(r.text).toContain('un autre membre du personnel');
    expect((await deps.db.requests.get(request.id))!.status).toBe('awaiting_approval');
    const other = await logIn('dpo2@shop.example');
    await other.get(`/admin/requests/${request.id}`);
    expect((await other.post(`/admin/requests/${request.id}/approve`, { confirm: 'yes' })).status).toBe(303);
  });

  it('needs a reason to deny or extend, keeps what was typed, escapes it, and refuses more than two months', async () => {
    const id = await apiRequest('erasure', 'alice@example.com');
    const dpo = await logIn('dpo@shop.example');
    await dpo.get(`/admin/requests/${id}`);
    const empty = await dpo.post(`/admin/requests/${id}/deny`, { confirm: 'yes', reasonCode: 'excessive', reason: '   ' });
    expect(empty.status).toBe(400);
    expect(empty.text).toContain('Écrivez la raison');
    const noMonths = await dpo.post(`/admin/requests/${id}/extend`, { confirm: 'yes', months: '3', reason: 'archives' });
    expect(noMonths.status).toBe(400);
    expect(noMonths.text).toContain('archives</textarea>');
    expect((await dpo.post(`/admin/requests/${id}/extend`, { confirm: 'yes', months: '2', reason: 'archives papier' })).status).toBe(303);
    const more = await dpo.post(`/admin/requests/${id}/extend`, { confirm: 'yes', months: '1', reason: 'encore' });
    expect(more.status).toBe(409);
    expect(more.text).toContain('deux mois au total');
    expect((await deps.db.requests.get(id))!.extendedMonths).toBe(2);

    const script = '<script>alert(1)</script> "><img src=x onerror=alert(2)>';
    const denied = await dpo.post(`/admin/requests/${id}/deny`, { confirm: 'yes', reasonCode: 'other', reason: script });
    expect(denied.status).toBe(303);
    const page = await dpo.follow(denied);
    expect(page.text).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(page.text).not.toMatch(/<script>|<img src=x/);
  });

  it('shows a silo’s error message as text', async () => {
    deps.connectors = syntheticSilos([ALICE]).all;
    const id = await apiRequest('access', ALICE.email);
    const { tasks: t } = deps.db.tables;
    const [task] = await deps.db.tasks.ofRequest(id);
    await deps.db.tx((tx) => tx.q.update(t).set({ status: 'failed', attempts: 3, lastErrorCode: 'SILO_ERROR', lastError: '<img src=x onerror=alert(1)>' }).where(eq(t.id, task!.id)));
    const dpo = await logIn('dpo@shop.example');
    const page = await dpo.get(`/admin/requests/${id}`);
    expect(page.text).toContain('SILO_ERROR: &lt;img src=x onerror=alert(1)&gt;');
    expect(page.text).not.toContain('<img src=x');
    expect(page.text).toContain('<th scope="row">Synthetic shop</th>'); // the silo's title
  });

  it('keeps a form filled when the session ends, and shows it again after login', async () => {
    const id = await apiRequest('erasure', 'alice@example.com');
    const dpo = await logIn('dpo@shop.example');
    await dpo.get(`/admin/requests/${id}`);
    // The session ends (expired, or ended elsewhere).
    const { sessions } = deps.db.tables;
    await deps.db.tx((tx) => tx.q.delete(sessions));
    const posted = await dpo.post(`/admin/requests/${id}/deny`, { confirm: 'yes', reasonCode: 'excessive', reason: 'Demande répétée trois fois ce mois-ci' });
    expect(posted.status).toBe(401);
    expect(posted.text).toContain('Votre session a pris fin.');
    expect(posted.text).toContain('name="draft_reason" value="Demande répétée trois fois ce mois-ci"');
    const fields = Object.fromEntries([...posted.text.matchAll(/<input type="hidden" name="([a-z_A-Z]+)" value="([^"]*)"/g)].map((m) => [m[1]!, m[2]!]));
    const again = await dpo.post('/admin/login', { ...fields, email: 'dpo@shop.example', password: PASSWORD });
    expect(again.status).toBe(200);
    expect(again.text).toContain('Vous êtes reconnecté.');
    expect(again.text).toContain('Demande répétée trois fois ce mois-ci</textarea>');
    expect(again.text).toMatch(/<option value="excessive" selected/);
    expect((await deps.db.requests.get(id))!.status).toBe('awaiting_approval'); // nothing sent behind their back
    // A cross-site form posted at a logged-out staff member carries nothing into the login.
    const forged = await new Browser(app).post(`/admin/requests/${id}/deny`, { confirm: 'yes', reasonCode: 'other', reason: 'forged' }, { origin: 'https://evil.example' });
    expect(forged.status).toBe(401);
    expect(forged.text).not.toContain('forged');
    expect(forged.text).not.toContain('draft_');
    const sent = await dpo.post(`/admin/requests/${id}/deny`, { confirm: 'yes', reasonCode: 'excessive', reason: 'Demande répétée trois fois ce mois-ci' });
    expect(sent.status).toBe(303);
    expect((await deps.db.requests.get(id))!.status).toBe('denied');
  });

  it('shows one identity in clear on a DPO’s click, audited, and never to a viewer', async () => {
    const id = await apiRequest('erasure', 'alice@example.com');
    const [identity] = await deps.db.requests.identities(id);
    const viewer = await logIn('viewer@shop.example');
    const seen = await viewer.get(`/admin/requests/${id}`);
    expect(seen.text).not.toContain('/reveal');
    expect((await viewer.post(`/admin/requests/${id}/identities/${identity!.id}/reveal`, {})).status).toBe(403);
    const dpo = await logIn('dpo@shop.example');
    await dpo.get(`/admin/requests/${id}`);
    const shown = await dpo.post(`/admin/requests/${id}/identities/${identity!.id}/reveal`, {});
    expect(shown.status).toBe(200);
    expect(shown.text).toContain('<mark>alice@example.com</mark>');
    const entries = (await auditTexts(deps)).map((t) => JSON.parse(t));
    expect(entries.filter((e) => e.type === 'request.identity_revealed' && e.requestId === id)).toMatchObject([{ actor: { type: 'user', id: users.dpo }, data: { identity: identity!.id, type: 'email' } }]);
    expect(JSON.stringify(entries)).not.toContain('alice@example.com');
    // Reload: masked again.
    expect((await dpo.get(`/admin/requests/${id}`)).text).not.toContain('alice@example.com');
    expect((await dpo.post(`/admin/requests/${id}/identities/99999/reveal`, {})).status).toBe(404);
  });

  it('previews an erasure before approving it, for the DPO only', async () => {
    deps.connectors = syntheticSilos([ALICE]).all;
    const id = await apiRequest('erasure', ALICE.email);
    const viewer = await logIn('viewer@shop.example');
    expect((await viewer.get(`/admin/requests/${id}`)).text).not.toContain('/preview');
    expect((await viewer.get(`/admin/requests/${id}/preview`)).status).toBe(403);
    const dpo = await logIn('dpo@shop.example');
    expect((await dpo.get(`/admin/requests/${id}`)).text).toContain(`href="/admin/requests/${id}/preview"`);
    const preview = await dpo.get(`/admin/requests/${id}/preview`);
    expect(preview.status).toBe(200);
    expect(preview.text).toMatch(/<th scope="row">Synthetic shop<\/th><td>customers<\/td><td>1<\/td>/);
    expect(preview.text).toContain('legal obligation: 10-year retention of accounting records');
    expect((await deps.db.requests.get(id))!.status).toBe('awaiting_approval'); // a dry run
  });

  it('runs no preview for a link followed from another site (it calls every silo, audited as the DPO)', async () => {
    deps.connectors = syntheticSilos([ALICE]).all;
    const id = await apiRequest('erasure', ALICE.email);
    const dpo = await logIn('dpo@shop.example');
    const lured = await dpo.get(`/admin/requests/${id}/preview`, { 'sec-fetch-site': 'cross-site' });
    expect(lured.status).toBe(403);
    expect(lured.text).not.toContain('customers');
    expect((await auditTexts(deps)).map((t) => JSON.parse(t).type)).not.toContain('request.previewed');
    // Followed from the request page, or typed in the address bar: shown.
    expect((await dpo.get(`/admin/requests/${id}/preview`, { 'sec-fetch-site': 'same-origin' })).status).toBe(200);
    expect((await dpo.get(`/admin/requests/${id}/preview`, { 'sec-fetch-site': 'none' })).status).toBe(200);
  });

  it('refuses the preview of a request it is not offered for: refused, finished, or not an erasure', async () => {
    deps.connectors = syntheticSilos([ALICE]).all;
    const denied = await apiRequest('erasure', ALICE.email);
    const access = await apiRequest('access', ALICE.email);
    const dpo = await logIn('dpo@shop.example');
    await dpo.get(`/admin/requests/${denied}`);
    const r = await dpo.post(`/admin/requests/${denied}/deny`, { confirm: 'yes', reasonCode: 'identity_not_verified', reason: 'pas la bonne personne' });
    expect(r.status, r.text.slice(0, 300)).toBe(303);
    // Denied because the identity was not the person's: the silos must not be asked where it is.
    for (const id of [denied, access]) {
      expect((await dpo.get(`/admin/requests/${id}`)).text).not.toContain('/preview');
      const preview = await dpo.get(`/admin/requests/${id}/preview`);
      expect(preview.status, id).toBe(409);
      expect(preview.text).not.toContain('customers');
    }
    expect((await auditTexts(deps)).map((t) => JSON.parse(t).type)).not.toContain('request.previewed');
  });

  it('lets another DPO include or exclude an identity under review, with a reason', async () => {
    const id = await apiRequest('access', 'alice@example.com');
    const { requests: r, requestIdentities: i } = deps.db.tables;
    const [given] = await deps.db.requests.identities(id);
    await deps.db.tx(async (t) => {
      await t.q.update(r).set({ status: 'needs_review', statusReasonCode: 'identity_conflict' }).where(eq(r.id, id));
      await t.q.insert(i).values({ requestId: id, type: 'phone', value: '+33600000000', masked: '+33*******00', source: 'shop', collection: 'customers', round: 1, searchable: true, state: 'pending', why: { code: 'identity_conflict', via: [given!.id] } });
    });
    const pending = (await deps.db.requests.identities(id)).find((x) => x.type === 'phone')!;
    const dpo = await logIn('dpo@shop.example');
    const page = await dpo.get(`/admin/requests/${id}`);
    expect(page.text).toContain(`action="/admin/requests/${id}/identities/${pending.id}/include"`);
    expect(page.text).toContain(`formaction="/admin/requests/${id}/identities/${pending.id}/exclude"`);
    expect((await dpo.post(`/admin/requests/${id}/identities/${pending.id}/exclude`, { reason: ' ' })).status).toBe(400);
    const done = await dpo.post(`/admin/requests/${id}/identities/${pending.id}/exclude`, { reason: 'un autre client' });
    expect(done.status).toBe(303);
    expect((await deps.db.requests.identities(id)).find((x) => x.id === pending.id)).toMatchObject({ decision: 'exclude' });
    expect((await dpo.post(`/admin/requests/${id}/identities/${pending.id}/include`, { reason: 'encore' })).status).toBe(409);
  });

  it('offers the receipt of a finished request with its in-page proof check, a script served by oubli', async () => {
    const id = await apiRequest('access', 'alice@example.com');
    await new Engine(deps).runUntilIdle();
    const dpo = await logIn('dpo@shop.example');
    const page = await dpo.get(`/admin/requests/${id}`);
    expect((await deps.db.requests.get(id))!.status).toBe('completed');
    expect(page.text).toContain('data-receipt-check=""');
    expect(page.text).toContain(`data-log="${(await deps.treeHeads.current()).log}"`);
    expect(page.text).toContain('<script type="module" src="/admin/assets/receipt-check.js"></script>');
    const script = await new Browser(app).get('/admin/assets/receipt-check.js');
    expect(script.status).toBe(200);
    expect(script.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(script.text).not.toMatch(/node:crypto|require\(/);
    expect(script.text).toContain('data-receipt-check');
  });
});

describe('the audit log page', () => {
  it('shows the checkpoint and keys, and runs a full verification in the background, one at a time, audited', async () => {
    await apiRequest('access', 'alice@example.com');
    const viewer = await logIn('viewer@shop.example');
    const seen = await viewer.get('/admin/audit');
    expect(seen.status).toBe(200);
    expect(seen.text).toContain((await deps.treeHeads.checkpoint()).split('\n')[0]);
    expect(seen.text).not.toContain('action="/admin/audit/verify"');
    expect((await viewer.post('/admin/audit/verify', {})).status).toBe(403);

    const dpo = await logIn('dpo@shop.example');
    await dpo.get('/admin/audit');
    const [a, b] = await Promise.all([dpo.post('/admin/audit/verify', {}), dpo.post('/admin/audit/verify', {})]);
    expect([a.status, b.status]).toEqual([303, 303]);
    const rows = await deps.db.audit.verifications(10);
    expect(rows).toHaveLength(1);
    const running = await dpo.get('/admin/audit?m=started');
    expect(running.text).toMatch(/<meta http-equiv="refresh" content="2"\/?>|Vérifié/);
    await verificationSettled(rows[0]!.id);
    const done = await dpo.get('/admin/audit');
    expect(done.text).toContain('<strong>Vérifié</strong>');
    expect(done.text).not.toContain('http-equiv="refresh"');
    expect(await deps.db.audit.verification(rows[0]!.id)).toMatchObject({ status: 'ok', problem: null });
    const types = (await auditTexts(deps)).map((t) => JSON.parse(t).type);
    expect(types).toContain('audit.verification_started');
    expect(types).toContain('audit.verification_finished');
  });

  it('reports a log a DB administrator edited', async () => {
    await apiRequest('access', 'alice@example.com');
    const { auditEntries: e } = deps.db.tables;
    await deps.db.tx((t) => t.q.update(e).set({ entry: '{"forged":true}' }).where(eq(e.idx, 1)));
    const dpo = await logIn('dpo@shop.example');
    await dpo.get('/admin/audit');
    await dpo.post('/admin/audit/verify', {});
    const [row] = await deps.db.audit.verifications(1);
    await verificationSettled(row!.id);
    expect(await deps.db.audit.verification(row!.id)).toMatchObject({ status: 'failed', problem: expect.stringMatching(/^entry 1:/) });
    expect((await dpo.get('/admin/audit')).text).toContain('<strong>Échec</strong>');
  });
});

describe('finding a person’s requests by an identifier', () => {
  it('looks the value up from the form body by its hash, lists the person’s requests, and audits the search without the value', async () => {
    const mine = await apiRequest('access', 'Alice@Example.com');
    await apiRequest('access', 'bob@example.com');
    const dpo = await logIn('dpo@shop.example');
    await dpo.get('/admin');
    const found = await dpo.post('/admin/find', { type: 'email', value: '  alice@example.COM ' });
    expect(found.status).toBe(200);
    expect(found.text).toContain('1 demande(s) trouvée(s) pour cet identifiant.');
    expect(found.text).toContain(`href="/admin/requests/${mine}"`);
    expect(found.text).not.toContain('bob');
    expect(found.text).not.toContain('alice@example.com'); // not even shown back
    const none = await dpo.post('/admin/find', { type: 'email', value: 'nobody@example.com' });
    expect(none.status).toBe(404);
    expect((await dpo.post('/admin/find', { type: 'email', value: 'not an email' })).status).toBe(400);
    expect((await dpo.post('/admin/find', { type: 'email', value: 'alice@example.com', csrf: 'forged' })).status).toBe(403);
    const searches = (await auditTexts(deps)).map((t) => JSON.parse(t)).filter((e) => e.type === 'request.searched');
    expect(searches.map((e) => e.data)).toEqual([
      { identityType: 'email', found: 1 },
      { identityType: 'email', found: 0 },
    ]);
    expect(JSON.stringify(searches)).not.toMatch(/alice|nobody/i);
  });
});

describe('dashboard forms over the body limit', () => {
  it('answer the dashboard’s 413 page, not the API’s JSON', async () => {
    const dpo = await logIn('dpo@shop.example');
    const id = await apiRequest('erasure', 'alice@example.com');
    await dpo.get(`/admin/requests/${id}`);
    const r = await dpo.post(`/admin/requests/${id}/deny`, { confirm: 'yes', reasonCode: 'other', reason: 'x'.repeat(2 * 1024 * 1024) });
    expect(r.status).toBe(413);
    expect(r.headers.get('content-type')).toContain('text/html');
    expect(r.headers.get('content-security-policy')).toContain("default-src 'self'");
    expect(r.text).toContain('<html lang="fr">');
    expect(r.text).toContain('href="/admin"');
    expect((await deps.db.requests.get(id))!.status).toBe('awaiting_approval');
  });
});
