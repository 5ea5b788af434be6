/**
 * The audit log for the DPO: the current signed tree head and its checkpoint (to keep outside
 * oubli), the signing keys, and "verify now" — the full verification as a background job whose
 * progress the page shows (it reloads itself every 2 s while one runs: no script needed).
 */
import type { VerificationView } from '../../admin/audit-verification.js';
import { Notice } from '../layout.js';
import { AdminLayout, type AdminCtx } from './layout.js';

export interface AuditPageData {
  size: number;
  root: string;
  timestamp: number;
  checkpoint: string;
  keys: { kid: string; notAfter?: number }[];
  verifications: VerificationView[];
  mayVerify: boolean;
}

function Verification(props: { p: AdminCtx; v: VerificationView; formatDate: (ms: number) => string }) {
  const { p, v } = props;
  const state = v.interrupted ? p.t('admin.verify.interrupted') : v.status === 'running' ? p.t('admin.verify.running') : v.status === 'ok' ? p.t('admin.verify.ok') : p.t('admin.verify.failed');
  return (
    <li>
      <strong>{state}</strong> <span class="meta">{p.t('admin.verify.meta', { at: props.formatDate(v.startedAt), by: v.startedBy })}</span>
      <br />
      <progress max={Math.max(1, v.total)} value={Math.min(v.checked, Math.max(1, v.total))} aria-label={p.t('admin.verify.progress', { checked: v.checked, total: v.total })}>
        {v.checked}/{v.total}
      </progress>{' '}
      {p.t('admin.verify.progress', { checked: v.checked, total: v.total })}
      {v.root ? <span class="meta"> — root {v.root}</span> : null}
      {v.problem ? <Notice kind="error">{v.problem}</Notice> : null}
    </li>
  );
}

export function AuditPage(props: { p: AdminCtx; d: AuditPageData; formatDate: (ms: number) => string; notice?: string }) {
  const { p, d } = props;
  const live = d.verifications.some((v) => v.status === 'running' && !v.interrupted);
  return (
    <AdminLayout p={p} title={p.t('admin.audit.heading')} refreshSeconds={live ? 2 : undefined}>
      {props.notice ? <Notice kind="ok">{props.notice}</Notice> : null}
      <dl class="facts">
        <dt>{p.t('admin.audit.size')}</dt>
        <dd>{d.size}</dd>
        <dt>{p.t('admin.audit.root')}</dt>
        <dd>
          <code>{d.root}</code>
        </dd>
        <dt>{p.t('admin.audit.signedAt')}</dt>
        <dd>{props.formatDate(d.timestamp)}</dd>
      </dl>
      <h2>{p.t('admin.audit.checkpoint')}</h2>
      <p>{p.t('admin.audit.checkpointHow')}</p>
      <pre>{d.checkpoint}</pre>
      <p>
        <a href="/v1/audit/checkpoint" download="checkpoint.txt">
          {p.t('admin.audit.download')}
        </a>
      </p>
      <h2>{p.t('admin.audit.keys')}</h2>
      <ul>
        {d.keys.map((k) => (
          <li>
            <code>{k.kid}</code> {k.notAfter ? <span class="meta">{p.t('admin.audit.retired', { at: props.formatDate(k.notAfter) })}</span> : <span class="meta">{p.t('admin.audit.active')}</span>}
          </li>
        ))}
      </ul>
      <h2>{p.t('admin.audit.verify')}</h2>
      <p>{p.t('admin.audit.verifyHow')}</p>
      {d.mayVerify ? (
        <form method="post" action="/admin/audit/verify">
          <input type="hidden" name="csrf" value={p.csrf} />
          <button type="submit" disabled={live}>
            {p.t('admin.audit.verifyNow')}
          </button>
        </form>
      ) : null}
      {d.verifications.length ? (
        <ul class="verifications" aria-live="polite">
          {d.verifications.map((v) => (
            <Verification p={p} v={v} formatDate={props.formatDate} />
          ))}
        </ul>
      ) : null}
    </AdminLayout>
  );
}
