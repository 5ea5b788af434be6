/**
 * The administration pages' forms: each POST carries the CSRF token and a required confirm
 * checkbox (the service refuses a form without it), and a secret shown once is shown in one
 * place, selectable, never echoed into a link or a later page.
 */
import type { Child } from 'hono/jsx';
import type { AdminCtx } from './layout.js';

/** A confirmed POST form; `id` makes its checkbox's id unique on the page. */
export function PostForm(props: { p: AdminCtx; action: string; id: string; submit: string; children?: Child }) {
  const { p } = props;
  return (
    <form method="post" action={props.action} class="admin-action">
      <input type="hidden" name="csrf" value={p.csrf} />
      {props.children}
      <div class="confirm">
        <input type="checkbox" id={`${props.id}-confirm`} name="confirm" value="yes" required />
        <label for={`${props.id}-confirm`}>{p.t('admin.action.confirm')}</label>
      </div>
      <div class="actions">
        <button type="submit">{props.submit}</button>
      </div>
    </form>
  );
}

/** A secret (password, API key) on the one page that shows it. */
export function OnceSecret(props: { label: string; value: string }) {
  return (
    <div class="notice ok once" role="status">
      <p>{props.label}</p>
      <p>
        <code>{props.value}</code>
      </p>
    </div>
  );
}
