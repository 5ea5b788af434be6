/** The dashboard's login and error pages. */
import { Field, Notice } from '../layout.js';
import { AdminLayout, type AdminCtx } from './layout.js';
import type { ActionDraft } from './request-page.js';

export function LoginPage(props: { p: AdminCtx; next: string; email?: string; error?: string; notice?: string; draft?: ActionDraft }) {
  const { p } = props;
  return (
    <AdminLayout p={p} title={p.t('admin.login.heading')}>
      {props.notice ? <Notice>{props.notice}</Notice> : null}
      {props.error ? <Notice kind="error">{props.error}</Notice> : null}
      <form method="post" action="/admin/login" novalidate>
        <input type="hidden" name="csrf" value={p.csrf} />
        <input type="hidden" name="next" value={props.next} />
        {props.draft ? (
          <>
            <input type="hidden" name="draft_action" value={props.draft.action} />
            <input type="hidden" name="draft_reasonCode" value={props.draft.reasonCode ?? ''} />
            <input type="hidden" name="draft_reason" value={props.draft.reason ?? ''} />
            <input type="hidden" name="draft_months" value={props.draft.months ?? ''} />
          </>
        ) : null}
        <Field id="email" label={p.t('admin.login.email')} hint={p.t('signIn.emailHint')} type="email" value={props.email} autocomplete="username" inputmode="email" maxlength={320} />
        <div>
          <label for="password">{p.t('admin.login.password')}</label>
          <input id="password" name="password" type="password" autocomplete="current-password" maxlength={1024} required />
        </div>
        <div class="actions">
          <button type="submit">{p.t('admin.login.submit')}</button>
        </div>
      </form>
    </AdminLayout>
  );
}

export function AdminError(props: { p: AdminCtx; message: string }) {
  const { p } = props;
  return (
    <AdminLayout p={p} title={p.t('error.heading')}>
      <Notice kind="error">{props.message}</Notice>
      <p>
        <a href="/admin">{p.t('admin.back')}</a>
      </p>
    </AdminLayout>
  );
}
