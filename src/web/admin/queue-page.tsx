/**
 * The queue: counters that are links to their view, the filter form (GET: a filtered queue is
 * an address to bookmark — it never holds personal data), a table soonest due first with the
 * days left as a badge whose colour is also said in words, keyset pages, the CSV export.
 */
import { CHANNELS, REQUEST_STATUSES, REQUEST_TYPES } from '../../db/schema/requests.js';
import { QUEUE_VIEWS, type QueuePage, type QueueQuery, type QueueRow } from '../../admin/queue.js';
import type { MessageKey } from '../i18n.js';
import { KNOWN_TYPES } from '../../identity.js';
import { Notice } from '../layout.js';
import { AdminLayout, type AdminCtx } from './layout.js';

/** The query string of `q` with `change` applied (empty values dropped). */
export function queueHref(path: string, q: Partial<QueueQuery>, change: Partial<Record<keyof QueueQuery, string | undefined>> = {}): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries({ ...q, ...change })) if (v !== undefined && v !== '' && !(k === 'view' && v === 'open')) params.set(k, String(v));
  const s = params.toString();
  return s ? `${path}?${s}` : path;
}

function Select(props: { p: AdminCtx; name: string; label: string; value?: string; options: readonly string[]; any?: boolean; labelOf: (v: string) => string; idPrefix?: string }) {
  const id = `${props.idPrefix ?? 'f'}-${props.name}`;
  return (
    <div>
      <label for={id}>{props.label}</label>
      <select id={id} name={props.name}>
        {props.any ? <option value="">{props.p.t('admin.filter.any')}</option> : null}
        {props.options.map((o) => (
          <option value={o} selected={props.value === o}>
            {props.labelOf(o)}
          </option>
        ))}
      </select>
    </div>
  );
}

function Badge(props: { p: AdminCtx; row: QueueRow }) {
  const { p, row } = props;
  if (row.urgency === 'none') return <span class="meta">—</span>;
  const text = row.daysLeft < 0 ? p.t('admin.days.overdue', { n: -row.daysLeft }) : p.t('admin.days.left', { n: row.daysLeft });
  return <span class={`badge ${row.urgency}`}>{text}</span>;
}

export function QueuePageView(props: { p: AdminCtx; q: QueueQuery; page: QueuePage; formatDate: (ms: number) => string; notice?: string; noticeKind?: 'ok' | 'error' }) {
  const { p, q, page } = props;
  const c = page.counts;
  const counters: [keyof typeof c, QueueQuery['view'], MessageKey][] = [
    ['open', 'open', 'admin.count.open'],
    ['dueThisWeek', 'week', 'admin.count.week'],
    ['overdue', 'overdue', 'admin.count.overdue'],
    ['needsAttention', 'attention', 'admin.count.attention'],
    ['awaitingApproval', 'approval', 'admin.count.approval'],
  ];
  return (
    <AdminLayout p={p} title={p.t('admin.queue.heading')}>
      {props.notice ? <Notice kind={props.noticeKind ?? 'error'}>{props.notice}</Notice> : null}
      <ul class="counters">
        {counters.map(([key, view, label]) => (
          <li>
            <a href={queueHref('/admin', {}, { view })} aria-current={q.view === view && !q.status ? 'true' : undefined}>
              <strong>{c[key]}</strong> {p.t(label)}
            </a>
          </li>
        ))}
      </ul>
      <form method="get" action="/admin/find" class="search">
        <label for="find-id">{p.t('admin.find.label')}</label>
        <span class="hint" id="find-id-hint">
          {p.t('admin.find.hint')}
        </span>
        <div class="actions">
          <input id="find-id" name="id" type="text" maxlength={64} autocomplete="off" spellcheck={false} aria-describedby="find-id-hint" />
          <button type="submit">{p.t('admin.find.submit')}</button>
        </div>
      </form>
      <form method="post" action="/admin/find" class="search filters">
        <input type="hidden" name="csrf" value={p.csrf} />
        <Select p={p} name="type" idPrefix="find" label={p.t('admin.findId.type')} options={KNOWN_TYPES} labelOf={(v) => v} />
        <div>
          <label for="find-value">{p.t('admin.findId.value')}</label>
          <input id="find-value" name="value" type="text" maxlength={320} autocomplete="off" spellcheck={false} required />
        </div>
        <div class="actions">
          <button type="submit">{p.t('admin.find.submit')}</button>
        </div>
      </form>
      <form method="get" action="/admin" class="filters">
        <Select p={p} name="view" label={p.t('admin.filter.view')} value={q.view} options={QUEUE_VIEWS} labelOf={(v) => p.t(`admin.view.${v}` as MessageKey)} />
        <Select p={p} name="status" label={p.t('admin.filter.status')} value={q.status} options={REQUEST_STATUSES} any labelOf={(v) => p.t(`admin.status.${v}` as MessageKey)} />
        <Select p={p} name="type" label={p.t('admin.filter.type')} value={q.type} options={REQUEST_TYPES} any labelOf={(v) => p.t(`admin.type.${v}` as MessageKey)} />
        <Select p={p} name="channel" label={p.t('admin.filter.channel')} value={q.channel} options={CHANNELS} any labelOf={(v) => p.t(`admin.channel.${v}` as MessageKey)} />
        <Select p={p} name="lang" label={p.t('admin.filter.lang')} value={q.lang} options={['fr', 'en']} any labelOf={(v) => (v === 'fr' ? 'Français' : 'English')} />
        <div class="actions">
          <button type="submit">{p.t('admin.filter.submit')}</button>
          <a href={queueHref('/admin/requests.csv', { ...q, after: undefined })} download>
            {p.t('admin.csv')}
          </a>
        </div>
      </form>
      {page.rows.length === 0 ? (
        <p>{p.t('admin.queue.empty')}</p>
      ) : (
        <div class="table-wrap">
          <table>
            <caption>{p.t('admin.queue.caption')}</caption>
            <thead>
              <tr>
                <th scope="col">{p.t('admin.col.request')}</th>
                <th scope="col">{p.t('admin.filter.type')}</th>
                <th scope="col">{p.t('admin.filter.status')}</th>
                <th scope="col">{p.t('admin.filter.channel')}</th>
                <th scope="col">{p.t('admin.filter.lang')}</th>
                <th scope="col">{p.t('admin.col.received')}</th>
                <th scope="col">{p.t('admin.col.due')}</th>
                <th scope="col">{p.t('admin.col.daysLeft')}</th>
              </tr>
            </thead>
            <tbody>
              {page.rows.map((row) => (
                <tr>
                  <th scope="row">
                    <a href={`/admin/requests/${row.request.id}`}>{row.request.id}</a>
                  </th>
                  <td>{p.t(`admin.type.${row.request.type}` as MessageKey)}</td>
                  <td>{p.t(`admin.status.${row.request.status}` as MessageKey)}</td>
                  <td>{p.t(`admin.channel.${row.request.channel}` as MessageKey)}</td>
                  <td>{row.request.locale.toUpperCase()}</td>
                  <td>{props.formatDate(row.request.receivedAt)}</td>
                  <td>{props.formatDate(row.request.dueAt)}</td>
                  <td>
                    <Badge p={p} row={row} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {page.next ? (
        <p>
          <a href={queueHref('/admin', q, { after: page.next })} rel="next">
            {p.t('admin.queue.next')}
          </a>
        </p>
      ) : null}
      {q.after ? (
        <p>
          <a href={queueHref('/admin', { ...q, after: undefined })}>{p.t('admin.queue.first')}</a>
        </p>
      ) : null}
    </AdminLayout>
  );
}
