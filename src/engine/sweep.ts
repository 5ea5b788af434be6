/**
 * The engine's periodic clean-up: what a request leaves behind must not outlive its purpose.
 * - Never-verified requests expire at their deadline.
 * - Exports are deleted after their retention (OUBLI_EXPORT_TTL_DAYS), and with them the
 *   request's copy of the person's identifiers.
 * - Spooled access results of requests that will never be exported (or already were) go.
 * Each step is idempotent and commits on its own: an interrupted sweep is resumed by the next.
 */
import { readdir, unlink } from 'node:fs/promises';
import { statementsFor, writeTx } from '../db/client.js';
import type { Ctx } from '../deps.js';
import { auditRequest } from './plan.js';
import { exportsDir, removeSpool } from './spool.js';
import { destroyIdentityValues, getRequestRow, setStatus } from './store.js';

const CLOSED = ['cancelled', 'denied', 'expired', 'failed'] as const;

const stmts = statementsFor((sqlite) => ({
  neverVerified: sqlite.prepare("select id from requests where status = 'pending_verification' and due_at < ?").pluck(),
  expiredExports: sqlite.prepare('select id, export_path as path from requests where export_path is not null and export_expires_at < ?'),
  dropExport: sqlite.prepare('update requests set export_path = null where id = ? and export_path is not null'),
  requestState: sqlite.prepare('select status, stage from requests where id = ?'),
}));

export async function sweepRequests(ctx: Ctx): Promise<void> {
  await sweepFiles(ctx);
  const now = ctx.now();
  const s = stmts(ctx.db);
  for (const id of s.neverVerified.all(now) as string[]) {
    writeTx(ctx.db, () => {
      const req = getRequestRow(ctx.db, id)!;
      if (setStatus(ctx.db, id, ['pending_verification'], 'expired', now, 'never verified before the deadline')) auditRequest(ctx, req, 'request.expired', {});
    });
  }
  for (const { id, path } of s.expiredExports.all(now) as { id: string; path: string }[]) {
    await unlink(path).catch(() => undefined);
    writeTx(ctx.db, () => {
      const dropped = s.dropExport.run(id).changes === 1;
      // The archive is gone: so is the request's copy of the person's identifiers.
      destroyIdentityValues(ctx.db, id);
      if (dropped) auditRequest(ctx, getRequestRow(ctx.db, id) ?? { id, subjectId: null }, 'request.export_deleted', {});
    });
  }
}

const SPOOL = /^req_[0-9a-z]+$/;

async function sweepFiles(ctx: Ctx): Promise<void> {
  let names: string[];
  try {
    names = await readdir(exportsDir(ctx.config.dataDir));
  } catch {
    return;
  }
  const s = stmts(ctx.db);
  for (const name of names) {
    if (!SPOOL.test(name)) continue;
    const r = s.requestState.get(name) as { status: string } | undefined;
    if (r === undefined || ['completed', ...CLOSED].includes(r.status)) await removeSpool(ctx.config.dataDir, name);
  }
}
