/**
 * /admin: the DPO's dashboard — staff login (src/auth/sessions.ts, the API's session cookie),
 * the request queue (src/admin/queue.ts), one request with its actions (src/admin/request-view.ts,
 * the request service's verbs). Pages, not API: HTML answers in the staff member's language.
 *
 * Same rules as the portal (./../portal-routes.tsx): its CSP and headers, every POST checked for
 * the same origin and the form's CSRF token (derived from the staff session, or before login
 * from a browser cookie), 303 after a POST. Roles: a viewer reads; the DPO's decisions need
 * `requests:approve` and are never the opener's; cancel and retry need `requests:write`. A
 * control that would be refused is not offered, and the service refuses it anyway (403).
 *
 * A session that ends while a form is being filled loses nothing: the login page carries the
 * form, and after login the request page shows it again, filled, to be checked and sent.
 */
import { Hono, type Context } from 'hono';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import { stream } from 'hono/streaming';
import type { Ctx, Deps } from '../../deps.js';
import type { AppEnv } from '../../http/env.js';
import { clientAddress, isHttps } from '../../http/auth.js';
import { AppError, ForbiddenError, NotFoundError, TooManyRequestsError, ValidationError } from '../../errors.js';
import { SESSION_COOKIE, findSession, login, logout } from '../../auth/sessions.js';
import { ROLE_SCOPES } from '../../auth/scopes.js';
import { setSessionCookie } from '../../auth/routes.js';
import type { Scope } from '../../db/schema/api-keys.js';
import type { Role } from '../../db/schema/users.js';
import { csrfToken, isToken, newToken } from '../../portal/sessions.js';
import { approveRequest, cancelRequest, denyRequest, extendRequest, requireRequest, retryRequest } from '../../requests/service.js';
import { DENIAL_REASONS, type DenialReason } from '../../requests/duties.js';
import { parseQueueQuery, queueCounts, queueCsv, queuePage, rowOf, type QueueQuery } from '../../admin/queue.js';
import { findRequestsByIdentity } from '../../admin/find.js';
import { adminRequestView, previewable, type AdminAction } from '../../admin/request-view.js';
import { previewErasure } from '../../requests/preview.js';
import { revealIdentity } from '../../requests/reveal.js';
import { requestReceipt } from '../../requests/receipt.js';
import { decideIdentity } from '../../requests/decisions.js';
import { PreviewPage } from './preview-page.js';
import { AuditPage } from './audit-page.js';
import { startVerification, viewOf } from '../../admin/audit-verification.js';
import { pageCsp } from '../brand.js';
import { checkedForm, formFields, fromThisSite } from '../forms.js';
import type { AuditJwk } from '../../audit/verify.js';
import { receiptCheckScript } from './assets.js';
import { LANG_COOKIE, pickLang, translator } from '../i18n.js';
import { setPortalHeaders } from '../portal-routes.js';
import type { AdminCtx } from './layout.js';
import { AdminError, LoginPage } from './pages.js';
import { QueuePageView } from './queue-page.js';
import { AdminRequestPage, type ActionDraft } from './request-page.js';
import { reportRoutes } from './report-routes.js';
import type { JSX } from 'hono/jsx/jsx-runtime';
import { manageRoutes } from './manage-routes.js';

/** The login form's CSRF basis before there is a session (Path=/admin). */
export const ADMIN_BROWSER_COOKIE = 'oubli_admin_browser';
const ACTIONS: readonly AdminAction[] = ['approve', 'deny', 'extend', 'retry', 'cancel'];

export interface Staff {
  userId: string;
  role: Role;
  scopes: readonly Scope[];
  sessionId: string;
  token: string;
}
export type AEnv = AppEnv & { Variables: AppEnv['Variables'] & { staff: Staff | undefined } };
type C = Context<AEnv>;
const asApp = (c: C) => c as unknown as Context<AppEnv>;

/** Where a login may lead: a dashboard path (with its query), nothing else. */
export function safeAdminNext(next: string | undefined): string {
  if (next && next.length <= 512 && /^\/admin(\/[A-Za-z0-9._~%-]*)*(\?[A-Za-z0-9._~%&=+-]*)?$/.test(next) && !next.includes('//') && !/%2f|%5c|%2e/i.test(next) && !/\/\.{1,2}(\/|\?|$)/.test(next)) return next;
  return '/admin';
}

const staffCsrfBasis = (token: string) => `staff\0${token}`;

function adminContext(c: C): AdminCtx {
  const deps = c.get('deps');
  const lang = pickLang(getCookie(c, LANG_COOKIE), c.req.header('accept-language'));
  const staff = c.get('staff');
  let basis = staff ? staffCsrfBasis(staff.token) : getCookie(c, ADMIN_BROWSER_COOKIE);
  if (!staff && !isToken(basis)) {
    basis = newToken();
    setCookie(c, ADMIN_BROWSER_COOKIE, basis, { httpOnly: true, sameSite: 'Lax', secure: isHttps(asApp(c)), path: '/admin', maxAge: 3600 });
  }
  return { lang, t: translator(lang), brand: deps.config.portal, path: c.req.path, csrf: csrfToken(deps, basis!), signedIn: staff !== undefined, role: staff?.role };
}

async function render(c: C, page: JSX.Element, status = 200): Promise<Response> {
  return c.html('<!doctype html>' + (await page.toString()), status as 200);
}

const staffCtx = (c: C, staff: Staff): Ctx => ({ ...c.get('deps'), actor: { type: 'user', id: staff.userId } });

function dateFormat(deps: Deps, lang: string) {
  const f = new Intl.DateTimeFormat(lang, { dateStyle: 'medium', timeStyle: 'short', timeZone: deps.config.timeZone });
  return (ms: number) => f.format(ms);
}

/** The form's fields, after the same-origin and CSRF checks; a Response (403 page) when they fail. */
async function guardedForm(c: C, publicOrigin: string | undefined): Promise<Record<string, string> | Response> {
  const staff = c.get('staff');
  const form = await checkedForm(asApp(c), publicOrigin, staff ? staffCsrfBasis(staff.token) : getCookie(c, ADMIN_BROWSER_COOKIE));
  if (form) return form;
  const p = adminContext(c);
  return render(c, <AdminError p={p} message={p.t('csrf.refused')} />, 403);
}

/** The draft of an action form, as typed. */
function draftOf(action: AdminAction, form: Record<string, string>): ActionDraft {
  return { action, reasonCode: form.reasonCode?.slice(0, 64), reason: form.reason?.slice(0, 1000), months: form.months?.slice(0, 2) };
}

/** True for the dashboard's paths (mounted at /admin by src/app.ts). */
export const isAdminPath = (path: string) => path === '/admin' || path.startsWith('/admin/');

/**
 * The dashboard's answer to a form body over the size limit (checked before the dashboard's own
 * middleware runs: built from the request alone, the headers set here).
 */
export async function adminTooLarge(c: Context<AppEnv>): Promise<Response> {
  const ac = c as unknown as C;
  setPortalHeaders(ac, pageCsp(c.get('deps').config.portal));
  ac.set('staff', undefined);
  const p = adminContext(ac);
  return render(ac, <AdminError p={p} message={p.t('error.tooLarge')} />, 413);
}

export function adminRoutes(deps: Deps) {
  const csp = pageCsp(deps.config.portal);
  const publicOrigin = deps.config.publicUrl ? new URL(deps.config.publicUrl).origin : undefined;
  const app = new Hono<AEnv>();

  app.use('*', async (c, next) => {
    setPortalHeaders(c, csp);
    const token = getCookie(c, SESSION_COOKIE);
    const session = token ? await findSession(deps.db, token, deps.now()) : undefined;
    c.set('staff', session && token ? { ...session, scopes: ROLE_SCOPES[session.role], token } : undefined);
    await next();
  });
  app.onError(async (err, c) => {
    c.get('deps').logger.error({ err, requestId: c.get('requestId') }, 'dashboard page failed');
    return render(c, <AdminError p={adminContext(c)} message={adminContext(c).t('error.generic')} />, 500);
  });

  // ------------------------------------------------------------------------------ login

  app.get('/login', (c) => {
    const next = safeAdminNext(c.req.query('next'));
    if (c.get('staff')) return c.redirect(next, 303);
    const p = adminContext(c);
    const m = c.req.query('m');
    return render(c, <LoginPage p={p} next={next} notice={m === 'out' ? p.t('admin.login.out') : m === 'ended' ? p.t('admin.login.ended') : undefined} />);
  });

  app.post('/login', async (c) => {
    const form = await guardedForm(c, publicOrigin);
    if (form instanceof Response) return form;
    const next = safeAdminNext(form.next);
    const email = (form.email ?? '').slice(0, 320);
    try {
      const s = await login({ ...deps, actor: { type: 'system', id: 'dashboard' } }, { email, password: (form.password ?? '').slice(0, 1024), client: clientAddress(asApp(c)) });
      setSessionCookie(asApp(c), s.token, s.expiresAt);
      deleteCookie(c, ADMIN_BROWSER_COOKIE, { path: '/admin' });
      const staff: Staff = { userId: s.userId, role: s.role, scopes: ROLE_SCOPES[s.role], sessionId: '', token: s.token };
      // A form the session ended under: shown again, filled, on its request's page.
      const action = ACTIONS.find((a) => a === form.draft_action);
      const pending = /^\/admin\/requests\/(req_[0-9a-z]{26})$/.exec(next)?.[1];
      if (action && pending) {
        c.set('staff', staff);
        return requestPage(c, staff, pending, { draft: draftOf(action, { reasonCode: form.draft_reasonCode ?? '', reason: form.draft_reason ?? '', months: form.draft_months ?? '' }), notice: adminContext(c).t('admin.login.resume') });
      }
      return c.redirect(next, 303);
    } catch (err) {
      const p = adminContext(c);
      if (err instanceof TooManyRequestsError) {
        c.header('retry-after', String(err.retryAfterSeconds));
        return render(c, <LoginPage p={p} next={next} email={email} error={p.t('admin.login.tooMany')} />, 429);
      }
      if (err instanceof AppError && err.code === 'INVALID_CREDENTIALS') return render(c, <LoginPage p={p} next={next} email={email} error={p.t('admin.login.wrong')} />, 401);
      throw err;
    }
  });

  app.post('/logout', async (c) => {
    const form = await guardedForm(c, publicOrigin);
    if (form instanceof Response) return form;
    const staff = c.get('staff');
    if (staff) await logout({ ...deps, actor: { type: 'user', id: staff.userId } }, staff.sessionId);
    deleteCookie(c, SESSION_COOKIE, { path: '/' });
    return c.redirect('/admin/login?m=out', 303);
  });

  app.get('/assets/receipt-check.js', async (c) => {
    c.header('cache-control', 'public, max-age=3600');
    return c.body(await receiptCheckScript(), 200, { 'content-type': 'text/javascript; charset=utf-8' });
  });

  // Everything below needs a staff session; without one, the login page brings the staff member back here.
  app.use('*', async (c, next) => {
    if (c.get('staff')) return next();
    const url = new URL(c.req.url);
    if (c.req.method === 'GET') return c.redirect(`/admin/login?next=${encodeURIComponent(safeAdminNext(url.pathname + url.search))}`, 303);
    return sessionEnded(c);
  });

  // ------------------------------------------------------------------------------ queue

  /** The queue's filter from the query string, or the 400 page naming what is wrong. */
  const queueQueryOf = async (c: C): Promise<QueueQuery | Response> => {
    try {
      return parseQueueQuery(c.req.query());
    } catch (err) {
      if (!(err instanceof ValidationError)) throw err;
      const p = adminContext(c);
      return render(c, <AdminError p={p} message={p.t('admin.filter.invalid', { detail: err.message })} />, 400);
    }
  };

  app.get('/', async (c) => {
    const q = await queueQueryOf(c);
    if (q instanceof Response) return q;
    const p = adminContext(c);
    return render(c, <QueuePageView p={p} q={q} page={await queuePage(deps, q)} formatDate={dateFormat(deps, p.lang)} />);
  });

  app.get('/requests.csv', async (c) => {
    const q = await queueQueryOf(c);
    if (q instanceof Response) return q;
    c.header('content-type', 'text/csv; charset=utf-8');
    c.header('content-disposition', `attachment; filename="requests-${new Date(deps.now()).toISOString().slice(0, 10)}.csv"`);
    return stream(c, async (s) => {
      for await (const chunk of queueCsv(deps, q)) await s.write(chunk);
    });
  });

  app.get('/find', async (c) => {
    const id = (c.req.query('id') ?? '').trim().toLowerCase();
    if (/^req_[0-9a-z]{26}$/.test(id) && (await deps.db.requests.get(id))) return c.redirect(`/admin/requests/${id}`, 303);
    const p = adminContext(c);
    const q = parseQueueQuery({});
    return render(c, <QueuePageView p={p} q={q} page={await queuePage(deps, q)} formatDate={dateFormat(deps, p.lang)} notice={p.t('admin.find.none')} />, 404);
  });

  reportRoutes(app, deps, { context: adminContext, render, scopes: (c) => c.get('staff')?.scopes ?? [] });

  // By an identifier: the value in the POST body only; the answer lists what it found.
  app.post('/find', async (c) => {
    const form = await guardedForm(c, publicOrigin);
    if (form instanceof Response) return form;
    const staff = c.get('staff')!;
    const p = adminContext(c);
    const q = parseQueueQuery({});
    const fmt = dateFormat(deps, p.lang);
    let found;
    try {
      found = await findRequestsByIdentity(staffCtx(c, staff), { type: (form.type ?? '').slice(0, 40), value: (form.value ?? '').slice(0, 320) });
    } catch (err) {
      if (!(err instanceof ValidationError)) throw err;
      return render(c, <QueuePageView p={p} q={q} page={{ rows: [], counts: await queueCounts(deps) }} formatDate={fmt} notice={p.t('admin.find.invalid')} />, 400);
    }
    const page = { rows: found.map((r) => rowOf(r, deps.now())), counts: await queueCounts(deps) };
    return render(c, <QueuePageView p={p} q={q} page={page} formatDate={fmt} notice={p.t('admin.find.byIdentity', { n: found.length })} noticeKind="ok" />, found.length ? 200 : 404);
  });

  // ------------------------------------------------------------------------------ one request

  async function requestPage(c: C, staff: Staff, id: string, opts: { draft?: ActionDraft; error?: string; notice?: string; status?: number; revealed?: { id: number; value: string } } = {}): Promise<Response> {
    const p = adminContext(c);
    const ctx = staffCtx(c, staff);
    let req;
    try {
      req = await requireRequest(ctx, id);
    } catch (err) {
      if (err instanceof NotFoundError) return render(c, <AdminError p={p} message={p.t('error.notFound')} />, 404);
      throw err;
    }
    const [v, head] = await Promise.all([adminRequestView(ctx, req, staff.scopes), deps.treeHeads.current()]);
    return render(c, <AdminRequestPage p={p} v={v} logId={head.log} formatDate={dateFormat(deps, p.lang)} now={deps.now()} {...opts} />, opts.status ?? 200);
  }

  const NOTICES: Record<string, 'admin.done.approve' | 'admin.done.deny' | 'admin.done.extend' | 'admin.done.retry' | 'admin.done.cancel'> = {
    approve: 'admin.done.approve',
    deny: 'admin.done.deny',
    extend: 'admin.done.extend',
    retry: 'admin.done.retry',
    cancel: 'admin.done.cancel',
  };

  app.get('/requests/:id', (c) => {
    const m = NOTICES[c.req.query('m') ?? ''];
    return requestPage(c, c.get('staff')!, c.req.param('id'), m ? { notice: adminContext(c).t(m) } : {});
  });

  app.post('/requests/:id/:action', async (c) => {
    const form = await guardedForm(c, publicOrigin);
    if (form instanceof Response) return form;
    const staff = c.get('staff')!;
    const id = c.req.param('id');
    const action = ACTIONS.find((a) => a === c.req.param('action'));
    const p = adminContext(c);
    if (!action) return render(c, <AdminError p={p} message={p.t('error.notFound')} />, 404);
    const draft = draftOf(action, form);
    const refuse = (error: string, status: number) => requestPage(c, staff, id, { draft, error, status });
    if (form.confirm !== 'yes') return refuse(p.t('admin.action.unconfirmed'), 400);
    const reason = (form.reason ?? '').trim();
    if ((action === 'deny' || action === 'extend') && (reason.length === 0 || reason.length > 1000)) return refuse(p.t('admin.reason.required'), 400);
    const ctx = staffCtx(c, staff);
    try {
      if (action === 'deny' || action === 'extend' || action === 'approve') {
        if (!staff.scopes.includes('requests:approve')) throw new ForbiddenError('INSUFFICIENT_SCOPE', 'requests:approve');
      } else if (!staff.scopes.includes('requests:write')) throw new ForbiddenError('INSUFFICIENT_SCOPE', 'requests:write');
      switch (action) {
        case 'approve':
          await approveRequest(ctx, id);
          break;
        case 'deny': {
          const code = DENIAL_REASONS.find((r) => r === form.reasonCode);
          if (!code) return refuse(p.t('admin.deny.codeRequired'), 400);
          await denyRequest(ctx, id, code as DenialReason, reason);
          break;
        }
        case 'extend': {
          const months = form.months === '1' ? 1 : form.months === '2' ? 2 : undefined;
          if (!months) return refuse(p.t('admin.extend.monthsRequired'), 400);
          await extendRequest(ctx, id, months, reason);
          break;
        }
        case 'retry':
          await retryRequest(ctx, id);
          break;
        case 'cancel':
          await cancelRequest(ctx, id);
          break;
      }
    } catch (err) {
      if (err instanceof ForbiddenError) return refuse(p.t(err.code === 'SEPARATION_OF_DUTIES' ? 'admin.refused.opener' : 'admin.refused.role'), 403);
      if (err instanceof NotFoundError) return render(c, <AdminError p={p} message={p.t('error.notFound')} />, 404);
      if (err instanceof AppError && err.code === 'EXTENSION_LIMIT') return refuse(p.t('admin.extend.limit'), 409);
      if (err instanceof AppError && (err.code === 'INVALID_STATE' || err.code === 'INVALID_TRANSITION')) return refuse(p.t('admin.refused.state'), 409);
      throw err;
    }
    return c.redirect(`/admin/requests/${id}?m=${action}`, 303);
  });

  // The signed receipt as a file (the compact JWS `oubli audit verify` and the page's check read).
  app.get('/requests/:id/receipt', async (c) => {
    const staff = c.get('staff')!;
    const p = adminContext(c);
    const ctx = staffCtx(c, staff);
    try {
      const req = await requireRequest(ctx, c.req.param('id'));
      const { jws } = await requestReceipt(ctx, req);
      return c.body(jws, 200, { 'content-type': 'application/jose', 'content-disposition': `attachment; filename="request-receipt-${req.id}.jws"` });
    } catch (err) {
      if (err instanceof NotFoundError || (err instanceof AppError && err.code === 'REQUEST_NOT_FINISHED')) return render(c, <AdminError p={p} message={p.t('error.notFound')} />, 404);
      throw err;
    }
  });

  app.get('/requests/:id/preview', async (c) => {
    const staff = c.get('staff')!;
    const p = adminContext(c);
    if (!staff.scopes.includes('requests:approve')) return render(c, <AdminError p={p} message={p.t('admin.refused.role')} />, 403);
    // A GET that calls every silo and is audited as the DPO's: not for a link another site lured them to.
    if (!fromThisSite(c, publicOrigin)) return render(c, <AdminError p={p} message={p.t('csrf.refused')} />, 403);
    const ctx = staffCtx(c, staff);
    let req;
    try {
      req = await requireRequest(ctx, c.req.param('id'));
    } catch (err) {
      if (err instanceof NotFoundError) return render(c, <AdminError p={p} message={p.t('error.notFound')} />, 404);
      throw err;
    }
    if (!previewable(req)) return render(c, <AdminError p={p} message={p.t('admin.refused.state')} />, 409);
    const given = (await deps.db.requests.identities(req.id)).filter((i) => i.value !== null && i.state === 'included').map((i) => ({ type: i.type, value: i.value! }));
    const preview = await previewErasure(ctx, given);
    const titles = new Map(deps.connectors.map((k) => [k.id, k.title]));
    return render(c, <PreviewPage p={p} requestId={req.id} connectors={preview.connectors} titles={titles} review={preview.review.needed} />);
  });

  app.post('/requests/:id/identities/:identity/:verb', async (c) => {
    const form = await guardedForm(c, publicOrigin);
    if (form instanceof Response) return form;
    const staff = c.get('staff')!;
    const id = c.req.param('id');
    const identity = /^[1-9][0-9]{0,11}$/.test(c.req.param('identity')) ? Number(c.req.param('identity')) : Number.NaN;
    const verb = c.req.param('verb');
    const p = adminContext(c);
    if (Number.isNaN(identity) || !['reveal', 'include', 'exclude'].includes(verb)) return render(c, <AdminError p={p} message={p.t('error.notFound')} />, 404);
    const ctx = staffCtx(c, staff);
    try {
      if (verb === 'reveal') {
        if (!staff.scopes.includes('requests:verify')) throw new ForbiddenError('INSUFFICIENT_SCOPE', 'requests:verify');
        const shown = await revealIdentity(ctx, id, identity);
        return requestPage(c, staff, id, { revealed: shown });
      }
      if (!staff.scopes.includes('requests:approve')) throw new ForbiddenError('INSUFFICIENT_SCOPE', 'requests:approve');
      const reason = (form.reason ?? '').trim();
      if (reason.length === 0 || reason.length > 1000) return requestPage(c, staff, id, { error: p.t('admin.reason.required'), status: 400 });
      await decideIdentity(ctx, id, identity, verb === 'include' ? 'include' : 'exclude', reason);
      return c.redirect(`/admin/requests/${id}`, 303);
    } catch (err) {
      if (err instanceof ForbiddenError) return requestPage(c, staff, id, { error: p.t(err.code === 'SEPARATION_OF_DUTIES' ? 'admin.refused.opener' : 'admin.refused.role'), status: 403 });
      if (err instanceof NotFoundError) return render(c, <AdminError p={p} message={p.t('error.notFound')} />, 404);
      if (err instanceof AppError && err.code === 'IDENTITY_DESTROYED') return requestPage(c, staff, id, { error: p.t('admin.identity.destroyed'), status: 410 });
      if (err instanceof AppError && (err.code === 'INVALID_STATE' || err.code === 'IDENTITY_NOT_PENDING')) return requestPage(c, staff, id, { error: p.t('admin.refused.state'), status: 409 });
      throw err;
    }
  });

  // ------------------------------------------------------------------------------ audit log

  app.get('/audit', async (c) => {
    const staff = c.get('staff')!;
    const p = adminContext(c);
    if (!staff.scopes.includes('audit:read')) return render(c, <AdminError p={p} message={p.t('admin.refused.role')} />, 403);
    const now = deps.now();
    const [head, checkpoint, verifications] = await Promise.all([deps.treeHeads.current(), deps.treeHeads.checkpoint(), deps.db.audit.verifications(5)]);
    const keys = (deps.keys.jwks().keys as AuditJwk[]).map((k) => ({ kid: String(k.kid), ...(typeof k.notAfter === 'number' ? { notAfter: k.notAfter } : {}) }));
    const data = { size: head.size, root: head.root, timestamp: head.timestamp, checkpoint, keys, verifications: verifications.map((v) => viewOf(v, now)), mayVerify: staff.scopes.includes('requests:approve') };
    const notice = c.req.query('m') === 'started' ? p.t('admin.verify.started') : undefined;
    return render(c, <AuditPage p={p} d={data} formatDate={dateFormat(deps, p.lang)} notice={notice} />);
  });

  app.post('/audit/verify', async (c) => {
    const form = await guardedForm(c, publicOrigin);
    if (form instanceof Response) return form;
    const staff = c.get('staff')!;
    if (!staff.scopes.includes('requests:approve')) {
      const p = adminContext(c);
      return render(c, <AdminError p={p} message={p.t('admin.refused.role')} />, 403);
    }
    await startVerification(deps, { type: 'user', id: staff.userId });
    return c.redirect('/admin/audit?m=started', 303);
  });

  manageRoutes(app, { deps, publicOrigin, adminContext, render, guardedForm, staffCtx, dateFormat });

  /** A POST after the session ended: the login page, carrying the form so nothing typed is lost. */
  async function sessionEnded(c: C): Promise<Response> {
    const p = adminContext(c);
    const m = /^\/admin\/requests\/(req_[0-9a-z]{26})\/([a-z]+)$/.exec(c.req.path);
    const action = ACTIONS.find((a) => a === m?.[2]);
    // Only a form of our own pages is carried: a cross-site POST must not get a pre-filled
    // decision shown to a staff member after they log in.
    const sameOrigin = fromThisSite(c, publicOrigin);
    if (!m || !action || !sameOrigin) return render(c, <LoginPage p={p} next="/admin" notice={p.t('admin.login.ended')} />, 401);
    const draft = draftOf(action, await formFields(c));
    return render(c, <LoginPage p={p} next={`/admin/requests/${m[1]}`} notice={p.t('admin.login.ended')} draft={draft} />, 401);
  }

  return app;
}
