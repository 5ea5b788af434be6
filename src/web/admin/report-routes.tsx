/**
 * /admin/reports and /admin/reports/annual?year=YYYY: the DPO's reports (src/admin/reports.ts),
 * registered on the dashboard's app behind its staff session (src/web/admin/routes.tsx passes
 * its page context and renderer, so this module does not import it back). Read-only GET pages:
 * every staff role may read them, as they need only `requests:read` and `consents:read`.
 */
import type { Context, Env, Hono } from 'hono';
import type { JSX } from 'hono/jsx/jsx-runtime';
import type { Deps } from '../../deps.js';
import type { Scope } from '../../db/schema/api-keys.js';
import { ValidationError } from '../../errors.js';
import { buildReport, parseReportQuery, type ReportPeriod } from '../../admin/reports.js';
import { dateInZone } from '../../requests/deadlines.js';
import type { AdminCtx } from './layout.js';
import { AdminError } from './pages.js';
import { AnnualReportView, ReportsPageView, type ReportFormat } from './report-page.js';

export const REPORT_SCOPES: readonly Scope[] = ['requests:read', 'consents:read'];

/** What the dashboard lends its report pages. */
export interface AdminKit<E extends Env> {
  context: (c: Context<E>) => AdminCtx;
  render: (c: Context<E>, page: JSX.Element, status?: number) => Promise<Response>;
  /** The signed-in staff member's scopes (the session is checked before these routes). */
  scopes: (c: Context<E>) => readonly Scope[];
}

export function reportRoutes<E extends Env>(app: Hono<E>, deps: Deps, kit: AdminKit<E>): void {
  const format = (lang: string): ReportFormat => {
    const f = new Intl.DateTimeFormat(lang, { dateStyle: 'long', timeStyle: 'short', timeZone: deps.config.timeZone });
    return { at: (ms) => f.format(ms), zone: deps.config.timeZone };
  };

  /** The page, or the 400 / 403 page when the period is invalid or the role may not read reports. */
  async function page(c: Context<E>, query: Record<string, string>, view: 'reports' | 'annual'): Promise<Response> {
    const p = kit.context(c);
    const scopes = kit.scopes(c);
    if (!REPORT_SCOPES.every((s) => scopes.includes(s))) return kit.render(c, <AdminError p={p} message={p.t('admin.refused.role')} />, 403);
    let period: ReportPeriod;
    try {
      period = parseReportQuery(query, deps.now(), deps.config.timeZone);
    } catch (err) {
      if (err instanceof ValidationError) return kit.render(c, <AdminError p={p} message={p.t('admin.reports.invalid', { detail: err.message })} />, 400);
      throw err;
    }
    const r = await buildReport(deps, period);
    const Page = view === 'annual' ? AnnualReportView : ReportsPageView;
    return kit.render(c, <Page p={p} r={r} f={format(p.lang)} />);
  }

  app.get('/reports', (c) => page(c, c.req.query(), 'reports'));

  // Without a year: the last full calendar year, the one an annual report is usually for.
  app.get('/reports/annual', (c) => {
    const query = c.req.query();
    const year = query.year === undefined || query.year === '' ? String(dateInZone(deps.now(), deps.config.timeZone).year - 1) : query.year;
    return page(c, { ...query, year }, 'annual');
  });
}
