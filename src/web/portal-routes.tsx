/**
 * /privacy: the person's privacy portal — sign-in by e-mailed code (src/portal/codes.ts), the
 * consent centre (src/portal/consents.ts), their requests (./portal-request-routes.tsx), the
 * accessibility statement, the language switch, the stylesheet and tz.js (./time-zone.ts: dates
 * in the person's time zone). Pages, not API: HTML answers, errors shown as pages in the
 * person's language.
 *
 * Every page: the portal CSP (src/web/brand.ts; no inline script or style), nosniff (src/http/
 * basics.ts), Referrer-Policy same-origin, no caching of personal pages. Every POST: same Origin
 * / Sec-Fetch-Site as the staff API's check (src/http/auth.ts), then the CSRF token of the form
 * (src/portal/sessions.ts). Redirects after a POST (303) so a reload never re-sends a form;
 * `next=` of the language switch only ever leads to a path of the portal.
 */
import { Hono, type Context } from 'hono';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import type { Deps, Ctx } from '../deps.js';
import type { AppEnv } from '../http/env.js';
import { clientAddress, isHttps } from '../http/auth.js';
import { AppError, TooManyRequestsError } from '../errors.js';
import { MailError } from '../mail/mailer.js';
import { requestCode, resendCode, verifyCode, CODE_TTL_MS } from '../portal/codes.js';
import { PORTAL_DECISIONS, changePortalConsent, portalConsents, portalReceipt } from '../portal/consents.js';
import {
  PORTAL_BROWSER_COOKIE,
  PORTAL_SESSION_COOKIE,
  SESSION_MAX_MS,
  csrfToken,
  endPortalSession,
  findPortalSession,
  isToken,
  newToken,
  type PortalSessionView,
} from '../portal/sessions.js';
import type { Decision } from '../db/schema/consents.js';
import { pageCsp, stylesheet } from './brand.js';
import { checkedForm } from './forms.js';
import { LANG_COOKIE, isLang, pickLang, translator, type MessageKey } from './i18n.js';
import { STYLESHEET_PATH, type PageCtx } from './layout.js';
import { TZ_COOKIE, TZ_SCRIPT, portalDates, type PortalDates } from './time-zone.js';
import { AccessibilityPage, CodePage, ConsentsPage, ErrorPage, SignInPage } from './pages.js';
import { mountRequestRoutes } from './portal-request-routes.js';
import type { JSX } from 'hono/jsx/jsx-runtime';

export const CODE_COOKIE = 'oubli_privacy_code';
const COOKIE_PATH = '/privacy';

interface Vars {
  session: PortalSessionView | undefined;
}
export type PEnv = AppEnv & { Variables: AppEnv['Variables'] & Vars };
type C = Context<PEnv>;
/** The app-level helpers (client address, scheme, origin check) take the app's context. */
const asApp = (c: C) => c as unknown as Context<AppEnv>;

/** Where the language switch may lead back to: a portal, dashboard or demo-mailbox path, nothing else. */
export function safeNext(next: string | undefined): string {
  if (next && /^\/(privacy|admin|dev\/mailbox)(\/[A-Za-z0-9._~%-]*)*$/.test(next) && !next.includes('//') && !/%2f|%5c/i.test(next)) return next;
  return '/privacy';
}

const cookieOpts = (c: C, maxAgeMs: number) => ({ httpOnly: true, sameSite: 'Lax' as const, secure: isHttps(asApp(c)), path: COOKIE_PATH, maxAge: Math.floor(maxAgeMs / 1000) });

export function pageContext(c: C): PageCtx {
  const deps = c.get('deps');
  const lang = pickLang(getCookie(c, LANG_COOKIE), c.req.header('accept-language'));
  const session = c.get('session');
  let basis = session?.token ?? getCookie(c, PORTAL_BROWSER_COOKIE);
  if (!isToken(basis)) {
    basis = newToken();
    // Only the portal's own pages mint it: the cookie lives under /privacy, so a page elsewhere
    // (the demo's /dev/mailbox) never sees it, and minting one there replaced the one the
    // person's open code form was made with ("this form has expired").
    if (isPortalPath(c.req.path)) setCookie(c, PORTAL_BROWSER_COOKIE, basis, cookieOpts(c, SESSION_MAX_MS));
  }
  return { lang, t: translator(lang), brand: deps.config.portal, path: c.req.path, csrf: csrfToken(deps, basis), signedIn: session !== undefined };
}

/** The page's dates, in the zone of the request's `tz` cookie when valid (the one place it is read). */
export function datesOf(c: C, p: PageCtx): PortalDates {
  return portalDates({ cookie: getCookie(c, TZ_COOKIE), deploymentZone: c.get('deps').config.timeZone, lang: p.lang, t: p.t, get: c.req.method === 'GET' });
}

export async function render(c: C, page: JSX.Element, status = 200): Promise<Response> {
  return c.html('<!doctype html>' + (await page.toString()), status as 200);
}

export const ctxOf = (c: C): Ctx => {
  const s = c.get('session');
  return { ...c.get('deps'), actor: { type: 'subject', id: s?.emailRef ?? 'portal' } };
};

/**
 * Same origin and the form's CSRF token (checked against the session's token when signed in,
 * the browser token before): the form's fields, or a 403 page.
 */
export async function guardedForm(c: C, publicOrigin: string | undefined): Promise<Record<string, string> | Response> {
  const form = await checkedForm(asApp(c), publicOrigin, c.get('session')?.token ?? getCookie(c, PORTAL_BROWSER_COOKIE));
  if (form) return form;
  const p = pageContext(c);
  return render(c, <ErrorPage p={p} message={p.t('csrf.refused')} />, 403);
}

const minutes = (err: TooManyRequestsError) => Math.max(1, Math.ceil(err.retryAfterSeconds / 60));

/** True for the portal's paths (mounted at COOKIE_PATH by src/app.ts). */
export const isPortalPath = (path: string) => path === COOKIE_PATH || path.startsWith(`${COOKIE_PATH}/`);

/** The headers of every portal page. */
export function setPortalHeaders(c: { header(name: string, value: string): void }, csp: string): void {
  c.header('content-security-policy', csp);
  c.header('x-frame-options', 'DENY');
  c.header('x-content-type-options', 'nosniff');
  // Not the pages' usual no-referrer: under it browsers send `Origin: null` with a form's POST,
  // which the same-origin check must refuse. same-origin still tells other sites nothing.
  c.header('referrer-policy', 'same-origin');
  c.header('cache-control', 'no-store');
  c.header('vary', 'Cookie, Accept-Language, Sec-GPC');
}

/**
 * The portal's answer to a form body over the size limit. The limit is checked by the first
 * middleware (src/http/basics.ts), before the portal's own ones run, so this page is built from
 * the request alone: no session, the portal's headers set here.
 */
export async function portalTooLarge(c: Context<AppEnv>): Promise<Response> {
  setPortalHeaders(c, pageCsp(c.get('deps').config.portal));
  const p = pageContext(c as unknown as C);
  return render(c as unknown as C, <ErrorPage p={p} message={p.t('error.tooLarge')} />, 413);
}

export function portalRoutes(deps: Deps) {
  const css = stylesheet(deps.config.portal);
  const csp = pageCsp(deps.config.portal);
  const publicOrigin = deps.config.publicUrl ? new URL(deps.config.publicUrl).origin : undefined;

  const app = new Hono<PEnv>();
  app.use('*', async (c, next) => {
    setPortalHeaders(c, csp);
    c.set('session', await findPortalSession(deps, getCookie(c, PORTAL_SESSION_COOKIE)));
    await next();
  });
  app.onError(async (err, c) => {
    c.get('deps').logger.error({ err, requestId: c.get('requestId') }, 'portal page failed');
    const p = pageContext(c);
    return render(c, <ErrorPage p={p} message={p.t('error.generic')} />, 500);
  });

  app.get('/assets/portal.css', (c) => {
    c.header('cache-control', 'public, max-age=3600');
    return c.body(css, 200, { 'content-type': 'text/css; charset=utf-8' });
  });

  app.get('/assets/tz.js', (c) => {
    c.header('cache-control', 'public, max-age=3600');
    return c.body(TZ_SCRIPT, 200, { 'content-type': 'text/javascript; charset=utf-8' });
  });

  app.get('/lang', (c) => {
    const to = c.req.query('to');
    if (isLang(to)) setCookie(c, LANG_COOKIE, to, { sameSite: 'Lax', secure: isHttps(asApp(c)), path: '/', maxAge: 365 * 86400 });
    return c.redirect(safeNext(c.req.query('next')), 303);
  });

  app.get('/accessibility', (c) => render(c, <AccessibilityPage p={pageContext(c)} />));

  // -------------------------------------------------------------------------- sign-in

  const NOTICES: Record<string, MessageKey> = { signedOut: 'session.signedOut', ended: 'session.ended' };

  app.get('/', (c) => {
    if (c.get('session')) return c.redirect('/privacy/consents', 303);
    const p = pageContext(c);
    const m = NOTICES[c.req.query('m') ?? ''];
    return render(c, <SignInPage p={p} notice={m ? p.t(m) : undefined} />);
  });

  app.post('/sign-in', async (c) => {
    const form = await guardedForm(c, publicOrigin);
    if (form instanceof Response) return form;
    const p = pageContext(c);
    const email = (form.email ?? '').slice(0, 320);
    try {
      const token = await requestCode(ctxOf(c), { email: form.email, client: clientAddress(asApp(c)), lang: p.lang });
      setCookie(c, CODE_COOKIE, token, cookieOpts(c, CODE_TTL_MS));
      return c.redirect('/privacy/code', 303);
    } catch (err) {
      if (err instanceof AppError && err.code === 'INVALID_EMAIL') return render(c, <SignInPage p={p} email={email} error={p.t('signIn.errEmail')} />, 400);
      if (err instanceof TooManyRequestsError) {
        c.header('retry-after', String(err.retryAfterSeconds));
        return render(c, <SignInPage p={p} email={email} notice={p.t('limit.tooMany', { min: minutes(err) })} />, 429);
      }
      if (err instanceof MailError) return render(c, <ErrorPage p={p} message={p.t('mail.failed')} />, 503);
      throw err;
    }
  });

  app.get('/code', (c) => {
    if (!isToken(getCookie(c, CODE_COOKIE))) return c.redirect('/privacy', 303);
    const p = pageContext(c);
    return render(c, <CodePage p={p} notice={c.req.query('m') === 'resent' ? p.t('code.resent') : undefined} noticeKind="ok" />);
  });

  app.post('/code', async (c) => {
    const form = await guardedForm(c, publicOrigin);
    if (form instanceof Response) return form;
    const p = pageContext(c);
    try {
      const { sessionToken } = await verifyCode(ctxOf(c), { token: getCookie(c, CODE_COOKIE), code: form.code, client: clientAddress(asApp(c)) });
      deleteCookie(c, CODE_COOKIE, { path: COOKIE_PATH });
      setCookie(c, PORTAL_SESSION_COOKIE, sessionToken, cookieOpts(c, SESSION_MAX_MS));
      return c.redirect('/privacy/consents', 303);
    } catch (err) {
      if (!(err instanceof AppError)) throw err;
      if (err instanceof TooManyRequestsError) {
        c.header('retry-after', String(err.retryAfterSeconds));
        return render(c, <CodePage p={p} notice={p.t('limit.tooMany', { min: minutes(err) })} noticeKind="error" />, 429);
      }
      switch (err.code) {
        case 'CODE_FORMAT':
          return render(c, <CodePage p={p} error={p.t('code.errFormat')} />, 400);
        case 'CODE_WRONG':
          return render(c, <CodePage p={p} error={p.t('code.errWrong', { n: (err.details as { attemptsLeft: number }).attemptsLeft })} />, 401);
        case 'CODE_LOCKED':
          return render(c, <CodePage p={p} notice={p.t('code.errLocked')} noticeKind="error" />, 403);
        case 'CODE_EXPIRED':
          return render(c, <CodePage p={p} notice={p.t('code.errExpired')} noticeKind="error" />, 410);
      }
      throw err;
    }
  });

  app.post('/resend', async (c) => {
    const form = await guardedForm(c, publicOrigin);
    if (form instanceof Response) return form;
    const p = pageContext(c);
    try {
      await resendCode(ctxOf(c), { token: getCookie(c, CODE_COOKIE), client: clientAddress(asApp(c)), lang: p.lang });
      return c.redirect('/privacy/code?m=resent', 303);
    } catch (err) {
      if (err instanceof TooManyRequestsError) {
        c.header('retry-after', String(err.retryAfterSeconds));
        const msg = err.code === 'RESEND_TOO_SOON' ? p.t('code.resendWait', { s: err.retryAfterSeconds }) : p.t('limit.tooMany', { min: minutes(err) });
        return render(c, <CodePage p={p} notice={msg} noticeKind="error" />, 429);
      }
      if (err instanceof AppError && err.code === 'CODE_EXPIRED') return render(c, <CodePage p={p} notice={p.t('code.errExpired')} noticeKind="error" />, 410);
      if (err instanceof MailError) return render(c, <ErrorPage p={p} message={p.t('mail.failed')} />, 503);
      throw err;
    }
  });

  app.post('/sign-out', async (c) => {
    const session = c.get('session');
    if (!session) return c.redirect('/privacy?m=ended', 303);
    const form = await guardedForm(c, publicOrigin);
    if (form instanceof Response) return form;
    await endPortalSession(ctxOf(c), session);
    deleteCookie(c, PORTAL_SESSION_COOKIE, { path: COOKIE_PATH });
    return c.redirect('/privacy?m=signedOut', 303);
  });

  // -------------------------------------------------------------------------- consent centre

  /** The session, or undefined after redirecting to the sign-in page. */
  const signedIn = (c: C) => c.get('session');

  const gone = async (c: C, session: PortalSessionView) => {
    await endPortalSession(ctxOf(c), session);
    deleteCookie(c, PORTAL_SESSION_COOKIE, { path: COOKIE_PATH });
    c.set('session', undefined);
    const p = pageContext(c);
    return render(c, <ErrorPage p={p} message={p.t('consents.errGone')} />, 410);
  };

  app.get('/consents', async (c) => {
    const session = signedIn(c);
    if (!session) return c.redirect('/privacy?m=ended', 303);
    const p = pageContext(c);
    let items;
    try {
      items = await portalConsents(ctxOf(c), session);
    } catch (err) {
      if (err instanceof AppError && err.code === 'SUBJECT_ERASED') return gone(c, session);
      throw err;
    }
    const savedId = c.req.query('saved');
    const saved = items.find((i) => i.purpose.id === savedId)?.purpose.view.title[p.lang];
    return render(c, <ConsentsPage p={p} items={items} gpc={c.req.header('sec-gpc') === '1'} saved={saved} gpcApplied={c.req.query('gpc') === '1'} dates={datesOf(c, p)} />);
  });

  app.post('/consents', async (c) => {
    const session = signedIn(c);
    if (!session) return c.redirect('/privacy?m=ended', 303);
    const form = await guardedForm(c, publicOrigin);
    if (form instanceof Response) return form;
    const p = pageContext(c);
    const purpose = (form.purpose ?? '').slice(0, 200);
    const version = Number(form.version);
    const decision = form.decision as Decision;
    if (!PORTAL_DECISIONS.includes(decision) || !Number.isInteger(version) || version < 1 || purpose === '') {
      return render(c, <ErrorPage p={p} message={p.t('consents.errPurpose')} />, 400);
    }
    try {
      const recorded = await changePortalConsent(ctxOf(c), session, {
        purpose,
        purposeVersion: version,
        decision,
        userAgent: c.req.header('user-agent')?.slice(0, 1000),
        gpc: c.req.header('sec-gpc') === '1',
      });
      const q = new URLSearchParams({ saved: purpose, ...(recorded.gpcApplied ? { gpc: '1' } : {}) });
      return c.redirect(`/privacy/consents?${q}#purpose-${encodeURIComponent(purpose)}`, 303);
    } catch (err) {
      if (!(err instanceof AppError)) throw err;
      if (err.code === 'SUBJECT_ERASED' || err.code === 'SUBJECT_NOT_FOUND') return gone(c, session);
      if (err.code === 'PURPOSE_NOT_FOUND' || err.code === 'PURPOSE_VERSION_NOT_FOUND') return render(c, <ErrorPage p={p} message={p.t('consents.errPurpose')} />, 404);
      throw err;
    }
  });

  app.get('/consents/:purpose/receipt', async (c) => {
    const session = signedIn(c);
    if (!session) return c.redirect('/privacy?m=ended', 303);
    try {
      const { jws, eventId } = await portalReceipt(ctxOf(c), session, c.req.param('purpose').slice(0, 200));
      return c.body(jws, 200, { 'content-type': 'application/jwt', 'content-disposition': `attachment; filename="consent-receipt-${eventId}.jwt"` });
    } catch (err) {
      if (!(err instanceof AppError) || !(err.code === 'CONSENT_EVENT_NOT_FOUND' || err.code === 'SUBJECT_NOT_FOUND')) throw err;
      const p = pageContext(c);
      return render(c, <ErrorPage p={p} message={p.t('error.notFound')} />, 404);
    }
  });

  mountRequestRoutes(app, publicOrigin);

  app.all('*', (c) => {
    const p = pageContext(c);
    return render(c, <ErrorPage p={p} message={p.t('error.notFound')} />, 404);
  });
  return app;
}
