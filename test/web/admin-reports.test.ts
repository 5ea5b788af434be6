/**
 * The DPO's reports through their pages: requests with known outcomes (opened through the
 * request service, the clock moved, then denied, extended, approved, completed by the engine or
 * expired by the maintenance sweep) and consent events through the API, and the exact figures
 * in the tables; the charts as SVG images with their title; the annual report; an invalid
 * period (400); a viewer reads them; a visitor is sent to the login page.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { Browser } from './helpers.js';
import { createTestApp, systemCtx, type TestDeps } from '../helpers/deps.js';
import { bearer, call } from '../helpers/http.js';
import { ADS, NEWSLETTER, grant } from '../consent/helpers.js';
import { createUser } from '../../src/auth/users.js';
import { approveRequest, denyRequest, extendRequest, openRequest } from '../../src/requests/service.js';
import { sweepRequests } from '../../src/requests/retention.js';
import { Engine } from '../../src/engine/worker.js';
import { SCOPES } from '../../src/db/schema/api-keys.js';
import type { Channel, RequestType } from '../../src/db/schema/requests.js';
import type { Ctx } from '../../src/deps.js';
import type { App } from '../../src/app.js';
import { histogramRank, parseReportQuery } from '../../src/admin/reports.js';

const PASSWORD = 'correct horse battery staple';
const DAY = 86_400_000;
let deps: TestDeps;
let app: App;
let dpo: Ctx;

beforeEach(async () => {
  ({ deps, app } = await createTestApp());
  deps.requireApproval = ['erasure'];
  const id = (await createUser(systemCtx(deps), { email: 'dpo@shop.example', role: 'dpo', password: PASSWORD })).id;
  await createUser(systemCtx(deps), { email: 'viewer@shop.example', role: 'viewer', password: PASSWORD });
  dpo = { ...deps, actor: { type: 'user', id } };
});

async function logIn(email: string): Promise<Browser> {
  const b = new Browser(app);
  await b.get('/admin/login');
  const r = await b.post('/admin/login', { email, password: PASSWORD, next: '/admin' });
  expect(r.status, r.text.slice(0, 400)).toBe(303);
  return b;
}

let n = 0;
async function open(type: RequestType, channel: Channel, verified: boolean): Promise<string> {
  const { request } = await openRequest(systemCtx(deps), { type, channel, verified, identities: [{ type: 'email', value: `p${n++}@example.com` }] });
  return request.id;
}

/** The cells of the table with this caption, row by row (tags stripped). */
function table(html: string, caption: string): string[][] {
  const at = html.indexOf(`<caption>${caption}</caption>`);
  expect(at, caption).toBeGreaterThan(-1);
  const body = html.slice(at, html.indexOf('</table>', at));
  return [...body.matchAll(/<tr[^>]*>(.*?)<\/tr>/gs)].map((m) => [...m[1]!.matchAll(/<t[hd][^>]*>(.*?)<\/t[hd]>/gs)].map((c) => c[1]!.replace(/<[^>]+>/g, '').trim()));
}

/**
 * Received from 2026-03-01 (T0) to 2026-06-30, Europe/Paris:
 * - access, web: completed in 3 and 10 days; one extended by a month, completed in 40 days (on time);
 * - access, store: completed in 35 days, past its one-month deadline (late);
 * - access, email, unverified: one denied (identity not verified), one expired (abandoned);
 * - erasure, api: one denied (manifestly unfounded), one approved 2 days after receipt (completed then);
 * - erasure, web, unverified: still awaiting verification.
 * And one access received on 2026-07-15, outside the period (inside the year).
 */
async function seedRequests(): Promise<void> {
  const engine = new Engine(deps, { random: () => 0.5, backoffBaseMs: 1000 });
  const denied = await open('access', 'email', false);
  await open('access', 'email', false); // expires at its deadline
  await denyRequest(dpo, denied, 'identity_not_verified', 'We could not check who you are.');
  const refused = await open('erasure', 'api', true);
  await denyRequest(dpo, refused, 'manifestly_unfounded', 'Repeated request.');
  const approved = await open('erasure', 'api', true);

  await open('access', 'web', true);
  deps.clock.advance(2 * DAY);
  await approveRequest(dpo, approved); // completes at once: no silo to ask
  deps.clock.advance(1 * DAY);
  await engine.runUntilIdle(); // 3 days

  await open('access', 'web', true);
  deps.clock.advance(10 * DAY);
  await engine.runUntilIdle(); // 10 days

  await open('access', 'store', true);
  deps.clock.advance(35 * DAY);
  await engine.runUntilIdle(); // 35 days, late

  const extended = await open('access', 'web', true);
  await extendRequest(dpo, extended, 1, 'Many systems to search.');
  deps.clock.advance(40 * DAY);
  await engine.runUntilIdle(); // 40 days, on time (two months)

  deps.clock.set(Date.parse('2026-06-20T10:00:00Z'));
  await open('erasure', 'web', false); // pending at the end
  await sweepRequests(systemCtx(deps));
  deps.clock.set(Date.parse('2026-07-15T10:00:00Z'));
  await open('access', 'web', true); // outside the period, running
  deps.clock.set(Date.parse('2026-07-20T10:00:00Z'));
}

/** Newsletter: two grants on 2026-07-10, one withdrawn on 07-11. Ads (GPC applies): a grant, a refusal, a grant made a refusal by GPC. */
async function seedConsents(): Promise<void> {
  const auth = { authorization: (await bearer(deps, [...SCOPES])).authorization };
  for (const p of [NEWSLETTER, ADS]) expect((await call(app, 'POST', '/v1/purposes', { body: p, headers: auth })).status).toBe(201);
  const post = async (body: unknown, headers: Record<string, string> = {}) => expect((await call(app, 'POST', '/v1/consents', { body, headers: { ...auth, ...headers } })).status).toBe(201);
  const at = (iso: string) => ({ occurredAt: iso });
  await post(grant('alice@example.com', 'newsletter', at('2026-07-10T08:00:00Z')));
  await post(grant('bob@example.com', 'newsletter', at('2026-07-10T09:00:00Z')));
  await post({ ...grant('alice@example.com', 'newsletter', at('2026-07-11T08:00:00Z')), decision: 'withdrawn' });
  await post(grant('erin@example.com', 'targeted-ads', at('2026-07-12T08:00:00Z')));
  await post({ ...grant('dave@example.com', 'targeted-ads', at('2026-07-12T09:00:00Z')), decision: 'refused' });
  await post(grant('carol@example.com', 'targeted-ads', at('2026-07-12T10:00:00Z')), { 'sec-gpc': '1' });
}

const OUTCOMES = 'Demandes reçues sur la période, par type et par canal, et leur issue';

describe('reports', () => {
  it('counts each request of the period once, with its outcome, per type and channel, and the verification funnel', async () => {
    await seedRequests();
    const dpoPage = await logIn('dpo@shop.example');
    const r = await dpoPage.get('/admin/reports?from=2026-03-01&to=2026-06-30');
    expect(r.status, r.text.slice(0, 300)).toBe(200);
    expect(table(r.text, OUTCOMES)).toEqual([
      ['Type', 'Reçues', 'Traitées dans le délai', 'Traitées en retard', 'Prolongées', 'Refusées', 'Jours de traitement, médiane', '90e centile, jours'],
      ['Accès — Web', '3', '3', '0', '1', '0', '10,0', '40,0'],
      ['Accès — Magasin', '1', '0', '1', '0', '0', '35,0', '35,0'],
      ['Accès — E-mail', '2', '0', '0', '0', '1', '—', '—'],
      ['Accès — tous canaux', '6', '3', '1', '1', '1', '10,0', '40,0'],
      ['Effacement — Web', '1', '0', '0', '0', '0', '—', '—'],
      ['Effacement — API', '2', '1', '0', '0', '1', '2,0', '2,0'],
      ['Effacement — tous canaux', '3', '1', '0', '0', '1', '2,0', '2,0'],
      ['Toutes les demandes', '9', '4', '1', '1', '2', '10,0', '40,0'],
    ]);
    expect(table(r.text, 'Demandes refusées par motif (RGPD art. 12, paragraphe 4)')).toEqual([
      ['Type', 'Refusées', 'Manifestement infondée', 'Excessive', 'Identité non vérifiée', 'Autre'],
      ['Accès — E-mail', '1', '0', '0', '1', '0'],
      ['Accès — tous canaux', '1', '0', '0', '1', '0'],
      ['Effacement — API', '1', '1', '0', '0', '0'],
      ['Effacement — tous canaux', '1', '1', '0', '0', '0'],
      ['Toutes les demandes', '2', '1', '0', '1', '0'],
    ]);
    expect(table(r.text, 'Vérification des demandes ouvertes sur la période').slice(1)).toEqual([
      ['Ouvertes', '9'],
      ['Vérifiées', '6'],
      ['En attente de vérification', '1'],
      ['Abandonnées (expirées sans vérification)', '1'],
      ['Closes sans vérification (refusées ou annulées)', '1'],
    ]);
    expect(table(r.text, 'Issue des demandes reçues, par type').slice(1, 5)).toEqual([
      ['Accès — Traitées dans le délai', '3'],
      ['Accès — Traitées en retard', '1'],
      ['Accès — Refusées', '1'],
      ['Accès — En cours, ou closes autrement', '1'],
    ]);
    expect(r.text).toContain('<svg role="img" aria-labelledby="chart-outcomes-title" aria-describedby="chart-outcomes-desc"');
    expect(r.text).toContain('<title id="chart-outcomes-title">Issue des demandes reçues, par type</title>');
    expect(r.text).toContain('<desc id="chart-outcomes-desc">9 demandes reçues : 4 traitées dans le délai, 1 traitées en retard, 2 refusées, 2 en cours ou closes autrement.</desc>');
    expect(r.text).toContain('<a href="/admin/reports">Rapports</a>');
    expect(r.text).not.toContain('style=');
    expect(r.headers.get('content-security-policy')).toContain("style-src 'self'");

    // The default period: the last 12 months, today (2026-07-20) included: the July request too.
    const byDefault = await dpoPage.get('/admin/reports');
    expect(byDefault.text).toContain('value="2025-07-21"');
    expect(table(byDefault.text, OUTCOMES).at(-1)!.slice(0, 2)).toEqual(['Toutes les demandes', '10']);
  });

  it('draws consent per purpose over the last 90 days, with current totals and the GPC share', async () => {
    await seedRequests();
    await seedConsents();
    const page = await (await logIn('dpo@shop.example')).get('/admin/reports');
    expect(page.status).toBe(200);
    const news = table(page.text.slice(page.text.indexOf('id="purpose-newsletter"')), 'Choix en vigueur aujourd’hui');
    expect(news[1]!.slice(0, 4)).toEqual(['1', '0', '1', '0']); // granted, refused, withdrawn, expired
    const ads = page.text.slice(page.text.indexOf('id="purpose-targeted-ads"'));
    expect(table(ads, 'Choix en vigueur aujourd’hui')[1]!.slice(0, 3)).toEqual(['1', '2', '0']);
    expect(ads).toContain(`Refus enregistrés sur ces 90 jours : 2, dont 1 (${new Intl.NumberFormat('fr', { style: 'percent' }).format(0.5)}) par un signal Global Privacy Control.`);
    expect(page.text).toContain('Global Privacy Control ne s’applique pas à cette finalité.');
    const title = '« Lettre d’information » : accords et retraits par jour, du 2026-04-22 au 2026-07-20';
    expect(page.text).toContain(`<title id="chart-consent-newsletter-title">${title}</title>`);
    expect(page.text).toContain('<desc id="chart-consent-newsletter-desc">2 accords et 1 retraits sur ces 90 jours ; au plus 2 en un jour.</desc>');
    expect(page.text).toContain('stroke-dasharray="6 4"'); // withdrawals: dashed as well as red
    expect(table(page.text.slice(page.text.indexOf('id="purpose-newsletter"')), 'Accords et retraits par jour (les jours sans l’un ni l’autre sont omis)')).toEqual([
      ['Jour (UTC)', 'Accords', 'Retraits'],
      ['2026-07-10', '2', '0'],
      ['2026-07-11', '0', '1'],
    ]);
  });

  it('prints the annual accountability report of a year from the same figures, tables open', async () => {
    await seedRequests();
    const b = await logIn('dpo@shop.example');
    const r = await b.get('/admin/reports/annual?year=2026');
    expect(r.status).toBe(200);
    expect(r.text).toContain('<h1>Rapport annuel de conformité 2026</h1>');
    expect(r.text).toContain('du 2026-01-01 au 2026-12-31');
    expect(table(r.text, OUTCOMES).at(-1)).toEqual(['Toutes les demandes', '10', '4', '1', '1', '2', '10,0', '40,0']);
    expect(r.text.slice(r.text.indexOf('<h2 id="outcomes">'), r.text.indexOf('<h2 id="consent">'))).not.toContain('<details>');
    expect(r.text).toContain('<title id="chart-funnel-title">');
    const none = await b.get('/admin/reports/annual?year=2024');
    expect(none.text).toContain('Aucune demande n’a été reçue sur cette période.');
    // Without a year: the last full one.
    expect((await b.get('/admin/reports/annual')).text).toContain('<h1>Rapport annuel de conformité 2025</h1>');
    const en = await b.get('/admin/reports/annual?year=2026', { cookie: `${[...b.jar].map(([k, v]) => `${k}=${v}`).join('; ')}; lang=en` });
    expect(en.text).toContain('<h1>Annual accountability report 2026</h1>');
    expect(table(en.text, 'Requests received in the period, by type and channel, and what became of them').at(-1)).toEqual(['All requests', '10', '4', '1', '1', '2', '10.0', '40.0']);
  });

  it('answers an invalid period with a 400 page naming it', async () => {
    const b = await logIn('dpo@shop.example');
    for (const q of ['from=2026-02-30', 'from=2026-07-01&to=2026-06-01', 'year=2026&from=2026-01-01', 'year=26', 'bogus=1', 'from=1900-01-01', 'from=2000-01-01&to=2026-01-01']) {
      const r = await b.get(`/admin/reports?${q}`);
      expect(r.status, q).toBe(400);
      expect(r.text, q).toContain('Cette période n’est pas valide');
    }
    expect((await b.get('/admin/reports/annual?year=abcd')).status).toBe(400);
  });

  it('lets a viewer read the reports, and sends a visitor to the login page', async () => {
    await seedRequests();
    const viewer = await logIn('viewer@shop.example');
    const r = await viewer.get('/admin/reports?from=2026-03-01&to=2026-06-30');
    expect(r.status).toBe(200);
    expect(table(r.text, OUTCOMES).at(-1)![1]).toBe('9');
    expect((await viewer.get('/admin/reports/annual?year=2026')).status).toBe(200);
    const anon = await new Browser(app).get('/admin/reports?year=2026');
    expect(anon.status).toBe(303);
    expect(anon.location).toBe('/admin/login?next=%2Fadmin%2Freports%3Fyear%3D2026');
  });
});

describe('report periods and percentiles', () => {
  const now = Date.parse('2026-07-20T10:00:00Z');
  const zone = 'Europe/Paris';

  it('reads a period as calendar days in the controller’s zone, both included; by default the last 12 months', () => {
    expect(parseReportQuery({}, now, zone)).toEqual({ from: '2025-07-21', to: '2026-07-20', start: Date.parse('2025-07-20T22:00:00Z'), end: Date.parse('2026-07-20T22:00:00Z') });
    expect(parseReportQuery({ year: '2026' }, now, zone)).toEqual({ from: '2026-01-01', to: '2026-12-31', start: Date.parse('2025-12-31T23:00:00Z'), end: Date.parse('2026-12-31T23:00:00Z'), year: 2026 });
    expect(parseReportQuery({ from: '2026-01-01', to: '' }, now, zone)).toMatchObject({ from: '2026-01-01', to: '2026-07-20' });
    expect(parseReportQuery({ to: '2024-02-29' }, now, zone)).toMatchObject({ from: '2023-03-01', to: '2024-02-29' });
    // A day that is 23 hours long (spring forward) is still one day.
    const dst = parseReportQuery({ from: '2026-03-29', to: '2026-03-29' }, now, zone);
    expect(dst.end - dst.start).toBe(23 * 3_600_000);
    expect(() => parseReportQuery({ to: '2026-13-01' }, now, zone)).toThrow(/invalid report period: to/);
    expect(() => parseReportQuery({ year: '2026', to: '2026-12-01' }, now, zone)).toThrow(/year, with from or to/);
  });

  it('takes nearest-rank percentiles of a histogram in tenths of a day', () => {
    const h = new Map([
      [30, 1],
      [100, 1],
      [400, 1],
    ]);
    expect([histogramRank(h, 0.5), histogramRank(h, 0.9)]).toEqual([10, 40]);
    expect(histogramRank(new Map([[10, 2], [20, 2]]), 0.5)).toBe(1); // the lower middle: a duration some request took
    expect(histogramRank(new Map(), 0.5)).toBeNull();
  });

  it('rounds a duration to the tenth of a day it is shown at', async () => {
    const id = await open('access', 'web', true);
    deps.clock.advance(2 * DAY + 23 * 3_600_000 + 3 * 60_000); // 2.96 days
    await new Engine(deps, { random: () => 0.5 }).runUntilIdle();
    expect((await deps.db.requests.get(id))!.status).toBe('completed');
    const page = await (await logIn('viewer@shop.example')).get('/admin/reports?from=2026-03-01&to=2026-03-31');
    expect(table(page.text, OUTCOMES)[1]).toEqual(['Accès — Web', '1', '1', '0', '0', '0', '3,0', '3,0']);
  });
});
