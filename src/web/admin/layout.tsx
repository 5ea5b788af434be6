/**
 * The frame of every dashboard page: the portal's stylesheet, CSP and accessibility rules, a
 * wider main column, the dashboard's navigation (the administration's links for admins only)
 * and the signed-in staff member's sign-out.
 */
import type { Child } from 'hono/jsx';
import type { PageCtx } from '../layout.js';
import { STYLESHEET_PATH } from '../layout.js';
import type { Role } from '../../db/schema/users.js';

export interface AdminCtx extends PageCtx {
  /** The signed-in staff member's role (undefined on the login page). */
  role?: Role;
}

export function AdminLayout(props: { p: AdminCtx; title: string; children?: Child; /** Reloads the page (a job's progress). */ refreshSeconds?: number }) {
  const { p } = props;
  const other = p.lang === 'fr' ? 'en' : 'fr';
  return (
    <html lang={p.lang}>
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <meta name="referrer" content="same-origin" />
        <title>{`${props.title} — ${p.t('admin.title')} — ${p.brand.companyName}`}</title>
        <link rel="icon" href="data:," />
        <link rel="stylesheet" href={STYLESHEET_PATH} />
        {props.refreshSeconds ? <meta http-equiv="refresh" content={String(props.refreshSeconds)} /> : null}
      </head>
      <body class="admin">
        <a class="skip" href="#main">
          {p.t('nav.skip')}
        </a>
        <header class="top">
          <a class="brand" href="/admin">
            {p.brand.logoUrl ? <img src={p.brand.logoUrl} alt="" /> : null}
            <span>{p.brand.companyName}</span>
            <span class="hint">{p.t('admin.title')}</span>
          </a>
          <nav aria-label={p.t('admin.title')}>
            <a href={`/privacy/lang?to=${other}&next=${encodeURIComponent(p.path)}`} hreflang={other} lang={other}>
              {p.t('lang.switch')}
            </a>
            {p.signedIn ? <a href="/admin">{p.t('admin.nav.queue')}</a> : null}
            {p.signedIn ? <a href="/admin/reports">{p.t('admin.nav.reports')}</a> : null}
            {p.signedIn ? <a href="/admin/silos">{p.t('admin.nav.silos')}</a> : null}
            {p.signedIn ? <a href="/admin/audit">{p.t('admin.nav.audit')}</a> : null}
            {p.role === 'admin' ? <a href="/admin/users">{p.t('admin.nav.users')}</a> : null}
            {p.role === 'admin' ? <a href="/admin/keys">{p.t('admin.nav.keys')}</a> : null}
            {p.signedIn ? (
              <form class="inline" method="post" action="/admin/logout">
                <input type="hidden" name="csrf" value={p.csrf} />
                <button class="link" type="submit">
                  {p.t('nav.signOut')}
                </button>
              </form>
            ) : null}
          </nav>
        </header>
        <main id="main" tabindex={-1}>
          <h1>{props.title}</h1>
          {props.children}
        </main>
      </body>
    </html>
  );
}
