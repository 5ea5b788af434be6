/**
 * The portal's test kit: a real SMTP receiver on 127.0.0.1 (smtp-server), an app whose mailer
 * sends to it, and a tiny browser over app.request() — a cookie jar, same-origin headers, the
 * form's CSRF token picked from the last page.
 */
import { ADS, NEWSLETTER as CONSENT_NEWSLETTER } from '../consent/helpers.js';
import { SMTPServer } from 'smtp-server';
import type { AddressInfo } from 'node:net';
import type { App } from '../../src/app.js';
import { createTestApp, type TestDeps } from '../helpers/deps.js';
import { bearer, call } from '../helpers/http.js';
import { SCOPES } from '../../src/db/schema/api-keys.js';
import { Engine } from '../../src/engine/worker.js';
import { ALICE, BOB, syntheticSilos } from '../helpers/synthetic-connector.js';

export interface ReceivedMail {
  from: string;
  to: string[];
  raw: string;
}

export interface SmtpReceiver {
  url: string;
  mails: ReceivedMail[];
  /** Waits for the n-th mail (1-based) to arrive. */
  waitFor(n: number, ms?: number): Promise<ReceivedMail>;
  close(): Promise<void>;
}

export async function startSmtpReceiver(): Promise<SmtpReceiver> {
  const mails: ReceivedMail[] = [];
  const waiters: (() => void)[] = [];
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    onData(stream, session, done) {
      const chunks: Buffer[] = [];
      stream.on('data', (d: Buffer) => chunks.push(d));
      stream.on('end', () => {
        mails.push({
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          to: session.envelope.rcptTo.map((r) => r.address),
          raw: Buffer.concat(chunks).toString('utf8'),
        });
        for (const w of waiters.splice(0)) w();
        done();
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.server.address() as AddressInfo;
  return {
    url: `smtp://127.0.0.1:${port}`,
    mails,
    async waitFor(n, ms = 5000) {
      const deadline = Date.now() + ms;
      while (mails.length < n) {
        if (Date.now() > deadline) throw new Error(`mail ${n} did not arrive (got ${mails.length})`);
        await new Promise<void>((r) => {
          waiters.push(r);
          setTimeout(r, 100);
        });
      }
      return mails[n - 1]!;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** The code a sign-in mail carries (its subject starts with it; the text body holds it too). */
export function codeOf(mail: ReceivedMail): string {
  const m = /^Subject: (\d{6}) /m.exec(mail.raw);
  if (!m) throw new Error(`no code in mail:\n${mail.raw}`);
  return m[1]!;
}

export const ORIGIN = 'http://localhost';

export interface Page {
  status: number;
  headers: Headers;
  text: string;
  location: string | null;
}

/** A browser: cookies kept per name (path /privacy or /), Origin sent on POSTs. */
export class Browser {
  readonly jar = new Map<string, string>();
  csrf = '';
  constructor(
    private readonly app: App,
    public headers: Record<string, string> = {},
  ) {}

  private cookieHeader(): Record<string, string> {
    return this.jar.size ? { cookie: [...this.jar].map(([k, v]) => `${k}=${v}`).join('; ') } : {};
  }

  private async keep(res: Response): Promise<Page> {
    for (const c of res.headers.getSetCookie()) {
      const [pair = ''] = c.split(';');
      const i = pair.indexOf('=');
      const name = pair.slice(0, i);
      const value = pair.slice(i + 1);
      if (value === '' || /max-age=0\b/i.test(c) || /expires=Thu, 01 Jan 1970/i.test(c)) this.jar.delete(name);
      else this.jar.set(name, value);
    }
    const text = await res.text();
    const m = /name="csrf" value="([^"]+)"/.exec(text);
    if (m) this.csrf = m[1]!;
    return { status: res.status, headers: res.headers, text, location: res.headers.get('location') };
  }

  async get(path: string, headers: Record<string, string> = {}): Promise<Page> {
    return this.keep(await this.app.request(path, { headers: { ...this.headers, ...this.cookieHeader(), ...headers } }));
  }

  /** POSTs a form with the page's CSRF token (unless `csrf` is given in the fields). */
  async post(path: string, fields: Record<string, string>, headers: Record<string, string> = {}): Promise<Page> {
    const body = new URLSearchParams({ csrf: this.csrf, ...fields });
    return this.keep(
      await this.app.request(path, {
        method: 'POST',
        body: body.toString(),
        headers: { origin: ORIGIN, 'content-type': 'application/x-www-form-urlencoded', ...this.headers, ...this.cookieHeader(), ...headers },
      }),
    );
  }

  /** Follows a redirect answer (one hop). */
  async follow(page: Page, headers: Record<string, string> = {}): Promise<Page> {
    if (!page.location) throw new Error(`not a redirect: ${page.status}\n${page.text.slice(0, 500)}`);
    return this.get(page.location, headers);
  }
}

/** The consent suites' purposes; the newsletter is also offered on the web here. */
export const NEWSLETTER = { ...CONSENT_NEWSLETTER, channels: ['email', 'web'] };
export { ADS };

export interface PortalKit {
  deps: TestDeps;
  app: App;
  smtp: SmtpReceiver;
  auth: { authorization: string };
  close(): Promise<void>;
}

/** An app mailing to a fresh SMTP receiver, with two purposes and an all-scopes API key. */
export async function portalApp(opts: { env?: Record<string, string>; purposes?: unknown[] } = {}): Promise<PortalKit> {
  const smtp = await startSmtpReceiver();
  const { deps, app } = await createTestApp({ env: { OUBLI_SMTP_URL: smtp.url, OUBLI_MAIL_FROM: 'Privacy <privacy@shop.example>', ...opts.env } });
  const auth = { authorization: (await bearer(deps, [...SCOPES])).authorization };
  for (const p of opts.purposes ?? [NEWSLETTER, ADS]) {
    const r = await call(app, 'POST', '/v1/purposes', { body: p, headers: auth });
    if (r.status !== 201) throw new Error(`purpose setup failed: ${r.text}`);
  }
  return {
    deps,
    app,
    smtp,
    auth,
    close: async () => {
      deps.mailer.close();
      await smtp.close();
    },
  };
}

/** Signs `email` in through the forms, reading the code from the SMTP receiver. */
export async function signIn(kit: PortalKit, email: string, browser = new Browser(kit.app)): Promise<Browser> {
  await browser.get('/privacy');
  const before = kit.smtp.mails.length;
  const sent = await browser.post('/privacy/sign-in', { email });
  if (sent.status !== 303) throw new Error(`sign-in: ${sent.status}\n${sent.text.slice(0, 800)}`);
  await browser.follow(sent);
  const code = codeOf(await kit.smtp.waitFor(before + 1));
  const done = await browser.post('/privacy/code', { code });
  if (done.status !== 303 || done.location !== '/privacy/consents') throw new Error(`code: ${done.status}\n${done.text.slice(0, 800)}`);
  await browser.follow(done);
  return browser;
}

/** The portal with the synthetic silos (shop, loyalty, crm, newsletter, analytics) holding Alice and Bob, and an engine over them. */
export async function portalWithSilos(opts: { requireApproval?: string[] } = {}): Promise<{ kit: PortalKit; engine: Engine }> {
  const kit = await portalApp();
  kit.deps.connectors = syntheticSilos([ALICE, BOB]).all;
  kit.deps.requireApproval = (opts.requireApproval ?? []) as typeof kit.deps.requireApproval;
  return { kit, engine: new Engine(kit.deps, { random: () => 0.5, backoffBaseMs: 1000 }) };
}
