/** The erasure preview of a request, for the DPO before approving: per silo and collection, what would be deleted, anonymised or kept, and why. */
import type { PreviewConnector } from '../../requests/preview.js';
import { Notice } from '../layout.js';
import { AdminLayout, type AdminCtx } from './layout.js';

export function PreviewPage(props: { p: AdminCtx; requestId: string; connectors: PreviewConnector[]; titles: Map<string, string>; review: boolean }) {
  const { p } = props;
  return (
    <AdminLayout p={p} title={p.t('admin.preview.heading', { id: props.requestId })}>
      <p>{p.t('admin.preview.intro')}</p>
      {props.review ? <Notice kind="error">{p.t('admin.preview.review')}</Notice> : null}
      <div class="table-wrap">
        <table>
          <thead>
            <tr>
              <th scope="col">{p.t('admin.col.silo')}</th>
              <th scope="col">{p.t('admin.preview.collection')}</th>
              <th scope="col">{p.t('admin.preview.deleted')}</th>
              <th scope="col">{p.t('admin.preview.masked')}</th>
              <th scope="col">{p.t('admin.preview.retained')}</th>
            </tr>
          </thead>
          <tbody>
            {props.connectors.flatMap((c) =>
              c.error
                ? [
                    <tr>
                      <th scope="row">{props.titles.get(c.connector) ?? c.connector}</th>
                      <td colspan={4}>{p.t('admin.preview.unreachable', { error: `${c.error.code}: ${c.error.message}` })}</td>
                    </tr>,
                  ]
                : c.collections.map((col) => (
                    <tr>
                      <th scope="row">{props.titles.get(c.connector) ?? c.connector}</th>
                      <td>{col.name}</td>
                      <td>{col.deleted}</td>
                      <td>{col.masked}</td>
                      <td>{col.retained > 0 ? `${col.retained} — ${col.retainedBecause ?? ''}` : 0}</td>
                    </tr>
                  )),
            )}
          </tbody>
        </table>
      </div>
      <p>
        <a href={`/admin/requests/${props.requestId}`}>{p.t('admin.preview.back')}</a>
      </p>
    </AdminLayout>
  );
}
