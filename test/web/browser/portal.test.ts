/**
 * The privacy portal in a real browser (Debian's chromium through playwright-core, ./kit.ts):
 * sign-in with the code read from the SMTP receiver and pasted, a consent change, the receipt
 * download and its signature, the language switch both ways, keyboard-only use, an erasure
 * asked with the keyboard alone and followed to completion on its status page, and the due date
 * shown in the browser's time zone (tz.js).
 */
import { readFile } from 'node:fs/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { compactVerify, importJWK } from 'jose';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { call } from '../../helpers/http.js';
import { ALICE, syntheticSilos } from '../../helpers/synthetic-connector.js';
import { Engine } from '../../../src/engine/worker.js';
import { checkReceipt } from '../../../src/audit/verify.js';
import { browserSkipReason, focusVisible, launchBrowser, mailedCode, openPage, screenshot, servePortal, signInThroughPages, tabTo, type Served } from './kit.js';

const skip = browserSkipReason();
let browser: Browser;
let served: Served | undefined;
let context: BrowserContext | undefined;
let errors: string[] = [];

beforeAll(async () => {
  if (!skip) browser = await launchBrowser();
});
afterAll(async () => browser?.close());
afterEach(async () => {
  await context?.close();
  context = undefined;
  await served?.close();
  served = undefined;
  // No page logged an error (a CSP violation, a failed asset, a script error).
  expect(errors).toEqual([]);
});

const history = async (email: string) =>
  (await call(served!.kit.app, 'GET', `/v1/subjects/email:${encodeURIComponent(email)}/consents/history`, { headers: served!.kit.auth })).json as { events: Record<string, any>[] };

async function start(opts: Parameters<typeof openPage>[1] = {}): Promise<Page> {
  served = await servePortal();
  const opened = await openPage(browser, opts);
  context = opened.context;
  errors = opened.errors;
  return opened.page;
}


/** Does `act` (a click, a key) and waits for the form's POST answer and the page it leads to. */
async function submit(page: Page, act: () => Promise<unknown>): Promise<void> {
  await Promise.all([page.waitForResponse((r) => r.request().method() === 'POST'), act()]);
  await page.waitForLoadState();
}


/** Signs in with the keyboard alone: the email, Enter, the mailed code, Enter. */
async function signInByKeyboard(page: Page, email: string, checkFocus?: () => Promise<boolean>): Promise<void> {
  await tabTo(page, '#email');
  if (checkFocus) expect(await checkFocus()).toBe(true);
  await page.keyboard.type(email);
  await page.keyboard.press('Enter');
  await page.waitForURL('**/privacy/code');
  await tabTo(page, '#code');
  await page.keyboard.type(await mailedCode(served!, 1));
  await page.keyboard.press('Enter');
  await page.waitForURL('**/privacy/consents');
}

describe.skipIf(skip)('privacy portal in chromium', () => {
  it('signs in with the mailed code pasted into the page, changes a consent and downloads its signed receipt', async () => {
    const page = await start();
    await context!.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: served!.base });
    await page.goto(`${served!.base}/privacy`);
    expect(await page.getAttribute('html', 'lang')).toBe('fr');
    await screenshot(page, 'sign-in-fr');
    await page.getByLabel('Adresse e-mail').fill('alice@example.com');
    await page.getByRole('button', { name: 'Recevoir un code', exact: true }).click();
    await page.waitForURL('**/privacy/code');
    await screenshot(page, 'code-fr');

    // The code as a person copies it from the mail: pasted with Ctrl+V, spaces and all.
    const code = await mailedCode(served!, 1);
    await page.evaluate((text) => navigator.clipboard.writeText(text), `${code.slice(0, 3)} ${code.slice(3)}`);
    await page.getByLabel('Code à 6 chiffres').focus();
    await page.keyboard.press('ControlOrMeta+V');
    expect(await page.getByLabel('Code à 6 chiffres').inputValue()).toBe(`${code.slice(0, 3)} ${code.slice(3)}`);
    await page.getByRole('button', { name: 'Se connecter', exact: true }).click();
    await page.waitForURL('**/privacy/consents');
    await expect(page.getByRole('heading', { level: 1 }).textContent()).resolves.toBe('Vos choix de consentement');
    await screenshot(page, 'consents-fr');

    const newsletter = page.getByRole('group', { name: 'Lettre d’information', exact: true });
    await newsletter.getByRole('button', { name: 'Accepter' }).click();
    await page.waitForURL('**/privacy/consents?saved=newsletter**');
    await expect(page.getByRole('status').first().textContent()).resolves.toContain('Votre choix pour « Lettre d’information » est enregistré.');
    await expect(newsletter.getByRole('button', { name: 'Accepter' }).getAttribute('aria-pressed')).resolves.toBe('true');
    await screenshot(page, 'consents-fr-saved');

    const [download] = await Promise.all([page.waitForEvent('download'), newsletter.getByRole('link', { name: 'Télécharger le reçu signé de ce choix' }).click()]);
    expect(download.suggestedFilename()).toMatch(/^consent-receipt-evt_.+\.jwt$/);
    const jws = await readFile((await download.path())!, 'utf8');
    const jwks = (await call(served!.kit.app, 'GET', '/.well-known/jwks.json')).json as { keys: any[] };
    const verified = await compactVerify(jws, await importJWK(jwks.keys[0], 'EdDSA'));
    expect(JSON.parse(new TextDecoder().decode(verified.payload)).services[0].purposes[0]).toMatchObject({ decision: 'granted', channel: 'web' });

    // Withdrawing takes the same one click (a minute later: the history orders by time).
    served!.kit.deps.clock.advance(60_000);
    await submit(page, () => newsletter.getByRole('button', { name: 'Retirer mon consentement' }).click());
    await expect(newsletter.getByRole('button', { name: 'Accepter' }).getAttribute('aria-pressed')).resolves.toBe('false');
    expect((await history('alice@example.com')).events.map((e) => [e.decision, e.source.channel])).toEqual([
      ['granted', 'web'],
      ['withdrawn', 'web'],
    ]);

    await page.getByRole('button', { name: 'Se déconnecter' }).click();
    await page.waitForURL('**/privacy?m=signedOut');
    await expect(page.getByRole('status').textContent()).resolves.toBe('Vous êtes déconnecté.');
  });

  it('switches the language FR → EN → FR on any page and keeps it', async () => {
    const page = await start({ locale: 'fr-FR' });
    await signInThroughPages(served!, page, 'bob@example.com');
    expect(await page.getAttribute('html', 'lang')).toBe('fr');
    await page.getByRole('link', { name: 'Read in English' }).click();
    await page.waitForURL('**/privacy/consents');
    expect(await page.getAttribute('html', 'lang')).toBe('en');
    await expect(page.getByRole('heading', { level: 1 }).textContent()).resolves.toBe('Your consent choices');
    await expect(page.getByRole('group', { name: 'Newsletter', exact: true }).getByRole('button', { name: 'Accept' }).count()).resolves.toBe(1);
    await screenshot(page, 'consents-en');
    // Kept across pages (the cookie), then switched back.
    await page.getByRole('link', { name: 'Accessibility: partially compliant' }).click();
    await page.waitForURL('**/privacy/accessibility');
    await expect(page.getByRole('heading', { level: 1 }).textContent()).resolves.toBe('Accessibility statement');
    await screenshot(page, 'accessibility-en');
    await page.getByRole('link', { name: 'Lire en français' }).click();
    await page.waitForURL('**/privacy/accessibility');
    expect(await page.getAttribute('html', 'lang')).toBe('fr');
    await expect(page.getByRole('heading', { level: 1 }).textContent()).resolves.toBe('Déclaration d’accessibilité');
  });

  it('starts in English for an English browser', async () => {
    const page = await start({ locale: 'en-GB' });
    await page.goto(`${served!.base}/privacy`);
    expect(await page.getAttribute('html', 'lang')).toBe('en');
    await expect(page.getByRole('heading', { level: 1 }).textContent()).resolves.toBe('Manage your privacy choices');
    await screenshot(page, 'sign-in-en');
  });

  it('asks for an erasure with the keyboard alone, from /privacy to the submitted request in under 60 s, and follows it to completion', async () => {
    const page = await start();
    served!.kit.deps.connectors = syntheticSilos([ALICE]).all;
    const t0 = Date.now();
    await page.goto(`${served!.base}/privacy`);
    await signInByKeyboard(page, ALICE.email);
    await tabTo(page, 'a[href="/privacy/requests"]');
    await page.keyboard.press('Enter');
    await page.waitForURL('**/privacy/requests');
    await tabTo(page, 'a[href="/privacy/requests/erasure"]');
    expect(await focusVisible(page)).toBe(true);
    await page.keyboard.press('Enter');
    await page.waitForURL('**/privacy/requests/erasure');
    await expect(page.getByRole('region', { name: 'Synthetic shop' }).textContent()).resolves.toContain('1 enregistrement gardé, parce que : legal obligation');
    await tabTo(page, 'button[type=submit]:not(.link)');
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('Confirmer : effacer mes données');
    await page.keyboard.press('Enter');
    await page.waitForURL('**/privacy/requests/req_*?m=opened');
    const elapsed = Date.now() - t0;
    expect(elapsed).toBeLessThan(60_000);
    await screenshot(page, 'request-erasure-received');
    await expect(page.getByRole('heading', { level: 1 }).textContent()).resolves.toBe('Effacement de mes données');
    await expect(page.locator('main').textContent()).resolves.toContain('Votre identité est vérifiée');

    await new Engine(served!.kit.deps, { random: () => 0.5, backoffBaseMs: 1000 }).runUntilIdle();
    await page.reload();
    const main = (await page.locator('main').textContent())!;
    expect(main).toContain('Terminée le 1 mars 2026.');
    expect(main).toContain('Synthetic shop : terminé');
    expect(main).toContain('Vos données ont été effacées');
    expect(main).not.toContain('Nous avons bien reçu votre demande'); // the redirect's notice, stale once over
    await expect(page.getByRole('link', { name: 'Adresser une réclamation à la CNIL' }).getAttribute('href')).resolves.toBe('https://www.cnil.fr/fr/plaintes');
    await screenshot(page, 'request-erasure-completed');
    // The request's signed receipt: downloaded, and it verifies offline (src/audit/verify.ts).
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name: 'Télécharger le reçu signé de cette demande' }).click()]);
    expect(download.suggestedFilename()).toMatch(/^request-receipt-req_[0-9a-z]+\.jws$/);
    const receipt = await readFile((await download.path())!, 'utf8');
    const jwks = (await call(served!.kit.app, 'GET', '/.well-known/jwks.json')).json as any;
    const checked = await checkReceipt(receipt, jwks, (await served!.kit.deps.treeHeads.current()).log);
    expect(checked.ok && checked.value.request).toMatchObject({ type: 'erasure', status: 'completed' });
    console.info(`erasure asked in the browser ${elapsed} ms after opening /privacy`);
  });

  it('works with the keyboard alone: sign-in and a consent change with Tab and Enter, focus always visible', async () => {
    const page = await start();
    await page.goto(`${served!.base}/privacy`);
    // The first Tab reaches the skip link, which leads to the main content.
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('Aller au contenu principal');
    expect(await focusVisible(page)).toBe(true);
    await signInByKeyboard(page, 'carol@example.com', () => focusVisible(page));
    await tabTo(page, 'button[name=decision][value=granted]');
    expect(await focusVisible(page)).toBe(true);
    await screenshot(page, 'consents-keyboard-focus');
    const purpose = await page.evaluate(() => (document.activeElement as HTMLButtonElement).form!.querySelector<HTMLInputElement>('input[name=purpose]')!.value);
    await page.keyboard.press('Enter');
    await page.waitForURL(`**/privacy/consents?saved=${purpose}**`);
    // The refusal of that purpose is reachable the same way (Shift+Tab back from accept).
    await tabTo(page, `#purpose-${purpose} button[value=granted]`);
    await page.keyboard.press('Shift+Tab');
    expect(await page.evaluate(() => (document.activeElement as HTMLButtonElement).value)).toBe('withdrawn');
    served!.kit.deps.clock.advance(60_000);
    await submit(page, () => page.keyboard.press('Enter'));
    expect((await history('carol@example.com')).events.map((e) => [e.purpose, e.decision])).toEqual([
      [purpose, 'granted'],
      [purpose, 'withdrawn'],
    ]);
  });

  it('shows the due date in the browser’s time zone, reloading a dated page once to learn it', async () => {
    const page = await start({ timezoneId: 'America/New_York' });
    served!.kit.deps.connectors = syntheticSilos([ALICE]).all;
    await signInThroughPages(served!, page, ALICE.email); // /privacy already set the cookie: no reload needed later
    const tz = (await context!.cookies()).find((c) => c.name === 'tz');
    expect(tz).toMatchObject({ value: 'America/New_York', path: '/privacy', sameSite: 'Lax', httpOnly: false });
    expect(tz!.expires * 1000 - Date.now()).toBeGreaterThan(364 * 86400_000);
    await page.goto(`${served!.base}/privacy/requests`);
    await submit(page, () => page.getByRole('button', { name: 'Demander l’accès' }).click());
    await page.waitForURL('**/privacy/requests/req_*?m=opened');
    // 1 April 2026, 23:59 in Paris is 17:59 in New York.
    await expect(page.locator('main').textContent()).resolves.toContain('Nous vous répondrons au plus tard le 1 avril 2026 à 17:59 (fuseau horaire America/New_York).');
    await screenshot(page, 'request-due-new-york');

    // Without the cookie, the dated page comes in Paris time, then once (no loop) in New York's.
    const status = page.url().replace(/\?.*$/, '');
    await context!.clearCookies({ name: 'tz' });
    const loads: string[] = [];
    page.on('request', (r) => {
      if (r.isNavigationRequest()) loads.push(r.url());
    });
    await page.goto(status, { waitUntil: 'commit' });
    await page.waitForFunction(() => document.querySelector('main')?.textContent?.includes('America/New_York'));
    await page.waitForLoadState('load');
    await page.waitForTimeout(300);
    expect(loads).toEqual([status, status]);
  });
});
