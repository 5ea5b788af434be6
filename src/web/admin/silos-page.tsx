/**
 * Silos and webhooks (src/admin/silos.ts): every staff member reads it; the redeliver and
 * recover forms are offered only to whom may use them (`webhooks:write`). Every value — a
 * delivery's last error above all, the receiver's words — is escaped by JSX.
 */
import type { EndpointRow, SiloRow } from '../../admin/silos.js';
import type { MessageKey } from '../i18n.js';
import { Notice } from '../layout.js';
import { PostForm } from './forms.js';
import { AdminLayout, type AdminCtx } from './layout.js';

function Health(props: { p: AdminCtx; row: SiloRow }) {
  const { p } = props;
  const h = props.row.health;
  if (!h) return <span class="meta">{p.t('admin.silos.noCheck')}</span>;
  if (!h.ok)
    return (
      <>
        <span class="badge red">{p.t('admin.silos.unhealthy')}</span> <code>{h.code}</code> {h.message}
      </>
    );
  return (
    <>
      <span class="badge ok">{p.t('admin.silos.healthy')}</span>
      {h.latencyMs !== undefined ? <span class="meta"> {h.latencyMs} ms</span> : null}
      {h.warnings?.length ? (
        <ul>
          {h.warnings.map((w) => (
            <li>{w}</li>
          ))}
        </ul>
      ) : null}
    </>
  );
}

function Silos(props: { p: AdminCtx; silos: SiloRow[]; formatDate: (ms: number) => string }) {
  const { p, formatDate } = props;
  if (props.silos.length === 0) return <p>{p.t('admin.silos.none')}</p>;
  return (
    <div class="table-wrap">
      <table>
        <thead>
          <tr>
            <th scope="col">{p.t('admin.col.silo')}</th>
            <th scope="col">{p.t('admin.silos.col.health')}</th>
            <th scope="col">{p.t('admin.silos.col.lastSuccess')}</th>
            <th scope="col">{p.t('admin.silos.col.failures')}</th>
            <th scope="col">{p.t('admin.silos.col.waiting')}</th>
          </tr>
        </thead>
        <tbody>
          {props.silos.map((s) => (
            <tr id={`silo-${s.id}`}>
              <th scope="row">
                {s.title} <span class="meta">{s.id}</span>
              </th>
              <td>
                <Health p={p} row={s} />
              </td>
              <td>{s.lastSuccessAt === null ? p.t('admin.silos.never') : formatDate(s.lastSuccessAt)}</td>
              <td>
                {s.failureRate === null
                  ? p.t('admin.silos.noneFinished')
                  : p.t('admin.silos.rate', { pct: Math.round(s.failureRate * 100), failed: s.failed, finished: s.done + s.failed })}
              </td>
              <td>{s.oldestWaitingAt === null ? p.t('admin.silos.noneWaiting') : p.t('admin.silos.waitingSince', { date: formatDate(s.oldestWaitingAt), n: s.waiting })}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function Endpoint(props: { p: AdminCtx; row: EndpointRow; canWrite: boolean; formatDate: (ms: number) => string }) {
  const { p, formatDate, canWrite } = props;
  const e = props.row.endpoint;
  return (
    <section aria-labelledby={`wh-${e.id}`}>
      <h3 id={`wh-${e.id}`}>
        <code>{e.url}</code>{' '}
        {e.status === 'enabled' ? <span class="badge ok">{p.t('admin.webhooks.enabled')}</span> : <span class="badge red">{p.t('admin.webhooks.disabled')}</span>}
      </h3>
      {e.description ? <p>{e.description}</p> : null}
      {e.disabledReason ? <p>{e.disabledReason}</p> : null}
      {e.failingSince ? <p>{p.t('admin.webhooks.failingSince', { date: formatDate(Date.parse(e.failingSince)) })}</p> : null}
      {canWrite && (e.status === 'disabled' || e.failingSince) ? <PostForm p={p} action={`/admin/silos/webhooks/${e.id}/recover`} id={`recover-${e.id}`} submit={p.t('admin.webhooks.recover')} /> : null}
      {props.row.deliveries.length === 0 ? (
        <p>{p.t('admin.webhooks.noDeliveries')}</p>
      ) : (
        <div class="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">{p.t('admin.webhooks.col.event')}</th>
                <th scope="col">{p.t('admin.webhooks.col.created')}</th>
                <th scope="col">{p.t('admin.webhooks.col.status')}</th>
                <th scope="col">{p.t('admin.col.attempts')}</th>
                <th scope="col">{p.t('admin.col.lastError')}</th>
                {canWrite ? <th scope="col">{p.t('admin.users.col.actions')}</th> : null}
              </tr>
            </thead>
            <tbody>
              {props.row.deliveries.map((d) => (
                <tr>
                  <td>
                    <code>{d.type}</code>
                  </td>
                  <td>{formatDate(Date.parse(d.createdAt))}</td>
                  <td>{p.t(`admin.webhooks.status.${d.status}` as MessageKey)}</td>
                  <td>
                    {d.attempts}/{d.maxAttempts}
                  </td>
                  <td>{d.lastError ? `${d.lastStatus ? `${d.lastStatus} ` : ''}${d.lastError}` : '—'}</td>
                  {canWrite ? (
                    <td>
                      {d.status === 'failed' && e.status === 'enabled' ? (
                        <PostForm p={p} action={`/admin/silos/deliveries/${d.id}/redeliver`} id={`redeliver-${d.id}`} submit={p.t('admin.webhooks.redeliver')} />
                      ) : null}
                    </td>
                  ) : null}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

/** `endpoints` undefined: the staff member may not see the webhooks (no `webhooks:read`), the section is left out. */
export function SilosPage(props: { p: AdminCtx; silos: SiloRow[]; endpoints: EndpointRow[] | undefined; canWrite: boolean; formatDate: (ms: number) => string; notice?: string; error?: string }) {
  const { p } = props;
  return (
    <AdminLayout p={p} title={p.t('admin.silos.heading')}>
      {props.notice ? <Notice kind="ok">{props.notice}</Notice> : null}
      {props.error ? <Notice kind="error">{props.error}</Notice> : null}
      <Silos p={p} silos={props.silos} formatDate={props.formatDate} />
      {props.endpoints ? (
        <>
          <h2>{p.t('admin.webhooks.heading')}</h2>
          {props.endpoints.length === 0 ? <p>{p.t('admin.webhooks.none')}</p> : null}
          {props.endpoints.map((row) => (
            <Endpoint p={p} row={row} canWrite={props.canWrite} formatDate={props.formatDate} />
          ))}
        </>
      ) : null}
    </AdminLayout>
  );
}
