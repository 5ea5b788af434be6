/** Every portal page: security headers, <html lang>, complete FR/EN catalogues, the language switch, the demo mailbox gate. */
import { afterEach, describe, expect, it } from 'vitest';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Browser, codeOf, portalApp, signIn, type PortalKit } from './helpers.js';
import { CATALOGUES, pickLang, type MessageKey } from '../../src/web/i18n.js';
import { safeNext } from '../../src/web/portal-routes.js';
import { contrast, palette } from '../../src/web/brand.js';
import { createApp } from '../../src/app.js';
import { createTestDeps } from '../helpers/deps.js';
import { loadConfig } from '../../src/config.js';

let kit: PortalKit;
afterEach(async () => kit?.close());

const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";
const KEYS = Object.keys(CATALOGUES.en) as MessageKey[];

function assertPage(page: { status: number; headers: Headers; text: string }, lang: string) {
  expect(page.headers.get('content-security-policy')).toBe(CSP);
  expect(page.headers.get('x-content-type-options')).toBe('nosniff');
  // Under no-referrer a browser's form POST says `Origin: null`, which the CSRF check refuses.
  expect(page.headers.get('referrer-policy')).toBe('same-origin');
  expect(page.text).not.toContain('content="no-referrer"');
  expect(page.headers.get('content-type')).toMatch(/^text\/html/);
  expect(page.text).toMatch(new RegExp(`^<!doctype html><html lang="${lang}">`));
  // One script, the tz.js file (./time-zone.test.ts), nothing inline; no inline style.
  expect(page.text.match(/<script\b[^>]*>/g)).toEqual([expect.stringMatching(/^<script src="\/privacy\/assets\/tz\.js" defer=""( data-zone="[A-Za-z_/]+")?>$/)]);
  expect(page.text).not.toMatch(/<script[^>]*>[^<]/);
  expect(page.text).not.toMatch(/style=/);
  expect(page.text).toContain('href="#main"'); // skip link
  expect(page.text).toMatch(/href="\/privacy\/lang\?to=(fr|en)&amp;next=/); // the switch
  // No raw message key on the page.
  for (const k of KEYS) expect(page.text, `raw key ${k}`).not.toContain(`>${k}<`);
  const prefixes = [...new Set(KEYS.map((k) => k.split('.')[0]))].join('|');
  expect(page.text).not.toMatch(new RegExp(`[>"](${prefixes})\\.[a-zA-Z.]+[<"]`));
}

describe('portal pages', () => {
  it('has FR and EN catalogues with the same keys, none empty, the same placeholders', () => {
    expect(Object.keys(CATALOGUES.fr).sort()).toEqual([...KEYS].sort());
    for (const k of KEYS) {
      expect(CATALOGUES.en[k].trim(), k).not.toBe('');
      expect(CATALOGUES.fr[k].trim(), k).not.toBe('');
      const ph = (s: string) => [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();
      expect(ph(CATALOGUES.fr[k]), k).toEqual(ph(CATALOGUES.en[k]));
    }
  });

  it('sends CSP, nosniff and <html lang> on every page, in both languages, without a raw key', async () => {
    kit = await portalApp();
    for (const lang of ['fr', 'en']) {
      const b = new Browser(kit.app);
      b.jar.set('lang', lang);
      for (const path of ['/privacy', '/privacy/accessibility', '/privacy/nowhere']) assertPage(await b.get(path), lang);
      await b.post('/privacy/sign-in', { email: `p-${lang}@example.com` });
      assertPage(await b.get('/privacy/code'), lang);
      assertPage(await b.post('/privacy/code', { code: '12' }), lang);
      assertPage(await b.post('/privacy/sign-in', { email: 'nope' }), lang);
      assertPage(await b.post('/privacy/sign-in', { email: 'x@example.com', csrf: 'bad' }), lang);
      await signIn(kit, `q-${lang}@example.com`, b);
      assertPage(await b.get('/privacy/consents'), lang);
      assertPage(await b.get('/privacy/consents', { 'sec-gpc': '1' }), lang);
      assertPage(await b.get('/privacy/requests'), lang);
      assertPage(await b.get('/privacy/requests/erasure'), lang);
      const opened = await b.post('/privacy/requests', { type: 'access' });
      assertPage(await b.follow(opened), lang);
      assertPage(await b.get('/privacy/requests/req_00000000000000000000000000'), lang);
      // A form body over the limit: the portal's page in the person's language, not the API's JSON.
      const huge = await b.post('/privacy/requests', { type: 'access', pad: 'x'.repeat(2 * 1024 * 1024) });
      expect(huge.status).toBe(413);
      assertPage(huge, lang);
      expect(huge.text).toContain(CATALOGUES[lang as 'fr' | 'en']['error.tooLarge'].slice(0, 20));
    }
    const css = await kit.app.request('/privacy/assets/portal.css');
    expect(css.headers.get('content-type')).toMatch(/^text\/css/);
    expect(css.headers.get('x-content-type-options')).toBe('nosniff');
  });

  it('picks the language from the cookie, then Accept-Language, then French; the switch sets the cookie', async () => {
    expect(pickLang(undefined, undefined)).toBe('fr');
    expect(pickLang(undefined, 'de-DE,en;q=0.8,fr;q=0.5')).toBe('en');
    expect(pickLang(undefined, 'fr-CA;q=0.9, en;q=0.1')).toBe('fr');
    expect(pickLang('en', 'fr')).toBe('en');
    expect(pickLang('xx', 'en')).toBe('en');
    kit = await portalApp();
    const b = new Browser(kit.app, { 'accept-language': 'en-US' });
    expect((await b.get('/privacy')).text).toContain('<html lang="en">');
    const sw = await b.get('/privacy/lang?to=fr&next=%2Fprivacy%2Faccessibility');
    expect(sw.status).toBe(303);
    expect(sw.location).toBe('/privacy/accessibility');
    expect(b.jar.get('lang')).toBe('fr');
    expect((await b.follow(sw)).text).toContain('Déclaration d’accessibilité');
  });

  it('never redirects off the portal through next=', () => {
    for (const bad of ['https://evil.example', '//evil.example', '/\\evil.example', '/privacy//evil.example', '/privacy/%2F%2Fevil', 'javascript:alert(1)', '/v1/audit', undefined]) {
      expect(safeNext(bad), String(bad)).toBe('/privacy');
    }
    expect(safeNext('/privacy/consents')).toBe('/privacy/consents');
  });

  it('keeps text readable whatever the configured colour', () => {
    for (const c of ['#ffff00', '#1f4fd1', '#000000', '#7fdbff']) {
      const p = palette(c);
      expect(contrast(p.primary, p.onPrimary)).toBeGreaterThanOrEqual(4.5);
      expect(contrast(p.primary, '#ffffff')).toBeGreaterThanOrEqual(4.5);
    }
  });

  it('takes branding from the config, and refuses javascript: links there', async () => {
    expect(() => loadConfig({ OUBLI_PRIVACY_POLICY_URL: 'javascript:alert(1)' })).toThrow(/OUBLI_PRIVACY_POLICY_URL/);
    expect(() => loadConfig({ OUBLI_COMPANY_NAME: 'A\r\nBcc: x@y.z' })).toThrow(/OUBLI_COMPANY_NAME/);
    expect(() => loadConfig({ OUBLI_MAIL_FROM: 'a@b.c\r\nBcc: x@y.z' })).toThrow(/OUBLI_MAIL_FROM/);
    kit = await portalApp({
      env: { OUBLI_COMPANY_NAME: 'Shop & Co', OUBLI_COMPANY_LOGO_URL: 'https://cdn.shop.example/logo.svg', OUBLI_PRIVACY_POLICY_URL: 'https://shop.example/privacy', OUBLI_CONTACT_URL: 'mailto:dpo@shop.example', OUBLI_PRIMARY_COLOR: '#8a1538' },
    });
    const page = await new Browser(kit.app).get('/privacy');
    expect(page.text).toContain('Shop &amp; Co');
    expect(page.text).toContain('src="https://cdn.shop.example/logo.svg"');
    expect(page.text).toContain('href="https://shop.example/privacy"');
    expect(page.text).toContain('href="mailto:dpo@shop.example"');
    expect(page.headers.get('content-security-policy')).toContain("img-src 'self' data: https://cdn.shop.example");
    expect(await (await kit.app.request('/privacy/assets/portal.css')).text()).toContain('--primary:#8a1538');
  });

  it('shows /dev/mailbox under the demo only, and reads no file outside the mailbox', async () => {
    const deps = await createTestDeps();
    expect((await createApp(deps).request('/dev/mailbox')).status).toBe(404);
    deps.demo = true;
    const app = createApp(deps);
    expect(deps.mailer.mailbox).toBeTruthy();
    const b = new Browser(app);
    await b.get('/privacy');
    expect((await b.post('/privacy/sign-in', { email: 'demo@example.com' })).status).toBe(303);
    const list = await b.get('/dev/mailbox');
    expect(list.status).toBe(200);
    // A browser sends /dev/mailbox no /privacy cookie: the page must not mint the portal's
    // browser cookie there, or it replaces the one the open code form was made with.
    const fresh = await app.request('/dev/mailbox');
    expect(fresh.headers.getSetCookie().filter((c) => c.startsWith('oubli_privacy_browser='))).toEqual([]);
    const name = /href="\/dev\/mailbox\/([^"]+)"/.exec(list.text)![1]!;
    const mail = await b.get(`/dev/mailbox/${name}`);
    expect(mail.text).toMatch(/Voici votre code pour vous connecter à l’espace vie privée de oubli :\s+\d{6}/);
    mkdirSync(join(deps.config.dataDir, 'secrets'), { recursive: true });
    writeFileSync(join(deps.config.dataDir, 'x.eml'), 'secret');
    for (const p of ['/dev/mailbox/..%2Fx.eml', '/dev/mailbox/%2E%2E%2Fx.eml', '/dev/mailbox/..%2Fsecrets%2Fmaster.key']) expect((await b.get(p)).status).toBe(404);
    // A production config with SMTP: no mailbox even if the flag were set.
    const smtpDeps = await createTestDeps({ env: { OUBLI_SMTP_URL: 'smtp://127.0.0.1:1' } });
    smtpDeps.demo = true;
    expect((await createApp(smtpDeps).request('/dev/mailbox')).status).toBe(404);
    deps.mailer.close();
    smtpDeps.mailer.close();
  });
});
void codeOf;
