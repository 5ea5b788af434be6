/**
 * Dates in the person's time zone: the `tz` cookie set by tz.js changes the zone the portal's
 * dates are shown in (and named in, next to the due date); a hostile or unknown value falls back
 * to config.timeZone; tz.js itself is served as a script file and reloads a page at most once.
 */
import { runInNewContext } from 'node:vm';
import { afterEach, describe, expect, it } from 'vitest';
import { portalApp, signIn, type Browser, type PortalKit } from './helpers.js';
import { ALICE, syntheticSilos } from '../helpers/synthetic-connector.js';
import { TZ_SCRIPT, isTimeZone } from '../../src/web/time-zone.js';

let kit: PortalKit;
afterEach(async () => kit?.close());

/** Alice signed in, with an access request opened from the portal (received 1 March 2026, 09:00 UTC). */
async function aliceWithRequest(): Promise<{ b: Browser; id: string }> {
  kit = await portalApp();
  kit.deps.connectors = syntheticSilos([ALICE]).all;
  const b = await signIn(kit, ALICE.email);
  const r = await b.post('/privacy/requests', { type: 'access' });
  const id = /\/privacy\/requests\/(req_[0-9a-z]+)/.exec(r.location ?? '')?.[1];
  expect(id, r.location ?? r.text.slice(0, 300)).toBeDefined();
  return { b, id: id! };
}

describe('dates in the person’s time zone', () => {
  it('shows the due date, and the zone, in the zone of a valid tz cookie', async () => {
    const { b, id } = await aliceWithRequest();
    const paris = await b.get(`/privacy/requests/${id}`);
    // In the deployment's zone the deadline is the end of the day: the day alone.
    expect(paris.text).toContain('Nous vous répondrons au plus tard le 1 avril 2026 (fuseau horaire Europe/Paris).');
    expect(paris.text).toContain('<script src="/privacy/assets/tz.js" defer="" data-zone="Europe/Paris"></script>');

    // 1 April 2026, 23:59:59 in Paris (UTC+2) is 2 April, 06:59 in Tokyo: elsewhere, the time too.
    b.jar.set('tz', 'Asia/Tokyo');
    const tokyo = await b.get(`/privacy/requests/${id}`);
    expect(tokyo.text).toContain('Nous vous répondrons au plus tard le 2 avril 2026 à 06:59 (fuseau horaire Asia/Tokyo).');
    expect(tokyo.text).toContain('data-zone="Asia/Tokyo"');

    b.jar.set('tz', 'America/New_York');
    b.jar.set('lang', 'en');
    const ny = await b.get(`/privacy/requests/${id}`);
    expect(ny.text).toContain('We will answer by April 1, 2026 at 5:59 PM (America/New_York time) at the latest.');

    // 09:00 UTC on 1 March is still 28 February in Honolulu: the list and the status page say so.
    b.jar.set('tz', 'Pacific/Honolulu');
    expect((await b.get('/privacy/requests')).text).toContain('Received on February 28, 2026');
    expect((await b.get(`/privacy/requests/${id}`)).text).toContain('Received on February 28, 2026');
  });

  it('shows the consent page’s dates in the cookie’s zone', async () => {
    kit = await portalApp();
    const b = await signIn(kit, ALICE.email);
    await b.post('/privacy/consents', { purpose: 'newsletter', version: '1', decision: 'granted' });
    expect((await b.get('/privacy/consents')).text).toContain('accepté le 1 mars 2026 à 10:00');
    b.jar.set('tz', 'Asia/Tokyo');
    expect((await b.get('/privacy/consents')).text).toContain('accepté le 1 mars 2026 à 18:00');
  });

  it('falls back to config.timeZone for a value too long, a path, markup or an unknown zone', async () => {
    const { b, id } = await aliceWithRequest();
    const hostile = ['Europe/Paris' + '/x'.repeat(30), '../../etc/passwd', 'Europe/../Paris', '<script>alert(1)</script>', '"><img src=x>', 'Mars/Olympus_Mons', 'Europe%2F..%2FParis', '%E0%A4%A', ' '];
    for (const v of hostile) {
      b.jar.set('tz', v);
      const page = await b.get(`/privacy/requests/${id}`);
      expect(page.status, v).toBe(200);
      expect(page.text, v).toContain('au plus tard le 1 avril 2026 (fuseau horaire Europe/Paris).');
      expect(page.text, v).toContain('data-zone="Europe/Paris"');
      expect(page.text, v).not.toMatch(/<img src=x|alert\(1\)|etc\/passwd|Olympus/);
    }
  });

  it('accepts IANA names only in the cookie’s shape', () => {
    for (const ok of ['Europe/Paris', 'America/Argentina/Buenos_Aires', 'UTC', 'Etc/GMT+5', 'America/Port-au-Prince']) expect(isTimeZone(ok), ok).toBe(true);
    for (const bad of [undefined, '', 'Nowhere/City', 'Europe/Paris ', 'Europe\\Paris', 'a'.repeat(65), 'Europe/Paris;', 'Europe/Paris\n']) expect(isTimeZone(bad), String(bad)).toBe(false);
  });

  it('marks only GET pages with dates as reloadable by tz.js', async () => {
    const { b } = await aliceWithRequest();
    // A page without dates, and a page answering a POST (a reload would send the form again).
    expect((await b.get('/privacy/accessibility')).text).toContain('<script src="/privacy/assets/tz.js" defer=""></script>');
    const refused = await b.post('/privacy/requests', { type: 'nope' });
    expect(refused.status).toBe(400);
    expect(refused.text).toContain('<script src="/privacy/assets/tz.js" defer=""></script>');
    expect((await b.get('/privacy/requests')).text).toContain('<script src="/privacy/assets/tz.js" defer="" data-zone="Europe/Paris"></script>');
  });

  it('serves tz.js as a cacheable script, nosniff, under the portal’s CSP', async () => {
    kit = await portalApp();
    const res = await kit.app.request('/privacy/assets/tz.js');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('cache-control')).toBe('public, max-age=3600');
    expect(res.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(await res.text()).toBe(TZ_SCRIPT);
  });
});

/** Runs tz.js against a fake page: the browser's zone, its cookie jar, the page's data-zone. */
function runScript(opts: { zone: string; cookie?: string; dataZone?: string | null; cookiesRefused?: boolean; https?: boolean }) {
  let jar = opts.cookie ?? '';
  const written: string[] = [];
  let reloads = 0;
  const document = {
    get cookie() {
      return jar;
    },
    set cookie(v: string) {
      written.push(v);
      if (!opts.cookiesRefused) jar = v.split(';')[0]!;
    },
    currentScript: { getAttribute: (name: string) => (name === 'data-zone' ? (opts.dataZone ?? null) : null) },
  };
  const Intl = { DateTimeFormat: () => ({ resolvedOptions: () => ({ timeZone: opts.zone }) }) };
  const location = { protocol: opts.https ? 'https:' : 'http:', reload: () => reloads++ };
  runInNewContext(TZ_SCRIPT, { document, Intl, location });
  return { written, reloads, jar };
}

describe('tz.js', () => {
  it('sets the tz cookie for the portal for a year, and reloads a page whose dates were in another zone', () => {
    const r = runScript({ zone: 'America/New_York', dataZone: 'Europe/Paris' });
    expect(r.written).toEqual(['tz=America/New_York; Path=/privacy; Max-Age=31536000; SameSite=Lax']);
    expect(r.reloads).toBe(1);
    expect(runScript({ zone: 'America/New_York', dataZone: 'Europe/Paris', https: true }).written[0]).toMatch(/; Secure$/);
    // The page after the reload: the cookie holds the zone, nothing more happens.
    expect(runScript({ zone: 'America/New_York', cookie: r.jar, dataZone: 'Europe/Paris' })).toMatchObject({ written: [], reloads: 0 });
  });

  it('changes a cookie of another zone (the person travelled)', () => {
    expect(runScript({ zone: 'Asia/Tokyo', cookie: 'lang=fr; tz=America/New_York', dataZone: 'America/New_York' })).toMatchObject({ reloads: 1, jar: 'tz=Asia/Tokyo' });
  });

  it('never loops: no reload when cookies are refused, when the page shows no date or already the zone', () => {
    expect(runScript({ zone: 'America/New_York', dataZone: 'Europe/Paris', cookiesRefused: true }).reloads).toBe(0);
    expect(runScript({ zone: 'America/New_York', dataZone: null })).toMatchObject({ reloads: 0, jar: 'tz=America/New_York' });
    expect(runScript({ zone: 'Europe/Paris', dataZone: 'Europe/Paris' })).toMatchObject({ reloads: 0, jar: 'tz=Europe/Paris' });
  });

  it('writes nothing for a zone the server would refuse the shape of', () => {
    expect(runScript({ zone: 'Bad zone;', dataZone: 'Europe/Paris' })).toMatchObject({ written: [], reloads: 0 });
    expect(runScript({ zone: '', dataZone: 'Europe/Paris' })).toMatchObject({ written: [], reloads: 0 });
  });
});
