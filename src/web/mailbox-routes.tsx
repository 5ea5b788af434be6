/**
 * /dev/mailbox: the e-mails the demo "sent" (files in <data dir>/mailbox, src/mail/mailer.ts).
 * Mounted only when `deps.demo` is set — by `oubli demo` alone — and the mailer writes files;
 * checked again on every request. A file name is matched against the names listed, never
 * joined from the URL as given, so nothing outside the mailbox directory can be read.
 */
import { Hono } from 'hono';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Deps } from '../deps.js';
import type { AppEnv } from '../http/env.js';
import { pageCsp } from './brand.js';
import { MailboxPage, MailPage, ErrorPage } from './pages.js';
import { pageContext, render } from './portal-routes.js';

function list(dir: string): string[] {
  try {
    return readdirSync(dir).filter((f) => f.endsWith('.eml')).sort().reverse();
  } catch {
    return [];
  }
}

/** The text/plain part of an .eml, quoted-printable decoded (the whole file when not found). */
export function textPart(eml: string): string {
  const m = /content-type:\s*text\/plain[^\n]*\n(?:[^\n]+\n)*?\r?\n([\s\S]*?)(?:\r?\n--|$)/i.exec(eml);
  const body = m ? m[1]! : eml;
  const qp = /content-transfer-encoding:\s*quoted-printable/i.test(eml);
  if (!qp) return body;
  const bytes = body.replace(/=\r?\n/g, '').replace(/=([0-9A-F]{2})/gi, (_, h: string) => `%${h}`);
  try {
    return decodeURIComponent(bytes.replace(/%(?![0-9A-F]{2})/gi, '%25'));
  } catch {
    return body;
  }
}

export function mailboxRoutes(deps: Deps) {
  const csp = pageCsp(deps.config.portal);
  const app = new Hono<AppEnv>();
  app.use('*', async (c, next) => {
    c.header('content-security-policy', csp);
    c.header('cache-control', 'no-store');
    if (!deps.demo || !deps.mailer.mailbox) return c.notFound();
    await next();
  });
  app.get('/', (c) => render(c as never, <MailboxPage p={pageContext(c as never)} files={list(deps.mailer.mailbox!)} />));
  app.get('/:name', (c) => {
    const dir = deps.mailer.mailbox!;
    const name = list(dir).find((f) => f === c.req.param('name'));
    const p = pageContext(c as never);
    if (!name) return render(c as never, <ErrorPage p={p} message={p.t('error.notFound')} />, 404);
    return render(c as never, <MailPage p={p} name={name} text={textPart(readFileSync(join(dir, name), 'utf8'))} />);
  });
  return app;
}
