/**
 * The portal's request pages: the list with the three requests a person can make, the erasure's
 * confirmation (what would be deleted, anonymised and kept, and why), and one request's status.
 * Only showing here; src/portal/requests.ts decides what the person may see.
 */
import type { DsrRequest, RequestType } from '../db/schema/requests.js';
import type { ErasurePlan, PortalRequestView } from '../portal/requests.js';
import type { MessageKey } from './i18n.js';
import { Layout, Notice, type PageCtx } from './layout.js';
import type { PortalDates } from './time-zone.js';

/** The CNIL's complaint page (GDPR Art. 77); the text names the person's own authority too. */
export const CNIL_COMPLAINT_URL = 'https://www.cnil.fr/fr/plaintes';

/** A count's message in the page's plural form (`…one` / `…other`: French says "0 enregistrement"). */
const counted = (p: PageCtx, key: 'erasure.deleted' | 'erasure.masked' | 'erasure.kept' | 'erasure.keptLaw', n: number, params: Record<string, string> = {}) =>
  p.t(`${key}.${new Intl.PluralRules(p.lang).select(n) === 'one' ? 'one' : 'other'}`, { n, ...params });

const typeKey = (t: RequestType) => `requests.type.${t}` as MessageKey;
const statusKey = (r: DsrRequest) => `requests.status.${r.status}` as MessageKey;

export function RequestsPage(props: { p: PageCtx; requests: DsrRequest[]; error?: string; dates: PortalDates }) {
  const { p } = props;
  return (
    <Layout p={p} title={p.t('requests.heading')} datesIn={props.dates.reloadableIn}>
      {props.error ? <Notice kind="error">{props.error}</Notice> : null}
      <p>{p.t('requests.intro')}</p>
      <h2>{p.t('requests.newHeading')}</h2>
      {(['access', 'portability'] as const).map((type) => (
        <form method="post" action="/privacy/requests" class="request-kind">
          <input type="hidden" name="csrf" value={p.csrf} />
          <input type="hidden" name="type" value={type} />
          <h3>{p.t(typeKey(type))}</h3>
          <p>{p.t(`requests.explain.${type}`)}</p>
          <button type="submit">{p.t(`requests.ask.${type}`)}</button>
        </form>
      ))}
      <div class="request-kind">
        <h3>{p.t('requests.type.erasure')}</h3>
        <p>{p.t('requests.explain.erasure')}</p>
        <a class="button" href="/privacy/requests/erasure">
          {p.t('requests.ask.erasure')}
        </a>
      </div>
      <h2>{p.t('requests.listHeading')}</h2>
      {props.requests.length === 0 ? (
        <p>{p.t('requests.none')}</p>
      ) : (
        <ul class="requests">
          {props.requests.map((r) => (
            <li>
              <a href={`/privacy/requests/${r.id}`}>{p.t(typeKey(r.type))}</a>
              <span class="meta">
                {p.t('requests.receivedOn', { date: props.dates.date(r.receivedAt) })} — {p.t(statusKey(r))}
              </span>
            </li>
          ))}
        </ul>
      )}
    </Layout>
  );
}

export function ErasurePage(props: { p: PageCtx; plan: ErasurePlan }) {
  const { p, plan } = props;
  return (
    <Layout p={p} title={p.t('erasure.heading')}>
      <p>{p.t('erasure.intro')}</p>
      {plan.silos.length === 0 ? <p>{p.t('erasure.nothing')}</p> : null}
      {plan.silos.map((s) => (
        <section class="silo" aria-label={s.title}>
          <h2>{s.title}</h2>
          <ul>
            {s.deleted > 0 ? <li>{counted(p, 'erasure.deleted', s.deleted)}</li> : null}
            {s.masked > 0 ? <li>{counted(p, 'erasure.masked', s.masked)}</li> : null}
            {s.retained.map((k) => (
              <li>{k.because ? counted(p, 'erasure.kept', k.records, { because: k.because }) : counted(p, 'erasure.keptLaw', k.records)}</li>
            ))}
            {s.unreachable ? <li>{p.t('erasure.unreachable')}</li> : null}
          </ul>
        </section>
      ))}
      {plan.review ? <Notice>{p.t('erasure.review')}</Notice> : null}
      <p>
        <strong>{p.t('erasure.consents')}</strong>
      </p>
      <form method="post" action="/privacy/requests">
        <input type="hidden" name="csrf" value={p.csrf} />
        <input type="hidden" name="type" value="erasure" />
        <input type="hidden" name="confirm" value="yes" />
        <div class="actions">
          <button type="submit">{p.t('erasure.confirm')}</button>
          <a href="/privacy/requests">{p.t('erasure.cancel')}</a>
        </div>
      </form>
    </Layout>
  );
}

export function RequestPage(props: { p: PageCtx; view: PortalRequestView; notice?: string; dates: PortalDates }) {
  const { p, view, dates } = props;
  const r = view.request;
  const date = dates.date;
  return (
    <Layout p={p} title={p.t(typeKey(r.type))} datesIn={dates.reloadableIn}>
      {props.notice ? <Notice kind="ok">{props.notice}</Notice> : null}
      <p class="meta">{p.t('requests.number', { id: r.id })}</p>
      <p>
        <strong>{p.t(statusKey(r))}</strong>
      </p>
      <ol class="steps">
        <li>{p.t('requests.receivedOn', { date: date(r.receivedAt) })}</li>
        {r.verified ? <li>{p.t('requests.verified')}</li> : null}
        <li>
          {p.t('requests.progress')}
          {view.silos.length === 0 ? (
            <p class="meta">{p.t('requests.noSilo')}</p>
          ) : (
            <ul>
              {view.silos.map((s) => (
                <li>{p.t('requests.siloState', { title: s.title, state: p.t(`requests.silo.${s.state}`) })}</li>
              ))}
            </ul>
          )}
        </li>
        {r.completedAt !== null && r.status === 'completed' ? <li>{p.t('requests.completedOn', { date: date(r.completedAt) })}</li> : null}
      </ol>
      {r.status !== 'completed' && r.status !== 'denied' && r.status !== 'cancelled' && r.status !== 'expired' ? <p>{p.t('requests.dueBy', { date: dates.due(r.dueAt) })}</p> : null}
      {r.extendedMonths > 0 && r.extensionReason ? <p>{p.t('requests.extended', { n: r.extendedMonths, reason: r.extensionReason })}</p> : null}
      {r.status === 'completed' && r.type === 'erasure' ? <p>{p.t('requests.erasedDone')}</p> : null}
      {r.status === 'completed' && r.type !== 'erasure' ? (
        view.archive ? (
          <p>
            <a class="button" href={`/privacy/requests/${r.id}/archive`} download>
              {p.t('requests.archive')}
            </a>
          </p>
        ) : (
          <p>{p.t('requests.archiveGone')}</p>
        )
      ) : null}
      {r.status === 'denied' ? (
<Notice kind="error">{p.t('requests.deniedBecause', { reason: r.statusReason ?? '' })}</Notice>
      ) : null}
      {view.receipt ? (
        <div class="notice">
          <p>
            <a href={`/privacy/requests/${r.id}/receipt`} download>
              {p.t('requests.receipt')}
            </a>
          </p>
          <p class="meta">{p.t('requests.receiptHow')}</p>
        </div>
      ) : null}
      {r.status === 'denied' || r.status === 'completed' ? (
        <p>
          {p.t('requests.complain')} <a href={CNIL_COMPLAINT_URL}>{p.t('requests.complainLink')}</a>
        </p>
      ) : null}
      <p>
        <a href="/privacy/requests">{p.t('requests.back')}</a>
      </p>
    </Layout>
  );
}
