/**
 * /admin/silos, /admin/users, /admin/keys: the dashboard's silos (every staff member reads) and
 * webhooks (`webhooks:read`, as the API; redeliver and recover need `webhooks:write`), and its administration of staff
 * users and API keys (the `admin` scope only: others get the refusal page, GET or POST).
 *
 * Same rules as ./routes.tsx, whose helpers arrive in `kit`: every POST is checked for the same
 * origin and the CSRF token, needs its confirm checkbox, and goes through the verbs that audit
 * it; 303 after a POST — except where the answer carries a secret shown once (a generated
 * password, a new API key): that page is the POST's own answer (no-store, as every dashboard
 * page), since a redirect would have to keep the secret somewhere to show it.
 */
import type { Context, Hono } from 'hono';
import type { JSX } from 'hono/jsx/jsx-runtime';
import type { Ctx, Deps } from '../../deps.js';
import { AppError, ConflictError, ForbiddenError, NotFoundError, ValidationError } from '../../errors.js';
import { createApiKey, listApiKeys, revokeApiKey } from '../../auth/api-keys.js';
import { listUsers } from '../../auth/users.js';
import { SCOPES } from '../../db/schema/api-keys.js';
import { ROLES, type Role } from '../../db/schema/users.js';
import { addStaffMember, resetStaffPassword, setStaffDisabled, setStaffRole } from '../../admin/staff.js';
import { recoverEndpoint, silosView, webhooksView } from '../../admin/silos.js';
import { redeliver } from '../../webhooks/endpoints.js';
import type { MessageKey } from '../i18n.js';
import type { AdminCtx } from './layout.js';
import { AdminError } from './pages.js';
import { KeysPage, type KeysPageState } from './keys-page.js';
import { SilosPage } from './silos-page.js';
import { UsersPage, type UsersPageState } from './users-page.js';
import type { AEnv, Staff } from './routes.js';

type C = Context<AEnv>;

/** What ./routes.tsx lends these pages. */
export interface AdminKit {
  deps: Deps;
  publicOrigin: string | undefined;
  adminContext(c: C): AdminCtx;
  render(c: C, page: JSX.Element, status?: number): Promise<Response>;
  guardedForm(c: C, publicOrigin: string | undefined): Promise<Record<string, string> | Response>;
  staffCtx(c: C, staff: Staff): Ctx;
  dateFormat(deps: Deps, lang: string): (ms: number) => string;
}

const ID = /^[a-z]{2,4}_[0-9a-z]{26}$/;

export function manageRoutes(app: Hono<AEnv>, kit: AdminKit): void {
  const { deps, render, publicOrigin } = kit;
  const refusal = (c: C, key: MessageKey, status: number) => {
    const p = kit.adminContext(c);
    return render(c, <AdminError p={p} message={p.t(key)} />, status);
  };
  const staffOf = (c: C) => c.get('staff')!;
  const ctxOf = (c: C) => kit.staffCtx(c, staffOf(c));

  // ------------------------------------------------------------------------------ silos and webhooks

  async function silosPage(c: C, state: { notice?: string; error?: string } = {}, status = 200): Promise<Response> {
    const ctx = ctxOf(c);
    const p = kit.adminContext(c);
    // The webhooks (their URLs may carry a receiver's secret) as the API shows them: webhooks:read.
    const canRead = staffOf(c).scopes.includes('webhooks:read');
    const [silos, endpoints] = await Promise.all([silosView(ctx), canRead ? webhooksView(ctx) : undefined]);
    const canWrite = staffOf(c).scopes.includes('webhooks:write');
    return render(c, <SilosPage p={p} silos={silos} endpoints={endpoints} canWrite={canWrite} formatDate={kit.dateFormat(deps, p.lang)} {...state} />, status);
  }

  const WEBHOOK_DONE: Record<string, MessageKey> = { redeliver: 'admin.webhooks.done.redeliver', recover: 'admin.webhooks.done.recover' };

  app.get('/silos', (c) => {
    const m = WEBHOOK_DONE[c.req.query('m') ?? ''];
    return silosPage(c, m ? { notice: kit.adminContext(c).t(m) } : {});
  });

  /** A webhook lever: `webhooks:write`, the form's checks, then the verb; its refusals on the page. */
  async function webhookLever(c: C, lever: 'redeliver' | 'recover', run: (ctx: Ctx, id: string) => Promise<unknown>): Promise<Response> {
    if (!staffOf(c).scopes.includes('webhooks:write')) return refusal(c, 'admin.refused.role', 403);
    const form = await kit.guardedForm(c, publicOrigin);
    if (form instanceof Response) return form;
    const t = kit.adminContext(c).t;
    if (form.confirm !== 'yes') return silosPage(c, { error: t('admin.action.unconfirmed') }, 400);
    const id = c.req.param('id') ?? '';
    try {
      await run(ctxOf(c), id);
    } catch (err) {
      if (err instanceof NotFoundError) return refusal(c, 'error.notFound', 404);
      if (err instanceof ConflictError && err.code === 'DELIVERY_PENDING') return silosPage(c, { error: t('admin.webhooks.refused.pending') }, 409);
      if (err instanceof ConflictError && err.code === 'WEBHOOK_DISABLED') return silosPage(c, { error: t('admin.webhooks.refused.disabled') }, 409);
      throw err;
    }
    return c.redirect(`/admin/silos?m=${lever}`, 303);
  }

  app.post('/silos/deliveries/:id/redeliver', (c) => webhookLever(c, 'redeliver', redeliver));
  app.post('/silos/webhooks/:id/recover', (c) => webhookLever(c, 'recover', recoverEndpoint));

  // ------------------------------------------------------------------------------ administration: admins only

  const adminOnly = async (c: C, next: () => Promise<void>) => {
    if (c.get('staff')?.scopes.includes('admin')) return next();
    return refusal(c, 'admin.refused.admin', 403);
  };
  for (const path of ['/users', '/users/*', '/keys', '/keys/*']) app.use(path, adminOnly);

  // ------------------------------------------------------------------------------ staff users

  async function usersPage(c: C, state: UsersPageState = {}, status = 200): Promise<Response> {
    const p = kit.adminContext(c);
    return render(c, <UsersPage p={p} users={await listUsers(deps)} me={staffOf(c).userId} formatDate={kit.dateFormat(deps, p.lang)} {...state} />, status);
  }

  const USER_DONE: Record<string, MessageKey> = {
    create: 'admin.users.done.create',
    role: 'admin.users.done.role',
    disable: 'admin.users.done.disable',
    enable: 'admin.users.done.enable',
  };

  app.get('/users', (c) => {
    const m = USER_DONE[c.req.query('m') ?? ''];
    return usersPage(c, m ? { notice: kit.adminContext(c).t(m) } : {});
  });

  app.post('/users', async (c) => {
    const form = await kit.guardedForm(c, publicOrigin);
    if (form instanceof Response) return form;
    const t = kit.adminContext(c).t;
    const draft = { email: (form.email ?? '').slice(0, 320), role: (form.role ?? '').slice(0, 16) };
    const refuse = (key: MessageKey, status: number) => usersPage(c, { error: t(key), draft }, status);
    if (form.confirm !== 'yes') return refuse('admin.action.unconfirmed', 400);
    const role = ROLES.find((r) => r === form.role);
    if (!role) return refuse('admin.users.badRole', 400);
    const password = (form.password ?? '').slice(0, 1024);
    try {
      const { user, generated } = await addStaffMember(ctxOf(c), { email: draft.email, role, ...(password ? { password } : {}) });
      if (!generated) return c.redirect('/admin/users?m=create', 303);
      return usersPage(c, { notice: t('admin.users.created', { email: user.email }), secret: { label: t('admin.users.passwordOnce'), value: generated } });
    } catch (err) {
      if (err instanceof ValidationError && err.code === 'INVALID_EMAIL') return refuse('admin.users.badEmail', 400);
      if (err instanceof ValidationError && err.code === 'PASSWORD_TOO_SHORT') return refuse('admin.users.shortPassword', 400);
      if (err instanceof ConflictError && err.code === 'USER_EXISTS') return refuse('admin.users.exists', 409);
      throw err;
    }
  });

  app.post('/users/:id/:change', async (c) => {
    const form = await kit.guardedForm(c, publicOrigin);
    if (form instanceof Response) return form;
    const t = kit.adminContext(c).t;
    const id = c.req.param('id');
    const change = c.req.param('change');
    if (!ID.test(id) || !['role', 'disable', 'enable', 'password'].includes(change)) return refusal(c, 'error.notFound', 404);
    if (form.confirm !== 'yes') return usersPage(c, { error: t('admin.action.unconfirmed') }, 400);
    const ctx = ctxOf(c);
    try {
      if (change === 'role') {
        const role = ROLES.find((r) => r === form.role) as Role | undefined;
        if (!role) return usersPage(c, { error: t('admin.users.badRole') }, 400);
        await setStaffRole(ctx, id, role);
      } else if (change === 'disable' || change === 'enable') {
        await setStaffDisabled(ctx, id, change === 'disable');
      } else {
        const { password } = await resetStaffPassword(ctx, id);
        const email = (await listUsers(deps)).find((u) => u.id === id)?.email ?? id;
        return usersPage(c, { notice: t('admin.users.resetDone', { email }), secret: { label: t('admin.users.passwordOnce'), value: password } });
      }
    } catch (err) {
      if (err instanceof ForbiddenError && err.code === 'SELF_LOCKOUT') return usersPage(c, { error: t('admin.users.self') }, 403);
      if (err instanceof NotFoundError) return refusal(c, 'error.notFound', 404);
      throw err;
    }
    return c.redirect(`/admin/users?m=${change}`, 303);
  });

  // ------------------------------------------------------------------------------ API keys

  async function keysPage(c: C, state: KeysPageState = {}, status = 200): Promise<Response> {
    const p = kit.adminContext(c);
    return render(c, <KeysPage p={p} keys={await listApiKeys(deps)} formatDate={kit.dateFormat(deps, p.lang)} {...state} />, status);
  }

  app.get('/keys', (c) => (c.req.query('m') === 'revoke' ? keysPage(c, { notice: kit.adminContext(c).t('admin.keys.done.revoke') }) : keysPage(c)));

  app.post('/keys', async (c) => {
    const form = await kit.guardedForm(c, publicOrigin);
    if (form instanceof Response) return form;
    const t = kit.adminContext(c).t;
    const name = (form.name ?? '').trim();
    const scopes = SCOPES.filter((s) => form[`scope_${s}`] === 'yes');
    const draft = { name: name.slice(0, 100), scopes: [...scopes] };
    const refuse = (key: MessageKey) => keysPage(c, { error: t(key), draft }, 400);
    if (form.confirm !== 'yes') return refuse('admin.action.unconfirmed');
    if (name.length === 0 || name.length > 100) return refuse('admin.keys.badName');
    if (scopes.length === 0) return refuse('admin.keys.noScope');
    const created = await createApiKey(ctxOf(c), { name, scopes });
    return keysPage(c, { notice: t('admin.keys.created', { name: created.name }), secret: { label: t('admin.keys.once'), value: created.key } });
  });

  app.post('/keys/:id/revoke', async (c) => {
    const form = await kit.guardedForm(c, publicOrigin);
    if (form instanceof Response) return form;
    const t = kit.adminContext(c).t;
    if (form.confirm !== 'yes') return keysPage(c, { error: t('admin.action.unconfirmed') }, 400);
    try {
      await revokeApiKey(ctxOf(c), c.req.param('id'));
    } catch (err) {
      if (err instanceof AppError && err.code === 'API_KEY_NOT_FOUND') return keysPage(c, { error: t('admin.keys.gone') }, 404);
      throw err;
    }
    return c.redirect('/admin/keys?m=revoke', 303);
  });
}
