/**
 * The reports page and the printable annual accountability report: the same sections from the
 * same figures (src/admin/reports.ts). On screen each chart's table is in a `<details>`; the
 * annual report shows the requests' ones open, for print (the stylesheet's `@media print` leaves
 * out the navigation and the forms).
 */
import type { Child } from 'hono/jsx';
import { DENIAL_REASONS } from '../../requests/duties.js';
import type { OutcomeRow, Report } from '../../admin/reports.js';
import type { MessageKey } from '../i18n.js';
import { AdminLayout, type AdminCtx } from './layout.js';
import { BarChart, chartNumbers as numbers, type Bar } from './charts.js';
import { ConsentSection } from './report-consent.js';

export interface ReportFormat {
  /** An instant as a date and time in the controller's zone, in the page's language. */
  at: (ms: number) => string;
  /** The controller's time zone (IANA name). */
  zone: string;
}

function rowLabel(p: AdminCtx, row: OutcomeRow): string {
  if (row.type === 'all') return p.t('admin.reports.allTypes');
  const type = p.t(`admin.type.${row.type}` as MessageKey);
  return `${type} — ${row.channel === 'all' ? p.t('admin.reports.allChannels') : p.t(`admin.channel.${row.channel}` as MessageKey)}`;
}

function OutcomesSection(props: { p: AdminCtx; r: Report; open?: boolean }) {
  const { p, r } = props;
  const f = numbers(p.lang);
  const total = r.rows.at(-1)!;
  if (total.received === 0) {
    return (
      <section aria-labelledby="outcomes">
        <h2 id="outcomes">{p.t('admin.reports.outcomes')}</h2>
        <p>{p.t('admin.reports.none')}</p>
      </section>
    );
  }
  const other = (row: OutcomeRow) => row.received - row.onTime - row.late - row.denied;
  const bars: Bar[] = r.rows
    .filter((row) => row.channel === 'all' && row.type !== 'all')
    .flatMap((row) => {
      const type = p.t(`admin.type.${row.type}` as MessageKey);
      return [
        { label: `${type} — ${p.t('admin.reports.col.onTime')}`, value: row.onTime },
        { label: `${type} — ${p.t('admin.reports.col.late')}`, value: row.late },
        { label: `${type} — ${p.t('admin.reports.col.denied')}`, value: row.denied },
        { label: `${type} — ${p.t('admin.reports.other')}`, value: other(row) },
      ];
    });
  return (
    <section aria-labelledby="outcomes">
      <h2 id="outcomes">{p.t('admin.reports.outcomes')}</h2>
      <BarChart
        id="chart-outcomes"
        title={p.t('admin.reports.outcomesChart')}
        desc={p.t('admin.reports.outcomesDesc', { received: total.received, onTime: total.onTime, late: total.late, denied: total.denied, other: other(total) })}
        bars={bars}
        format={f.n}
        open={props.open}
        tableLabel={p.t('admin.reports.table')}
        table={<BarTable p={p} caption={p.t('admin.reports.outcomesChart')} bars={bars} format={f.n} />}
      />
      <div class="table-wrap">
        <table class="figures">
          <caption>{p.t('admin.reports.outcomesCaption')}</caption>
          <thead>
            <tr>
              <th scope="col">{p.t('admin.filter.type')}</th>
              <th scope="col">{p.t('admin.reports.col.received')}</th>
              <th scope="col">{p.t('admin.reports.col.onTime')}</th>
              <th scope="col">{p.t('admin.reports.col.late')}</th>
              <th scope="col">{p.t('admin.reports.col.extended')}</th>
              <th scope="col">{p.t('admin.reports.col.denied')}</th>
              <th scope="col">{p.t('admin.reports.col.median')}</th>
              <th scope="col">{p.t('admin.reports.col.p90')}</th>
            </tr>
          </thead>
          <tbody>
            {r.rows.map((row) => (
              <tr class={row.channel === 'all' ? 'total' : undefined}>
                <th scope="row">{rowLabel(p, row)}</th>
                <td>{f.n(row.received)}</td>
                <td>{f.n(row.onTime)}</td>
                <td>{f.n(row.late)}</td>
                <td>{f.n(row.extended)}</td>
                <td>{f.n(row.denied)}</td>
                <td>{f.days(row.medianDays)}</td>
                <td>{f.days(row.p90Days)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <p class="meta">{p.t('admin.reports.percentiles')}</p>
      {total.denied > 0 ? (
        <div class="table-wrap">
          <table class="figures">
            <caption>{p.t('admin.reports.deniedCaption')}</caption>
            <thead>
              <tr>
                <th scope="col">{p.t('admin.filter.type')}</th>
                <th scope="col">{p.t('admin.reports.col.denied')}</th>
                {DENIAL_REASONS.map((g) => (
                  <th scope="col">{p.t(`admin.deny.${g}` as MessageKey)}</th>
                ))}
              </tr>
            </thead>
            <tbody>
              {r.rows
                .filter((row) => row.denied > 0)
                .map((row) => (
                  <tr class={row.channel === 'all' ? 'total' : undefined}>
                    <th scope="row">{rowLabel(p, row)}</th>
                    <td>{f.n(row.denied)}</td>
                    {DENIAL_REASONS.map((g) => (
                      <td>{f.n(row.deniedBy[g])}</td>
                    ))}
                  </tr>
                ))}
            </tbody>
          </table>
        </div>
      ) : null}
    </section>
  );
}

function BarTable(props: { p: AdminCtx; caption: string; bars: Bar[]; format: (n: number) => string }) {
  const { p } = props;
  return (
    <table>
      <caption>{props.caption}</caption>
      <thead>
        <tr>
          <th scope="col">{p.t('admin.reports.col.what')}</th>
          <th scope="col">{p.t('admin.reports.col.number')}</th>
        </tr>
      </thead>
      <tbody>
        {props.bars.map((b) => (
          <tr>
            <th scope="row">{b.label}</th>
            <td>{props.format(b.value)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function FunnelSection(props: { p: AdminCtx; r: Report; open?: boolean }) {
  const { p } = props;
  const fu = props.r.funnel;
  const f = numbers(p.lang);
  const bars: Bar[] = [
    { label: p.t('admin.reports.funnel.opened'), value: fu.opened },
    { label: p.t('admin.reports.funnel.verified'), value: fu.verified },
    { label: p.t('admin.reports.funnel.pending'), value: fu.pending },
    { label: p.t('admin.reports.funnel.abandoned'), value: fu.abandoned },
    { label: p.t('admin.reports.funnel.closed'), value: fu.closedUnverified },
  ];
  return (
    <section aria-labelledby="funnel">
      <h2 id="funnel">{p.t('admin.reports.funnel')}</h2>
      <BarChart
        id="chart-funnel"
        title={p.t('admin.reports.funnelChart')}
        desc={p.t('admin.reports.funnelDesc', { opened: fu.opened, verified: fu.verified, pending: fu.pending, abandoned: fu.abandoned, closed: fu.closedUnverified })}
        bars={bars}
        format={f.n}
        open={props.open}
        tableLabel={p.t('admin.reports.table')}
        table={<BarTable p={p} caption={p.t('admin.reports.funnelChart')} bars={bars} format={f.n} />}
      />
    </section>
  );
}

function Sections(props: { p: AdminCtx; r: Report; open?: boolean }): Child {
  return (
    <>
      <OutcomesSection {...props} />
      <FunnelSection {...props} />
      <ConsentSection p={props.p} r={props.r} />
    </>
  );
}

export function ReportsPageView(props: { p: AdminCtx; r: Report; f: ReportFormat }) {
  const { p, r } = props;
  const year = Number(r.period.to.slice(0, 4));
  return (
    <AdminLayout p={p} title={p.t('admin.reports.heading')}>
      <form method="get" action="/admin/reports" class="filters period">
        <div>
          <label for="r-from">{p.t('admin.reports.from')}</label>
          <input id="r-from" name="from" type="date" value={r.period.from} aria-describedby="r-hint" />
        </div>
        <div>
          <label for="r-to">{p.t('admin.reports.to')}</label>
          <input id="r-to" name="to" type="date" value={r.period.to} aria-describedby="r-hint" />
        </div>
        <div class="actions">
          <button type="submit">{p.t('admin.reports.submit')}</button>
        </div>
        <span class="hint" id="r-hint">
          {p.t('admin.reports.dateHint')}
        </span>
      </form>
      <p>{p.t('admin.reports.period', { from: r.period.from, to: r.period.to, zone: props.f.zone, at: props.f.at(r.at) })}</p>
      <ul class="annual-links">
        {[year, year - 1].map((y) => (
          <li>
            <a href={`/admin/reports/annual?year=${y}`}>{p.t('admin.reports.annualLink', { year: y })}</a>
          </li>
        ))}
      </ul>
      <Sections p={p} r={r} />
    </AdminLayout>
  );
}

export function AnnualReportView(props: { p: AdminCtx; r: Report; f: ReportFormat }) {
  const { p, r } = props;
  const year = r.period.year ?? Number(r.period.from.slice(0, 4));
  return (
    <AdminLayout p={p} title={p.t('admin.annual.heading', { year })}>
      <p>{p.t('admin.annual.intro', { company: p.brand.companyName, from: r.period.from, to: r.period.to, zone: props.f.zone, at: props.f.at(r.at) })}</p>
      <form method="get" action="/admin/reports/annual" class="filters period">
        <div>
          <label for="r-year">{p.t('admin.annual.year')}</label>
          <input id="r-year" name="year" type="text" inputmode="numeric" maxlength={4} value={String(year)} />
        </div>
        <div class="actions">
          <button type="submit">{p.t('admin.annual.submit')}</button>
          <a href="/admin/reports">{p.t('admin.annual.back')}</a>
        </div>
      </form>
      <p class="screen-only meta">{p.t('admin.annual.print')}</p>
      <Sections p={p} r={r} open />
    </AdminLayout>
  );
}
