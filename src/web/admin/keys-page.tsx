/**
 * API keys, for administrators: the list (name, prefix, scopes, created, revoked — never the
 * key), creating one with chosen scopes, revoking. A new key is shown on the answer to its POST
 * only (./forms.tsx OnceSecret): only its hash is kept, it cannot be shown again.
 */
import type { PublicApiKey } from '../../auth/api-keys.js';
import { SCOPES } from '../../db/schema/api-keys.js';
import { Notice } from '../layout.js';
import { OnceSecret, PostForm } from './forms.js';
import { AdminLayout, type AdminCtx } from './layout.js';

export interface KeysPageState {
  notice?: string;
  error?: string;
  secret?: { label: string; value: string };
  draft?: { name: string; scopes: string[] };
}

export function KeysPage(props: { p: AdminCtx; keys: PublicApiKey[]; formatDate: (ms: number) => string } & KeysPageState) {
  const { p, formatDate } = props;
  return (
    <AdminLayout p={p} title={p.t('admin.keys.heading')}>
      {props.notice ? <Notice kind="ok">{props.notice}</Notice> : null}
      {props.error ? <Notice kind="error">{props.error}</Notice> : null}
      {props.secret ? <OnceSecret label={props.secret.label} value={props.secret.value} /> : null}
      {props.keys.length === 0 ? (
        <p>{p.t('admin.keys.none')}</p>
      ) : (
        <div class="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">{p.t('admin.keys.col.name')}</th>
                <th scope="col">{p.t('admin.keys.col.prefix')}</th>
                <th scope="col">{p.t('admin.keys.col.scopes')}</th>
                <th scope="col">{p.t('admin.keys.col.created')}</th>
                <th scope="col">{p.t('admin.keys.col.status')}</th>
                <th scope="col">{p.t('admin.users.col.actions')}</th>
              </tr>
            </thead>
            <tbody>
              {props.keys.map((k) => (
                <tr id={`key-${k.id}`}>
                  <th scope="row">{k.name}</th>
                  <td>
                    <code>{k.prefix}…</code>
                  </td>
                  <td>
                    {k.scopes.map((s, i) => (
                      <>
                        {i > 0 ? ', ' : ''}
                        <code>{s}</code>
                      </>
                    ))}
                  </td>
                  <td>{formatDate(Date.parse(k.createdAt))}</td>
                  <td>{k.revokedAt === null ? p.t('admin.keys.active') : p.t('admin.keys.revokedAt', { date: formatDate(Date.parse(k.revokedAt)) })}</td>
                  <td>{k.revokedAt === null ? <PostForm p={p} action={`/admin/keys/${k.id}/revoke`} id={`revoke-${k.id}`} submit={p.t('admin.keys.revoke')} /> : null}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <h2>{p.t('admin.keys.create')}</h2>
      <PostForm p={p} action="/admin/keys" id="create" submit={p.t('admin.keys.submitCreate')}>
        <div>
          <label for="key-name">{p.t('admin.keys.name')}</label>
          <span class="hint" id="key-name-hint">
            {p.t('admin.keys.nameHint')}
          </span>
          <input id="key-name" name="name" type="text" autocomplete="off" maxlength={100} required aria-describedby="key-name-hint" value={props.draft?.name ?? ''} />
        </div>
        <fieldset>
          <legend>{p.t('admin.keys.scopes')}</legend>
          <div class="scopes">
            {SCOPES.map((s) => (
              <div class="confirm">
                <input type="checkbox" id={`scope-${s.replace(':', '-')}`} name={`scope_${s}`} value="yes" checked={props.draft?.scopes.includes(s)} />
                <label for={`scope-${s.replace(':', '-')}`}>
                  <code>{s}</code>
                </label>
              </div>
            ))}
          </div>
        </fieldset>
      </PostForm>
    </AdminLayout>
  );
}
