/**
 * One request for the DPO: summary and deadline, the actions the principal may take now (each
 * a form confirmed by a required checkbox; deny and extend need a reason), where each silo
 * stands per phase, the identities (masked, with where each came from), and the timeline read
 * back from the audit log. Every value is escaped by JSX — a silo's error message or a reason
 * containing markup is shown as text.
 */
import { DENIAL_REASONS } from '../../requests/duties.js';
import { MAX_EXTENSION_MONTHS } from '../../requests/deadlines.js';
import { TERMINAL } from '../../requests/service.js';
import type { AdminAction, AdminRequestView } from '../../admin/request-view.js';
import { urgencyOf } from '../../admin/queue.js';
import type { MessageKey } from '../i18n.js';
import { Notice } from '../layout.js';
import { AdminLayout, type AdminCtx } from './layout.js';

/** What the staff member typed in a form that was refused: shown back, never lost. */
export interface ActionDraft {
  action: AdminAction;
  reasonCode?: string;
  reason?: string;
  months?: string;
}

function Confirm(props: { p: AdminCtx; id: string }) {
  return (
    <div class="confirm">
      <input type="checkbox" id={props.id} name="confirm" value="yes" required />
      <label for={props.id}>{props.p.t('admin.action.confirm')}</label>
    </div>
  );
}

function ActionForm(props: { p: AdminCtx; v: AdminRequestView; action: AdminAction; draft?: ActionDraft; error?: string }) {
  const { p, v, action } = props;
  const id = v.request.id;
  const draft = props.draft?.action === action ? props.draft : undefined;
  const errorId = `${action}-error`;
  return (
    <form method="post" action={`/admin/requests/${id}/${action}`} class="admin-action">
      <input type="hidden" name="csrf" value={p.csrf} />
      <h3>{p.t(`admin.action.${action}` as MessageKey)}</h3>
      {draft && props.error ? (
        <p class="field-error" id={errorId} role="alert">
          {props.error}
        </p>
      ) : null}
      {action === 'deny' ? (
        <div>
          <label for="deny-code">{p.t('admin.deny.code')}</label>
          <select id="deny-code" name="reasonCode" required>
            {DENIAL_REASONS.map((r) => (
              <option value={r} selected={draft?.reasonCode === r}>
                {p.t(`admin.deny.${r}` as MessageKey)}
              </option>
            ))}
          </select>
        </div>
      ) : null}
      {action === 'extend' ? (
        <div>
          <label for="extend-months">{p.t('admin.extend.months')}</label>
          <select id="extend-months" name="months" required>
            {Array.from({ length: Math.max(0, MAX_EXTENSION_MONTHS - v.request.extendedMonths) }, (_, i) => String(i + 1)).map((m) => (
              <option value={m} selected={draft?.months === m}>
                {m}
              </option>
            ))}
          </select>
        </div>
      ) : null}
      {action === 'deny' || action === 'extend' ? (
        <div>
          <label for={`${action}-reason`}>{p.t(action === 'deny' ? 'admin.deny.reason' : 'admin.extend.reason')}</label>
          <span class="hint" id={`${action}-reason-hint`}>
            {p.t('admin.reason.hint')}
          </span>
          <textarea
            id={`${action}-reason`}
            name="reason"
            rows={3}
            maxlength={1000}
            required
            aria-describedby={draft && props.error ? `${action}-reason-hint ${errorId}` : `${action}-reason-hint`}
            aria-invalid={draft && props.error ? 'true' : undefined}
          >
            {draft?.reason ?? ''}
          </textarea>
        </div>
      ) : null}
      <Confirm p={p} id={`${action}-confirm`} />
      <div class="actions">
        <button type="submit">{p.t(`admin.action.${action}` as MessageKey)}</button>
      </div>
    </form>
  );
}

export function AdminRequestPage(props: {
  p: AdminCtx;
  v: AdminRequestView;
  logId: string;
  formatDate: (ms: number) => string;
  notice?: string;
  draft?: ActionDraft;
  error?: string;
  now: number;
  /** The identity shown in clear on this answer only (audited). */
  revealed?: { id: number; value: string };
}) {
  const { p, v } = props;
  const r = v.request;
  const urgency = urgencyOf(r, props.now);
  const titleOf = (connector: string) => v.silos.find((s) => s.connector === connector)?.title ?? connector;
  return (
    <AdminLayout p={p} title={p.t('admin.request.heading', { id: r.id })}>
      {props.notice ? <Notice kind="ok">{props.notice}</Notice> : null}
      {props.error && !(props.draft && v.actions.includes(props.draft.action)) ? <Notice kind="error">{props.error}</Notice> : null}
      <dl class="facts">
        <dt>{p.t('admin.filter.type')}</dt>
        <dd>{p.t(`admin.type.${r.type}` as MessageKey)}</dd>
        <dt>{p.t('admin.filter.status')}</dt>
        <dd>{p.t(`admin.status.${r.status}` as MessageKey)}</dd>
        <dt>{p.t('admin.filter.channel')}</dt>
        <dd>{p.t(`admin.channel.${r.channel}` as MessageKey)}</dd>
        <dt>{p.t('admin.filter.lang')}</dt>
        <dd>{r.locale.toUpperCase()}</dd>
        <dt>{p.t('admin.col.received')}</dt>
        <dd>{props.formatDate(r.receivedAt)}</dd>
        <dt>{p.t('admin.col.due')}</dt>
        <dd>
          {props.formatDate(r.dueAt)} {urgency === 'red' ? <span class="badge red">{p.t('admin.urgent')}</span> : null}
        </dd>
        {r.extendedMonths > 0 ? (
          <>
            <dt>{p.t('admin.request.extended')}</dt>
            <dd>{p.t('admin.request.extendedBy', { n: r.extendedMonths, reason: r.extensionReason ?? '' })}</dd>
          </>
        ) : null}
        {r.statusReason ? (
          <>
            <dt>{p.t('admin.request.reason')}</dt>
            <dd>{r.statusReason}</dd>
          </>
        ) : null}
        <dt>{p.t('admin.request.openedBy')}</dt>
        <dd>{r.createdBy}</dd>
      </dl>
      {v.opener ? <Notice>{p.t('admin.request.yours')}</Notice> : null}
      {v.mayPreview ? (
        <p>
          <a href={`/admin/requests/${r.id}/preview`}>{p.t('admin.preview.link')}</a>
        </p>
      ) : null}
      {v.actions.length ? (
        <section aria-labelledby="actions-h">
          <h2 id="actions-h">{p.t('admin.request.actions')}</h2>
          {v.actions.map((a) => (
            <ActionForm p={p} v={v} action={a} draft={props.draft} error={props.error} />
          ))}
        </section>
      ) : null}
      {TERMINAL.includes(r.status) ? (
        <section aria-labelledby="receipt-h" data-receipt-check="" data-request={r.id} data-log={props.logId} data-ok-text={p.t('admin.receipt.ok', { entries: '{entries}', from: '{from}', root: '{root}', to: '{to}' })} data-bad-text={p.t('admin.receipt.bad')}>
          <h2 id="receipt-h">{p.t('admin.receipt.heading')}</h2>
          <p>
            <a href={`/admin/requests/${r.id}/receipt`} download={`request-receipt-${r.id}.jws`}>
              {p.t('admin.request.receipt')}
            </a>
          </p>
          <p class="meta">{p.t('admin.receipt.how')}</p>
          <button type="button" hidden>
            {p.t('admin.receipt.check')}
          </button>
          <div role="status" aria-live="polite" />
          <script type="module" src="/admin/assets/receipt-check.js" />
        </section>
      ) : null}
      <h2>{p.t('admin.request.silos')}</h2>
      {v.silos.length === 0 ? (
        <p>{p.t('admin.request.noTasks')}</p>
      ) : (
        <div class="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">{p.t('admin.col.silo')}</th>
                <th scope="col">{p.t('admin.col.phase')}</th>
                <th scope="col">{p.t('admin.col.progress')}</th>
                <th scope="col">{p.t('admin.col.attempts')}</th>
                <th scope="col">{p.t('admin.col.lastError')}</th>
              </tr>
            </thead>
            <tbody>
              {v.silos.map((s) => (
                <tr>
                  <th scope="row">{s.title}</th>
                  <td>{s.phase}</td>
                  <td>
                    <progress max={s.total} value={s.done} aria-label={`${s.title} ${s.phase}`}>
                      {s.done}/{s.total}
                    </progress>{' '}
                    {p.t('admin.progress', { done: s.done, total: s.total, failed: s.failed })}
                  </td>
                  <td>{s.attempts}</td>
                  <td>{s.lastError ?? '—'}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <h2>{p.t('admin.request.identities')}</h2>
      <ul class="identities">
        {v.view.identities.map((i) => (
          <li>
            <strong>{i.type}</strong> {props.revealed?.id === i.id ? <mark>{props.revealed.value}</mark> : i.value}{' '}
            <span class="meta">
              {p.t('admin.identity.meta', {
                source: i.source === 'request' ? p.t('admin.identity.given') : p.t('admin.identity.found', { place: `${titleOf(i.source)}${i.collection ? ` (${i.collection})` : ''}` }),
                state: p.t(`admin.identity.${i.state}` as MessageKey),
              })}
              {i.reason && i.source !== 'request' ? ` — ${i.reason}` : ''}
            </span>
            {v.mayReveal && props.revealed?.id !== i.id ? (
              <form class="inline" method="post" action={`/admin/requests/${r.id}/identities/${i.id}/reveal`}>
                <input type="hidden" name="csrf" value={p.csrf} />{' '}
                <button class="link" type="submit">
                  {p.t('admin.identity.reveal')}
                </button>
              </form>
            ) : null}
            {v.mayDecide && i.state === 'pending' ? (
              <form method="post" action={`/admin/requests/${r.id}/identities/${i.id}/include`} class="admin-action">
                <input type="hidden" name="csrf" value={p.csrf} />
                <label for={`decide-${i.id}`}>{p.t('admin.identity.reason')}</label>
                <textarea id={`decide-${i.id}`} name="reason" rows={2} maxlength={1000} required />
                <div class="actions">
                  <button type="submit">{p.t('admin.identity.include')}</button>
                  <button type="submit" formaction={`/admin/requests/${r.id}/identities/${i.id}/exclude`}>
                    {p.t('admin.identity.exclude')}
                  </button>
                </div>
              </form>
            ) : null}
          </li>
        ))}
      </ul>
      <h2>{p.t('admin.request.timeline')}</h2>
      <ol class="timeline">
        {v.timeline.map((e) => (
          <li>
            <time datetime={e.at}>{props.formatDate(Date.parse(e.at))}</time> — <code>{e.type}</code> <span class="meta">{e.actor}</span>
          </li>
        ))}
      </ol>
      {v.truncated ? <p class="meta">{p.t('admin.request.truncated')}</p> : null}
      <p>
        <a href="/admin">{p.t('admin.back')}</a>
      </p>
    </AdminLayout>
  );
}
