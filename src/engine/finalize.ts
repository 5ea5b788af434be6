/**
 * The export step of an access or portability request, run by whichever instance claimed its
 * `finalize` task: the archive is built from the spooled results — which any instance may
 * have written, on the data dir every instance shares — outside any transaction. Its lease is
 * kept alive while it builds (a large export outlasts a connector call's lease), so another
 * instance takes it over only once this one is gone.
 */
import type { Ctx } from '../deps.js';
import type { Task } from '../db/schema/tasks.js';
import { buildExport, type BuiltExport } from '../requests/export.js';
import { includedIds } from '../requests/identities.js';
import { leaseMs, type EngineOptions } from './options.js';

/** The archive, or null when the request no longer waits for it (cancelled meanwhile). */
export async function buildRequestExport(ctx: Ctx, opts: EngineOptions, task: Task): Promise<BuiltExport | null> {
  const req = await ctx.db.requests.get(task.requestId);
  if (!req || req.status !== 'running' || req.stage !== 'finalize') return null;
  const ms = leaseMs(opts);
  const beat = setInterval(() => {
    ctx.db
      .tx((t) => t.tasks.extendLease(task.id, opts.workerId, ctx.now() + ms))
      .catch((err: unknown) => ctx.logger.warn({ err, taskId: task.id }, 'could not extend the export lease'));
  }, Math.max(50, Math.floor(ms / 3)));
  try {
    const [tasks, identities] = await Promise.all([ctx.db.tasks.ofRequest(req.id), ctx.db.requests.identities(req.id)]);
    return await buildExport(ctx, req, tasks, includedIds(identities));
  } finally {
    clearInterval(beat);
  }
}
