/**
 * The reports' consent section: per purpose, the choices standing today, the share of refusals
 * a Global Privacy Control signal made, and grants and withdrawals per day over the last 90 days
 * (a line chart, then the days with any change as a table).
 */
import type { ConsentReport, Report } from '../../admin/reports.js';
import type { AdminCtx } from './layout.js';
import { chartNumbers as numbers, LineChart } from './charts.js';

function PurposeSection(props: { p: AdminCtx; c: ConsentReport; from: string; to: string }) {
  const { p, c } = props;
  const f = numbers(p.lang);
  const title = c.title[p.lang];
  const granted = c.daily.reduce((s, d) => s + d.granted, 0);
  const withdrawn = c.daily.reduce((s, d) => s + d.withdrawn, 0);
  const max = Math.max(0, ...c.daily.flatMap((d) => [d.granted, d.withdrawn]));
  const busy = c.daily.filter((d) => d.granted > 0 || d.withdrawn > 0);
  const chartTitle = p.t('admin.reports.consentChart', { title, from: props.from, to: props.to });
  const states = ['granted', 'refused', 'withdrawn', 'expired', 'unknown'] as const;
  return (
    <section class="purpose-report" aria-labelledby={`purpose-${c.purpose}`}>
      <h3 id={`purpose-${c.purpose}`}>
        {title} <span class="meta">({c.purpose})</span>
      </h3>
      <table class="figures">
        <caption>{p.t('admin.reports.current')}</caption>
        <thead>
          <tr>
            {states.map((s) => (
              <th scope="col">{p.t(`admin.reports.state.${s}`)}</th>
            ))}
          </tr>
        </thead>
        <tbody>
          <tr>
            {states.map((s) => (
              <td>{f.n(c.states[s])}</td>
            ))}
          </tr>
        </tbody>
      </table>
      <p>
        {c.gpcApplies
          ? p.t('admin.reports.gpc', { refused: f.n(c.refusals.refused), gpc: f.n(c.refusals.gpc), share: f.pct(c.refusals.refused ? c.refusals.gpc / c.refusals.refused : 0) })
          : p.t('admin.reports.gpcNo')}
      </p>
      <LineChart
        id={`chart-consent-${c.purpose}`}
        title={chartTitle}
        desc={p.t('admin.reports.consentDesc', { granted: f.n(granted), withdrawn: f.n(withdrawn), max: f.n(max) })}
        days={c.daily.map((d) => d.date)}
        series={[
          { name: p.t('admin.reports.grants'), values: c.daily.map((d) => d.granted) },
          { name: p.t('admin.reports.withdrawals'), values: c.daily.map((d) => d.withdrawn) },
        ]}
        format={f.n}
        tableLabel={p.t('admin.reports.table')}
        table={
          busy.length === 0 ? (
            <p>{p.t('admin.reports.noChange')}</p>
          ) : (
            <table>
              <caption>{p.t('admin.reports.perDay')}</caption>
              <thead>
                <tr>
                  <th scope="col">{p.t('admin.reports.col.day')}</th>
                  <th scope="col">{p.t('admin.reports.grants')}</th>
                  <th scope="col">{p.t('admin.reports.withdrawals')}</th>
                </tr>
              </thead>
              <tbody>
                {busy.map((d) => (
                  <tr>
                    <th scope="row">{d.date}</th>
                    <td>{f.n(d.granted)}</td>
                    <td>{f.n(d.withdrawn)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )
        }
      />
    </section>
  );
}

/** Its table of days stays folded in the printed report too: up to 90 rows per purpose. */
export function ConsentSection(props: { p: AdminCtx; r: Report }) {
  const { p } = props;
  const c = props.r.consent;
  return (
    <section aria-labelledby="consent">
      <h2 id="consent">{p.t('admin.reports.consent')}</h2>
      <p>{p.t('admin.reports.consentIntro', { from: c.from, to: c.to, subjects: numbers(p.lang).n(c.subjects) })}</p>
      {c.purposes.length === 0 ? <p>{p.t('admin.reports.consentNone')}</p> : c.purposes.map((x) => <PurposeSection p={p} c={x} from={c.from} to={c.to} />)}
    </section>
  );
}
