/**
 * What a request leaves behind must not outlive its purpose (run by the engine's maintenance,
 * one instance at a time; every step is also safe to run twice or on two instances at once: a
 * guarded update under the request's lock, a delete of what the database says is dead):
 * - never-verified requests expire at their deadline;
 * - exports are deleted after their retention (OUBLI_EXPORT_TTL_DAYS), and with them the
 *   request's copy of the person's identifiers;
 * - a closed request (cancelled, denied, expired, failed) keeps the identifiers it was opened
 *   with only for OUBLI_CLOSED_REQUEST_RETENTION_DAYS (to answer a follow-up), then they go;
 * - files under `<dataDir>/exports/`: spooled results of requests that will never be exported
 *   (or already were), archives no request points at, and the leftovers of an interrupted
 *   build (`.build-*` work dirs, `*.tmp` files) once nothing can be writing them any more.
 * Each step commits on its own: an interrupted sweep is resumed by the next.
 */
import { readdir, rm, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Ctx } from '../deps.js';
import type { RequestStatus } from '../db/schema/requests.js';
import { addEffects, advance, noEffects, type Effects } from './advance.js';
import { auditRequest, requestLock } from './audit.js';
import { exportFileOf, exportsDir, isExportOf, removeSpool, spoolDir } from './spool.js';

const CLOSED: readonly RequestStatus[] = ['cancelled', 'denied', 'expired', 'failed'];
const DAY = 86_400_000;

/** One pass of every step; answers what the commits left to do (see advance.ts). */
export async function sweepRequests(ctx: Ctx): Promise<Effects> {
  await sweepFiles(ctx);
  const now = ctx.now();
  const fx = noEffects();
  for (const id of await ctx.db.requests.unverifiedPastDue(now)) {
    await ctx.db.tx(
      async (t) => {
        const req = await t.requests.get(id);
        if (req && (await t.requests.setStatus(id, ['pending_verification'], 'expired', now, 'never verified before the deadline'))) {
          await auditRequest(ctx, t, req, 'request.expired', {});
        }
      },
      { locks: [requestLock(id)] },
    );
  }
  for (const { id, path } of await ctx.db.requests.expiredExports(now)) {
    const file = exportFileOf(ctx.config.dataDir, { id, exportPath: path });
    if (file) await unlink(file).catch(() => undefined);
    await ctx.db.tx(
      async (t) => {
        const dropped = await t.requests.dropExport(id);
        // The archive is gone: so is the request's copy of the person's identifiers.
        await t.requests.destroyIdentityValues(id);
        if (dropped) await auditRequest(ctx, t, (await t.requests.get(id)) ?? { id, subjectId: null }, 'request.export_deleted', {});
      },
      { locks: [requestLock(id)] },
    );
  }
  const cutoff = now - ctx.config.closedRequestRetentionDays * DAY;
  for (const id of await ctx.db.requests.closedHoldingValues(CLOSED, cutoff)) {
    await ctx.db.tx(
      async (t) => {
        const destroyed = await t.requests.destroyIdentityValues(id);
        if (destroyed > 0) {
          await auditRequest(ctx, t, (await t.requests.get(id)) ?? { id, subjectId: null }, 'request.identities_destroyed', { identities: destroyed, after: 'retention' });
        }
      },
      { locks: [requestLock(id)] },
    );
  }
  // Requests that reached the export stage before its build was a task of its own.
  for (const id of await ctx.db.requests.finalizingWithoutTask()) {
    addEffects(fx, await ctx.db.tx((t) => advance(ctx, t, id), { locks: [requestLock(id)] }));
  }
  return fx;
}

const REQUEST_ID = /^req_[0-9a-z]+$/;
const BUILD = /^\.build-(req_[0-9a-z]+)-[0-9a-f]+$/;
const ZIP_TMP = /^(req_[0-9a-z]+)\.zip\.[0-9a-f]+\.tmp$/;
const ZIP = /^(req_[0-9a-z]+)(?:-[0-9a-f]{8})?\.zip$/;

async function sweepFiles(ctx: Ctx): Promise<void> {
  const dir = exportsDir(ctx.config.dataDir);
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return;
  }
  const state = (id: string) => ctx.db.requests.get(id);
  // Only a request being finalized can have a build in progress (here or on another instance).
  const building = async (id: string) => {
    const r = await state(id);
    return r !== undefined && r.status === 'running' && r.stage === 'finalize';
  };
  for (const name of names) {
    if (REQUEST_ID.test(name)) {
      const r = await state(name);
      if (r === undefined || r.status === 'completed' || CLOSED.includes(r.status)) await removeSpool(ctx.config.dataDir, name);
      else await sweepSpoolTemps(ctx, name);
      continue;
    }
    const zip = ZIP.exec(name);
    if (zip) {
      // An archive its request does not point at: a build that lost its lease, or one that
      // crashed before its completion was recorded.
      const r = await state(zip[1]!);
      const kept = r !== undefined && r.exportPath !== null && exportFileOf(ctx.config.dataDir, r) === join(dir, name);
      if (!kept && !(await building(zip[1]!)) && isExportOf(zip[1]!, name)) await unlink(join(dir, name)).catch(() => undefined);
      continue;
    }
    const build = BUILD.exec(name) ?? ZIP_TMP.exec(name);
    if (build && !(await building(build[1]!))) await rm(join(dir, name), { recursive: true, force: true });
  }
}

/** `<task>.ndjson.tmp` of a live request: left by a call that crashed, unless it runs now (on any instance). */
async function sweepSpoolTemps(ctx: Ctx, requestId: string): Promise<void> {
  const folder = spoolDir(ctx.config.dataDir, requestId);
  let files: string[];
  try {
    files = await readdir(folder);
  } catch {
    return;
  }
  for (const f of files) {
    if (!f.endsWith('.ndjson.tmp')) continue;
    if ((await ctx.db.tasks.status(f.slice(0, -'.ndjson.tmp'.length))) === 'running') continue;
    await unlink(join(folder, f)).catch(() => undefined);
  }
}
