/**
 * /privacy/requests: a signed-in person's requests (src/portal/requests.ts) — the list and the
 * three requests they can make, the erasure's confirmation step, a status page per request, the
 * archive of a completed access or portability request, the signed receipt of a finished one.
 *
 * Same rules as the rest of the portal (./portal-routes.tsx): every POST passes the same-origin
 * check and the form's CSRF token; an erasure is opened only from the confirmation page's form
 * (`confirm=yes`), never by a bare POST naming the type; someone else's request id, a malformed
 * one and one that does not exist all answer the same 404 page.
 */
import { archiveResponse, downloadByLink } from '../requests/downloads.js';
import type { Context, Hono } from 'hono';
import { AppError, NotFoundError, TooManyRequestsError } from '../errors.js';
import type { RequestType } from '../db/schema/requests.js';
import { PORTAL_REQUEST_TYPES, openPortalRequest, portalArchiveLink, portalErasurePlan, portalRequest, portalRequestReceipt, portalRequests } from '../portal/requests.js';
import { ctxOf, datesOf, guardedForm, pageContext, render, type PEnv } from './portal-routes.js';
import { ErrorPage } from './pages.js';
import { ErasurePage, RequestPage, RequestsPage } from './request-pages.js';

export function mountRequestRoutes(app: Hono<PEnv>, publicOrigin: string | undefined): void {
  app.get('/requests', async (c) => {
    const session = c.get('session');
    if (!session) return c.redirect('/privacy?m=ended', 303);
    const p = pageContext(c);
    return render(c, <RequestsPage p={p} requests={await portalRequests(ctxOf(c), session)} dates={datesOf(c, p)} />);
  });

  app.post('/requests', async (c) => {
    const session = c.get('session');
    if (!session) return c.redirect('/privacy?m=ended', 303);
    const form = await guardedForm(c, publicOrigin);
    if (form instanceof Response) return form;
    const p = pageContext(c);
    const type = form.type as RequestType;
    if (!PORTAL_REQUEST_TYPES.includes(type)) {
      return render(c, <RequestsPage p={p} requests={await portalRequests(ctxOf(c), session)} error={p.t('requests.errType')} dates={datesOf(c, p)} />, 400);
    }
    // An erasure only from its confirmation page, which showed what it deletes and keeps.
    if (type === 'erasure' && form.confirm !== 'yes') return c.redirect('/privacy/requests/erasure', 303);
    const { request, existing } = await openPortalRequest(ctxOf(c), session, { type, lang: p.lang });
    return c.redirect(`/privacy/requests/${request.id}?m=${existing ? 'existing' : 'opened'}`, 303);
  });

  app.get('/requests/erasure', async (c) => {
    const session = c.get('session');
    if (!session) return c.redirect('/privacy?m=ended', 303);
    const p = pageContext(c);
    try {
      return render(c, <ErasurePage p={p} plan={await portalErasurePlan(ctxOf(c), session)} />);
    } catch (err) {
      if (!(err instanceof TooManyRequestsError)) throw err;
      c.header('retry-after', String(err.retryAfterSeconds));
      const error = p.t('limit.tooMany', { min: Math.max(1, Math.ceil(err.retryAfterSeconds / 60)) });
      return render(c, <RequestsPage p={p} requests={await portalRequests(ctxOf(c), session)} error={error} dates={datesOf(c, p)} />, 429);
    }
  });

  const notFound = (c: Context<PEnv>) => {
    const p = pageContext(c);
    return render(c, <ErrorPage p={p} message={p.t('error.notFound')} />, 404);
  };

  app.get('/requests/:id', async (c) => {
    const session = c.get('session');
    if (!session) return c.redirect('/privacy?m=ended', 303);
    const p = pageContext(c);
    try {
      const view = await portalRequest(ctxOf(c), session, c.req.param('id'));
      // The "received" notice of the redirect, not on a reload of the address once it is over.
      const m = view.receipt ? undefined : c.req.query('m');
      const notice = m === 'opened' ? p.t('requests.opened') : m === 'existing' ? p.t('requests.existing') : undefined;
      return render(c, <RequestPage p={p} view={view} notice={notice} dates={datesOf(c, p)} />);
    } catch (err) {
      if (err instanceof AppError && err.code === 'REQUEST_NOT_FOUND') return notFound(c);
      throw err;
    }
  });

  app.get('/requests/:id/receipt', async (c) => {
    const session = c.get('session');
    if (!session) return c.redirect('/privacy?m=ended', 303);
    try {
      const jws = await portalRequestReceipt(ctxOf(c), session, c.req.param('id'));
      return c.body(jws, 200, { 'content-type': 'application/jose', 'content-disposition': `attachment; filename="request-receipt-${c.req.param('id')}.jws"` });
    } catch (err) {
      if (err instanceof AppError && err.code === 'REQUEST_NOT_FOUND') return notFound(c);
      throw err;
    }
  });

  // The status page's download button: a fresh 10-minute link, followed at once.
  app.get('/requests/:id/archive', async (c) => {
    const session = c.get('session');
    if (!session) return c.redirect('/privacy?m=ended', 303);
    try {
      return c.redirect(await portalArchiveLink(ctxOf(c), session, c.req.param('id')), 303);
    } catch (err) {
      if (err instanceof AppError && ['REQUEST_NOT_FOUND', 'EXPORT_NOT_FOUND'].includes(err.code)) return notFound(c);
      throw err;
    }
  });

  // A signed link (the status page's, the completion e-mail's): no session needed, one archive.
  app.get('/archive/:token', async (c) => {
    const p = pageContext(c);
    try {
      const file = await downloadByLink(ctxOf(c), c.req.param('token'));
      if ('expired' in file) return render(c, <ErrorPage p={p} message={p.t('requests.linkExpired')} />, 410);
      return archiveResponse(file);
    } catch (err) {
      if (err instanceof NotFoundError) return notFound(c);
      throw err;
    }
  });
}
