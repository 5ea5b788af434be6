/**
 * The DPO's dashboard in chromium: the person asks for an erasure on the portal, the DPO logs in,
 * finds it in the queue, previews and approves it, sees it complete and checks its receipt's
 * proofs in the page; a viewer is offered no action and refused the one posted anyway; the queue
 * works with the keyboard alone; every page passes axe-core (nothing serious or critical) on a
 * desktop and a 360-px phone without sideways scrolling.
 * Screenshots: test-output/screenshots/admin-*.png.
 */
import { readFile } from 'node:fs/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { checkReceipt } from '../../../src/audit/verify.js';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { ALICE, syntheticSilos } from '../../helpers/synthetic-connector.js';
import { Engine } from '../../../src/engine/worker.js';
import { createUser } from '../../../src/auth/users.js';
import { systemCtx } from '../../helpers/deps.js';
import { browserSkipReason, focusVisible, horizontalOverflow, launchBrowser, openPage, screenshot, seriousViolations, servePortal, signInThroughPages, tabTo, type Served } from './kit.js';

const skip = browserSkipReason();
const PASSWORD = 'correct horse battery staple';
let browser: Browser;
let served: Served | undefined;
const contexts: BrowserContext[] = [];

beforeAll(async () => {
  if (!skip) browser = await launchBrowser();
});
afterAll(async () => browser?.close());
afterEach(async () => {
  for (const c of contexts.splice(0)) await c.close();
  await served?.close();
  served = undefined;
});

async function start(): Promise<Served> {
  served = await servePortal();
  served.kit.deps.connectors = syntheticSilos([ALICE]).all;
  served.kit.deps.requireApproval = ['erasure'];
  for (const [email, role] of [
    ['dpo@shop.example', 'dpo'],
    ['viewer@shop.example', 'viewer'],
    ['admin@shop.example', 'admin'],
  ] as const) {
    await createUser(systemCtx(served.kit.deps), { email, role, password: PASSWORD });
  }
  return served;
}

async function open(width = 1280): Promise<{ page: Page; errors: string[] }> {
  const o = await openPage(browser, { width, height: width < 600 ? 740 : 900 });
  contexts.push(o.context);
  return o;
}

async function logIn(page: Page, email: string): Promise<void> {
  await page.goto(`${served!.base}/admin`);
  await page.waitForURL('**/admin/login?next=**');
  await page.getByLabel('Adresse e-mail professionnelle').fill(email);
  await page.getByLabel('Mot de passe').fill(PASSWORD);
  await page.getByRole('button', { name: 'Se connecter' }).click();
  await page.waitForURL(/\/admin$/);
}

/** axe finds nothing serious or critical, nothing scrolls sideways, no console error (CSP included). */
async function checkPage(page: Page, errors: string[], name: string): Promise<void> {
  await screenshot(page, name);
  expect(JSON.stringify(await seriousViolations(page)), name).toBe('[]');
  const { scrollWidth, clientWidth } = await horizontalOverflow(page);
  expect(scrollWidth, `${name} scrolls sideways`).toBeLessThanOrEqual(clientWidth);
  expect(errors, name).toEqual([]);
}

async function portalErasure(): Promise<string> {
  const { page } = await open();
  await signInThroughPages(served!, page, ALICE.email);
  await page.goto(`${served!.base}/privacy/requests/erasure`);
  await page.getByRole('button', { name: 'Confirmer : effacer mes données' }).click();
  await page.waitForURL('**/privacy/requests/req_*?m=opened');
  return /\/privacy\/requests\/(req_[0-9a-z]+)/.exec(page.url())![1]!;
}

describe.skipIf(skip)('the DPO dashboard in a browser', () => {
  it('approves an erasure asked on the portal, sees it complete and checks its proofs in the page', { timeout: 90_000 }, async () => {
    await start();
    const id = await portalErasure();
    const { page, errors } = await open();
    await logIn(page, 'dpo@shop.example');
    await checkPage(page, errors, 'admin-queue');
    await page.getByRole('link', { name: id }).click();
    await page.waitForURL(`**/admin/requests/${id}`);
    await checkPage(page, errors, 'admin-request-awaiting');
    await page.getByRole('link', { name: 'Voir ce que l’effacement supprimerait et garderait' }).click();
    await page.waitForURL(`**/admin/requests/${id}/preview`);
    await expect(page.locator('main').textContent()).resolves.toContain('legal obligation: 10-year retention of accounting records');
    await checkPage(page, errors, 'admin-erasure-preview');
    await page.goBack();
    const approve = page.locator(`form[action="/admin/requests/${id}/approve"]`);
    await approve.getByLabel('Je confirme cette action').check();
    await approve.getByRole('button', { name: 'Approuver' }).click();
    await page.waitForURL(`**/admin/requests/${id}?m=approve`);
    await new Engine(served!.kit.deps, { random: () => 0.5, backoffBaseMs: 1000 }).runUntilIdle();
    await page.reload();
    await expect(page.locator('dl.facts').textContent()).resolves.toContain('Terminée');
    const check = page.getByRole('button', { name: 'Vérifier les preuves dans cette page' });
    await check.click();
    const status = page.locator('[data-receipt-check] [role=status]');
    await expect.poll(() => status.textContent(), { timeout: 10_000 }).toMatch(/^(Vérifié|Non vérifié) :/);
    expect(await status.textContent()).toMatch(/^Vérifié : \d+ entrées, chacune prouvée dans le journal de \d+ entrées \(racine [0-9a-f]{16}…\), lui-même contenu dans le journal signé d’aujourd’hui de \d+ entrées\.$/);
    await checkPage(page, errors, 'admin-request-completed-verified');
    // The same receipt downloaded as a file verifies offline too.
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name: 'Télécharger le reçu signé' }).click()]);
    expect(download.suggestedFilename()).toBe(`request-receipt-${id}.jws`);
    const jws = await readFile((await download.path())!, 'utf8');
    const offline = await checkReceipt(jws, served!.kit.deps.keys.jwks() as never, (await served!.kit.deps.treeHeads.current()).log);
    expect(offline.ok, JSON.stringify(offline)).toBe(true);
  });

  it('offers a viewer no action, and refuses the one posted anyway', { timeout: 60_000 }, async () => {
    await start();
    const id = await portalErasure();
    const { page, errors } = await open();
    await logIn(page, 'viewer@shop.example');
    await page.goto(`${served!.base}/admin/requests/${id}`);
    expect(await page.locator('form.admin-action').count()).toBe(0);
    expect(await page.getByRole('button', { name: 'Approuver' }).count()).toBe(0);
    const status = await page.evaluate(async (rid) => {
      const csrf = (document.querySelector('input[name=csrf]') as HTMLInputElement).value;
      const res = await fetch(`/admin/requests/${rid}/approve`, { method: 'POST', body: new URLSearchParams({ csrf, confirm: 'yes' }) });
      return res.status;
    }, id);
    expect(status).toBe(403);
    expect(errors.splice(0)).toEqual([expect.stringContaining('403')]); // the browser logs the refused POST
    expect((await served!.kit.deps.db.requests.get(id))!.status).toBe('awaiting_approval');
    await checkPage(page, errors, 'admin-request-viewer');
  });

  it('walks the queue with the keyboard alone, focus visible, and fits a 360-px phone', { timeout: 60_000 }, async () => {
    await start();
    const id = await portalErasure();
    const { page, errors } = await open(360);
    await page.goto(`${served!.base}/admin/login`);
    await tabTo(page, '#email');
    await page.keyboard.type('dpo@shop.example');
    await page.keyboard.press('Tab');
    await page.keyboard.type(PASSWORD);
    await page.keyboard.press('Enter');
    await page.waitForURL(/\/admin$/);
    await checkPage(page, errors, 'admin-queue-360');
    await tabTo(page, `a[href="/admin/requests/${id}"]`, 60);
    expect(await focusVisible(page)).toBe(true);
    await page.keyboard.press('Enter');
    await page.waitForURL(`**/admin/requests/${id}`);
    await checkPage(page, errors, 'admin-request-360');
    await page.goto(`${served!.base}/admin/audit`);
    await checkPage(page, errors, 'admin-audit-360');
  });

  it('passes axe on the reports, silos and administration pages, on a desktop and a 360-px phone', { timeout: 90_000 }, async () => {
    await start();
    await portalErasure();
    for (const width of [1280, 360]) {
      const { page, errors } = await open(width);
      await logIn(page, 'admin@shop.example');
      for (const [path, name] of [
        ['/admin/reports', 'reports'],
        ['/admin/reports/annual?year=2026', 'annual-report'],
        ['/admin/silos', 'silos'],
        ['/admin/users', 'users'],
        ['/admin/keys', 'keys'],
        ['/admin/audit', 'audit'],
      ] as const) {
        const res = await page.goto(`${served!.base}${path}`);
        expect(res?.status(), path).toBe(200);
        await checkPage(page, errors, `admin-${name}-${width}`);
      }
    }
  });
});
