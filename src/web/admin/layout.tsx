/**
 * The frame of every dashboard page: the portal's stylesheet, CSP and accessibility rules, a
 * wider main column, the dashboard's navigation (the administration's links for admins only)
 * and the signed-in staff member's sign-out.
 */
import type { Child } from 'hono/jsx';
import type { PageCtx } from '../layout.js';
import { Frame } from '../layout.js';
import type { Role } from '../../db/schema/users.js';

export interface AdminCtx extends PageCtx {
  /** The signed-in staff member's role (undefined on the login page). */
  role?: Role;
}

export function AdminLayout(props: { p: AdminCtx; title: string; children?: Child; /** Reloads the page (a job's progress). */ refreshSeconds?: number }) {
  const { p } = props;
  return (
    <Frame
      p={p}
      title={props.title}
      area={p.t('admin.title')}
      home="/admin"
      signOutAction="/admin/logout"
      bodyClass="admin"
      head={props.refreshSeconds ? <meta http-equiv="refresh" content={String(props.refreshSeconds)} /> : null}
      links={
        <>
          <a href="/admin">{p.t('admin.nav.queue')}</a>
          <a href="/admin/reports">{p.t('admin.nav.reports')}</a>
          <a href="/admin/silos">{p.t('admin.nav.silos')}</a>
          <a href="/admin/audit">{p.t('admin.nav.audit')}</a>
          {p.role === 'admin' ? <a href="/admin/users">{p.t('admin.nav.users')}</a> : null}
          {p.role === 'admin' ? <a href="/admin/keys">{p.t('admin.nav.keys')}</a> : null}
        </>
      }
    >
      {props.children}
    </Frame>
  );
}
