/**
 * The engine's periodic clean-up: what a request leaves behind must not outlive its purpose.
 * - Never-verified requests expire at their deadline.
 * - Exports are deleted after their retention (OUBLI_EXPORT_TTL_DAYS), and with them the
 *   request's copy of the person's identifiers.
 * - A closed request (cancelled, denied, expired, failed) keeps the identifiers it was opened
 *   with only for OUBLI_CLOSED_REQUEST_RETENTION_DAYS (to answer a follow-up), then they go.
 * - Files under `<dataDir>/exports/`: spooled results of requests that will never be exported
 *   (or already were), and the leftovers of an interrupted build (`.build-*` work dirs, `*.tmp`
 *   files) once nothing can be writing them any more.
 * Each step is idempotent and commits on its own: an interrupted sweep is resumed by the next.
 */
import { readdir, rm, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { statementsFor, writeTx } from '../db/client.js';
import type { Ctx } from '../deps.js';
import { auditRequest } from './plan.js';
import { exportsDir, removeSpool, spoolDir } from './spool.js';
import { destroyIdentityValues, getRequestRow, setStatus } from './store.js';

const CLOSED = ['cancelled', 'denied', 'expired', 'failed'] as const;
const DAY = 86_400_000;

const stmts = statementsFor((sqlite) => ({
  neverVerified: sqlite.prepare("select id from requests where status = 'pending_verification' and due_at < ?").pluck(),
  expiredExports: sqlite.prepare('select id, export_path as path from requests where export_path is not null and export_expires_at < ?'),
  dropExport: sqlite.prepare('update requests set export_path = null where id = ? and export_path is not null'),
  closedWithValues: sqlite
    .prepare(
      `select id from requests where status in (${CLOSED.map(() => '?').join(', ')}) and updated_at < ?
        and exists (select 1 from request_identities i where i.request_id = requests.id and (i.value is not null or i.decision_reason is not null))
        limit 500`,
    )
    .pluck(),
  requestState: sqlite.prepare('select status, stage from requests where id = ?'),
  taskStatus: sqlite.prepare('select status from tasks where id = ?').pluck(),
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
  const cutoff = now - ctx.config.closedRequestRetentionDays * DAY;
  for (const id of s.closedWithValues.all(...CLOSED, cutoff) as string[]) {
    writeTx(ctx.db, () => {
      const destroyed = destroyIdentityValues(ctx.db, id);
      if (destroyed > 0) auditRequest(ctx, getRequestRow(ctx.db, id) ?? { id, subjectId: null }, 'request.identities_destroyed', { identities: destroyed, after: 'retention' });
    });
  }
}

const SPOOL = /^req_[0-9a-z]+$/;
const BUILD = /^\.build-(req_[0-9a-z]+)-[0-9a-f]+$/;
const ZIP_TMP = /^(req_[0-9a-z]+)\.zip\.[0-9a-f]+\.tmp$/;

async function sweepFiles(ctx: Ctx): Promise<void> {
  const dir = exportsDir(ctx.config.dataDir);
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return;
  }
  const s = stmts(ctx.db);
  const state = (id: string) => s.requestState.get(id) as { status: string; stage: string | null } | undefined;
  // Only a request being finalized can have a build in progress (here or on another instance).
  const building = (id: string) => {
    const r = state(id);
    return r !== undefined && r.status === 'running' && r.stage === 'finalize';
  };
  for (const name of names) {
    if (SPOOL.test(name)) {
      const r = state(name);
      if (r === undefined || ['completed', ...CLOSED].includes(r.status)) await removeSpool(ctx.config.dataDir, name);
      else await sweepSpoolTemps(ctx, name);
      continue;
    }
    const build = BUILD.exec(name) ?? ZIP_TMP.exec(name);
    if (build && !building(build[1]!)) await rm(join(dir, name), { recursive: true, force: true });
  }

  /** `<task>.ndjson.tmp` of a live request: left by a call that crashed, unless it runs now. */
  async function sweepSpoolTemps(c: Ctx, requestId: string): Promise<void> {
    const folder = spoolDir(c.config.dataDir, requestId);
    let files: string[];
    try {
      files = await readdir(folder);
    } catch {
      return;
    }
    for (const f of files) {
      if (!f.endsWith('.ndjson.tmp')) continue;
      if (s.taskStatus.get(f.slice(0, -'.ndjson.tmp'.length)) === 'running') continue;
      await unlink(join(folder, f)).catch(() => undefined);
    }
  }
}
