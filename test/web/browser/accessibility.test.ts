/**
 * Every portal page in chromium, in French and English, on a desktop and on a 360-px phone:
 * axe-core (WCAG 2.1 A/AA and best practices) finds nothing serious or critical, no CSP
 * violation is logged, nothing scrolls sideways; and the consent centre's refuse/withdraw and
 * accept controls are drawn exactly alike (size, weight, font), refusal first.
 * Screenshots: test-output/screenshots/<lang>-<width>-<page>.png.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { ALICE, syntheticSilos } from '../../helpers/synthetic-connector.js';
import { browserSkipReason, horizontalOverflow, launchBrowser, mailedCode, openPage, screenshot, seriousViolations, servePortal, signInThroughPages, type Served } from './kit.js';

const skip = browserSkipReason();
let browser: Browser;
let served: Served | undefined;
let context: BrowserContext | undefined;

beforeAll(async () => {
  if (!skip) browser = await launchBrowser();
});
afterAll(async () => browser?.close());
afterEach(async () => {
  await context?.close();
  context = undefined;
  await served?.close();
  served = undefined;
});

async function start(width: number, lang: 'fr' | 'en'): Promise<{ page: Page; errors: string[] }> {
  served = await servePortal();
  served.kit.deps.connectors = syntheticSilos([ALICE]).all;
  const opened = await openPage(browser, { width, height: width < 600 ? 740 : 800, locale: lang === 'fr' ? 'fr-FR' : 'en-US' });
  context = opened.context;
  return opened;
}

/**
 * Walks through every page the portal has — sign-in (blank, with an error, with a notice), code
 * (blank, with an error, resent), the consent centre (fresh, after a choice, under GPC), the
 * requests (the list, the erasure's confirmation, a request's status), the accessibility
 * statement, a 404 — calling `visit` on each.
 */
async function everyPage(page: Page, lang: 'fr' | 'en', visit: (name: string) => Promise<void>): Promise<void> {
  const base = served!.base;
  const label = (fr: string, en: string) => (lang === 'fr' ? fr : en);
  await page.goto(`${base}/privacy`);
  await visit('sign-in');
  await page.getByLabel(label('Adresse e-mail', 'Email address')).fill('not-an-email');
  await page.getByRole('button', { name: label('Recevoir un code', 'Send me a code'), exact: true }).click();
  await page.waitForLoadState();
  await visit('sign-in-error');
  await page.getByLabel(label('Adresse e-mail', 'Email address')).fill(ALICE.email);
  await page.getByRole('button', { name: label('Recevoir un code', 'Send me a code'), exact: true }).click();
  await page.waitForURL('**/privacy/code');
  await visit('code');
  await page.getByLabel(label('Code à 6 chiffres', '6-digit code')).fill('12');
  await page.getByRole('button', { name: label('Se connecter', 'Sign in'), exact: true }).click();
  await page.waitForLoadState();
  await visit('code-error');
  served!.kit.deps.clock.advance(61_000); // past the resend throttle
  await page.getByRole('button', { name: label('Recevoir un nouveau code', 'Send me a new code') }).click();
  await page.waitForURL('**/privacy/code?m=resent');
  await visit('code-resent');
  await page.getByLabel(label('Code à 6 chiffres', '6-digit code')).fill(await mailedCode(served!, 2));
  await page.getByRole('button', { name: label('Se connecter', 'Sign in'), exact: true }).click();
  await page.waitForURL('**/privacy/consents');
  await visit('consents');
  await page.locator('#purpose-newsletter button[value=granted]').click();
  await page.waitForURL('**/privacy/consents?saved=newsletter**');
  await visit('consents-saved');
  await page.setExtraHTTPHeaders({ 'sec-gpc': '1' });
  await page.goto(`${base}/privacy/consents`);
  await page.locator('#purpose-targeted-ads button[value=granted]').click();
  await page.waitForURL('**/privacy/consents?saved=targeted-ads&gpc=1**');
  await visit('consents-gpc');
  await page.setExtraHTTPHeaders({});
  await page.getByRole('link', { name: label('Vos demandes', 'Your requests') }).click();
  await page.waitForURL('**/privacy/requests');
  await visit('requests');
  await page.getByRole('link', { name: label('Voir ce qui serait effacé', 'See what would be erased') }).click();
  await page.waitForURL('**/privacy/requests/erasure');
  await visit('erasure-confirm');
  await page.getByRole('button', { name: label('Confirmer : effacer mes données', 'Confirm: erase my data') }).click();
  await page.waitForURL('**/privacy/requests/req_*?m=opened');
  await visit('request-status');
  await page.goto(`${base}/privacy/accessibility`);
  await visit('accessibility');
  await page.goto(`${base}/privacy/nowhere`);
  await visit('not-found');
  await page.getByRole('button', { name: label('Se déconnecter', 'Sign out') }).click();
  await page.waitForURL('**/privacy?m=signedOut');
  await visit('signed-out');
}

const cspViolations = (errors: string[]) => errors.filter((e) => /Content Security Policy/i.test(e));

describe.skipIf(skip)('portal accessibility in chromium', () => {
  for (const lang of ['fr', 'en'] as const) {
    it(`has no serious or critical axe finding on any page (${lang}, desktop)`, async () => {
      const { page, errors } = await start(1024, lang);
      const found: Record<string, unknown> = {};
      const seen: string[] = [];
      await everyPage(page, lang, async (name) => {
        seen.push(name);
        expect(await page.getAttribute('html', 'lang'), name).toBe(lang);
        await screenshot(page, `${lang}-1024-${name}`);
        const v = await seriousViolations(page);
        if (v.length) found[name] = v;
      });
      expect(seen).toHaveLength(14);
      expect(found).toEqual({});
      expect(cspViolations(errors)).toEqual([]);
    });

    it(`fits a 360-px phone without sideways scrolling, and passes axe there (${lang})`, async () => {
      const { page, errors } = await start(360, lang);
      const wide: Record<string, unknown> = {};
      const found: Record<string, unknown> = {};
      await everyPage(page, lang, async (name) => {
        await screenshot(page, `${lang}-360-${name}`);
        const o = await horizontalOverflow(page);
        if (o.scrollWidth > 360) wide[name] = o;
        const v = await seriousViolations(page);
        if (v.length) found[name] = v;
      });
      expect(wide).toEqual({});
      expect(found).toEqual({});
      expect(cspViolations(errors)).toEqual([]);
    });
  }

  it('would catch a violation: axe runs under the page’s CSP and reports a field without its label', async () => {
    const { page } = await start(1024, 'fr');
    await page.goto(`${served!.base}/privacy`);
    await page.evaluate(() => document.querySelector('label[for=email]')!.remove());
    expect((await seriousViolations(page)).map((v) => v.id)).toContain('label');
  });

  it('draws refuse/withdraw and accept alike: same size, weight and font, refusal first — in every state and width', async () => {
    const { page } = await start(1024, 'fr');
    await signInThroughPages(served!, page, 'erin@example.com');
    // newsletter accepted (its refusal becomes "Withdraw my consent", a longer label); ads untouched.
    await page.locator('#purpose-newsletter button[value=granted]').click();
    await page.waitForURL('**/privacy/consents?saved=newsletter**');
    for (const width of [1024, 360]) {
      await page.setViewportSize({ width, height: 800 });
      for (const purpose of ['newsletter', 'targeted-ads']) {
        const pair = await page.evaluate((id) => {
          const [no, yes] = [...document.querySelectorAll<HTMLButtonElement>(`#purpose-${id} .choices button`)];
          const look = (b: HTMLButtonElement) => {
            const r = b.getBoundingClientRect();
            const s = getComputedStyle(b);
            return {
              value: b.value,
              x: r.x,
              y: r.y,
              width: r.width,
              height: r.height,
              style: [s.fontWeight, s.fontSize, s.fontFamily, s.borderTopWidth, s.borderTopStyle, s.paddingTop, s.paddingLeft, s.borderRadius, s.textDecorationLine].join(' | '),
            };
          };
          return [look(no!), look(yes!)];
        }, purpose);
        const [no, yes] = pair as [(typeof pair)[0], (typeof pair)[0]];
        expect(no.value, `${purpose} @${width}`).toMatch(/^(refused|withdrawn)$/);
        expect(yes.value).toBe('granted');
        expect(Math.abs(no.width - yes.width), `${purpose} @${width} widths ${no.width} / ${yes.width}`).toBeLessThan(0.5);
        expect(Math.abs(no.height - yes.height), `${purpose} @${width} heights ${no.height} / ${yes.height}`).toBeLessThan(0.5);
        expect(no.style).toBe(yes.style);
        // Refusal comes first: left of accept on one row, above it when stacked.
        expect(no.x < yes.x || no.y < yes.y).toBe(true);
      }
      await screenshot(page, `fr-${width}-consents-choices`);
    }
  });
});
