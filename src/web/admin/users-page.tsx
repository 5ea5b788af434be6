/**
 * Staff users, for administrators: the list (email, role, state, created), adding one, and per
 * user the role, disable / enable and a password reset, each a confirmed form. A generated
 * password is shown on the answer to its POST only (./forms.tsx OnceSecret).
 */
import { ROLES, type Role, type User } from '../../db/schema/users.js';
import type { MessageKey } from '../i18n.js';
import { Notice } from '../layout.js';
import { OnceSecret, PostForm } from './forms.js';
import { AdminLayout, type AdminCtx } from './layout.js';

/** What the page shows besides the list: an outcome, a refusal, a password to give once, the form as typed. */
export interface UsersPageState {
  notice?: string;
  error?: string;
  secret?: { label: string; value: string };
  draft?: { email: string; role: string };
}

function RoleSelect(props: { p: AdminCtx; id: string; selected?: string }) {
  return (
    <select id={props.id} name="role" required>
      {ROLES.map((r) => (
        <option value={r} selected={props.selected === r}>
          {props.p.t(`admin.role.${r}` as MessageKey)}
        </option>
      ))}
    </select>
  );
}

const roleName = (p: AdminCtx, r: Role) => p.t(`admin.role.${r}` as MessageKey);

export function UsersPage(props: { p: AdminCtx; users: User[]; me: string; formatDate: (ms: number) => string } & UsersPageState) {
  const { p, formatDate } = props;
  return (
    <AdminLayout p={p} title={p.t('admin.users.heading')}>
      {props.notice ? <Notice kind="ok">{props.notice}</Notice> : null}
      {props.error ? <Notice kind="error">{props.error}</Notice> : null}
      {props.secret ? <OnceSecret label={props.secret.label} value={props.secret.value} /> : null}
      <div class="table-wrap">
        <table>
          <thead>
            <tr>
              <th scope="col">{p.t('admin.users.col.email')}</th>
              <th scope="col">{p.t('admin.users.col.role')}</th>
              <th scope="col">{p.t('admin.users.col.status')}</th>
              <th scope="col">{p.t('admin.users.col.created')}</th>
              <th scope="col">{p.t('admin.users.col.actions')}</th>
            </tr>
          </thead>
          <tbody>
            {props.users.map((u) => (
              <tr id={`user-${u.id}`}>
                <th scope="row">
                  {u.email} {u.id === props.me ? <span class="meta">({p.t('admin.users.you')})</span> : null}
                </th>
                <td>{roleName(p, u.role)}</td>
                <td>{u.disabledAt === null ? p.t('admin.users.active') : p.t('admin.users.disabledSince', { date: formatDate(u.disabledAt) })}</td>
                <td>{formatDate(u.createdAt)}</td>
                <td>
                  {u.id === props.me ? null : (
                    <>
                      <PostForm p={p} action={`/admin/users/${u.id}/role`} id={`role-${u.id}`} submit={p.t('admin.users.changeRole')}>
                        <label for={`role-${u.id}-select`}>{p.t('admin.users.role')}</label>
                        <RoleSelect p={p} id={`role-${u.id}-select`} selected={u.role} />
                      </PostForm>
                      {u.disabledAt === null ? (
                        <PostForm p={p} action={`/admin/users/${u.id}/disable`} id={`disable-${u.id}`} submit={p.t('admin.users.disable')} />
                      ) : (
                        <PostForm p={p} action={`/admin/users/${u.id}/enable`} id={`enable-${u.id}`} submit={p.t('admin.users.enable')} />
                      )}
                    </>
                  )}
                  <PostForm p={p} action={`/admin/users/${u.id}/password`} id={`password-${u.id}`} submit={p.t('admin.users.reset')} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <h2>{p.t('admin.users.create')}</h2>
      <PostForm p={p} action="/admin/users" id="create" submit={p.t('admin.users.submitCreate')}>
        <div>
          <label for="new-email">{p.t('admin.users.email')}</label>
          <input id="new-email" name="email" type="email" autocomplete="off" maxlength={320} required value={props.draft?.email ?? ''} />
        </div>
        <div>
          <label for="new-role">{p.t('admin.users.role')}</label>
          <RoleSelect p={p} id="new-role" selected={props.draft?.role ?? 'viewer'} />
        </div>
        <div>
          <label for="new-password">{p.t('admin.users.password')}</label>
          <span class="hint" id="new-password-hint">
            {p.t('admin.users.passwordHint')}
          </span>
          <input id="new-password" name="password" type="password" autocomplete="new-password" minlength={12} maxlength={1024} aria-describedby="new-password-hint" />
        </div>
      </PostForm>
    </AdminLayout>
  );
}
