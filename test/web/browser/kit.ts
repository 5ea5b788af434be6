/**
 * The browser tests' kit: Debian's chromium driven by playwright-core, against a real oubli app
 * served on 127.0.0.1 (port 0) whose mailer sends to a real SMTP receiver (../helpers.ts).
 *
 * - No chromium at /usr/bin/chromium: the tests skip with a message — unless REQUIRE_SERVICES=1
 *   (CI, which installs it: .ci/run), where that is a failure.
 * - One browser per test file (launching costs about a second), one context per test: cookies
 *   never leak from one test to the next.
 * - axe-core goes in through `page.evaluate(axe.source)` — the DevTools protocol's evaluation,
 *   which the page's CSP (no inline script) does not govern — so the pages are checked under
 *   their real CSP, never with `bypassCSP`. Every page is also watched for console errors (a CSP
 *   violation is one): a page that logs one fails.
 * - Screenshots land in test-output/screenshots/ (gitignored), one per page and viewport.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import axe from 'axe-core';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { codeOf, portalApp, type PortalKit } from '../helpers.js';

export const CHROMIUM = '/usr/bin/chromium';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/** Why the browser tests skip here (undefined: they run). Throws under REQUIRE_SERVICES=1. */
export function browserSkipReason(): string | undefined {
  if (existsSync(CHROMIUM)) return undefined;
  const msg = `no chromium at ${CHROMIUM} (Debian: apt-get install chromium)`;
  if (process.env.REQUIRE_SERVICES === '1') throw new Error(`${msg}; install it or unset REQUIRE_SERVICES to skip`);
  const skip = `${msg} — browser tests skipped; REQUIRE_SERVICES=1 makes this a failure`;
  console.warn(skip);
  return skip;
}

export const launchBrowser = (): Promise<Browser> => chromium.launch({ executablePath: CHROMIUM, args: ARGS, timeout: 20_000 });

export interface Served {
  kit: PortalKit;
  /** http://127.0.0.1:port */
  base: string;
  close(): Promise<void>;
}

/** The portal app of ../helpers.ts (two purposes, SMTP receiver), on a real socket. */
export async function servePortal(opts: Parameters<typeof portalApp>[0] = {}): Promise<Served> {
  const kit = await portalApp(opts);
  const server = serve({ fetch: kit.app.fetch, port: 0, hostname: '127.0.0.1' });
  await new Promise<void>((resolve, reject) => {
    server.once('listening', () => resolve());
    server.once('error', reject);
  });
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    kit,
    base,
    close: async () => {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await kit.close();
    },
  };
}

/** A fresh context (own cookies, a time zone) and page; console errors of the page collected in `errors`. */
export async function openPage(
  browser: Browser,
  opts: { width?: number; height?: number; locale?: string; timezoneId?: string } = {},
): Promise<{ context: BrowserContext; page: Page; errors: string[] }> {
  const context = await browser.newContext({
    viewport: { width: opts.width ?? 1024, height: opts.height ?? 800 },
    locale: opts.locale ?? 'fr-FR',
    // The deployment's default zone unless a test says otherwise: dates as a person in France sees them.
    timezoneId: opts.timezoneId ?? 'Europe/Paris',
    acceptDownloads: true,
  });
  context.setDefaultTimeout(10_000);
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  page.on('pageerror', (e) => errors.push(String(e)));
  return { context, page, errors };
}

const SHOTS = fileURLToPath(new URL('../../../test-output/screenshots/', import.meta.url));

/** Saves a full-page screenshot as test-output/screenshots/<name>.png. */
export async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: `${SHOTS}${name}.png`, fullPage: true });
}

export interface AxeFinding {
  id: string;
  impact: string | null | undefined;
  help: string;
  targets: string[];
}

/** axe-core's WCAG 2.0/2.1 A and AA rules (and best practices) on the page: serious and critical findings. */
export async function seriousViolations(page: Page): Promise<AxeFinding[]> {
  if (!(await page.evaluate(() => 'axe' in window))) await page.evaluate(axe.source);
  const results = await page.evaluate(() =>
    (window as unknown as { axe: typeof axe }).axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] } }),
  );
  return results.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => ({ id: v.id, impact: v.impact, help: v.help, targets: v.nodes.map((n) => n.target.join(' ')) }));
}

/** Whether the page scrolls sideways at its viewport width. */
export const horizontalOverflow = (page: Page) =>
  page.evaluate(() => ({ scrollWidth: document.documentElement.scrollWidth, clientWidth: document.documentElement.clientWidth }));

/** The code of the n-th mail the receiver got (1-based), waiting for it. */
export async function mailedCode(served: Served, n: number): Promise<string> {
  return codeOf(await served.kit.smtp.waitFor(n));
}

/** Signs in through the pages with the mouse-free defaults of playwright (fill + click). */
export async function signInThroughPages(served: Served, page: Page, email: string): Promise<void> {
  const before = served.kit.smtp.mails.length;
  await page.goto(`${served.base}/privacy`);
  await page.getByLabel(/Adresse e-mail|Email address/).fill(email);
  await page.getByRole('button', { name: /Recevoir un code|Send me a code/ }).click();
  await page.waitForURL('**/privacy/code');
  const code = await mailedCode(served, before + 1);
  await page.getByLabel(/Code à 6 chiffres|6-digit code/).fill(code);
  await page.getByRole('button', { name: /Se connecter|Sign in/ }).click();
  await page.waitForURL('**/privacy/consents**');
}

/** Presses Tab until the focused element matches `selector` (at most `max` times). */
export async function tabTo(page: Page, selector: string, max = 30): Promise<void> {
  for (let i = 0; i < max; i++) {
    await page.keyboard.press('Tab');
    if (await page.evaluate((s) => document.activeElement?.matches(s) ?? false, selector)) return;
  }
  throw new Error(`Tab never reached ${selector}`);
}

/** The focused element shows a visible focus indicator (an outline of some width). */
export const focusVisible = (page: Page) =>
  page.evaluate(() => {
    const s = getComputedStyle(document.activeElement!);
    return s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) >= 2;
  });
