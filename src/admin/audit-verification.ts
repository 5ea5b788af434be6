/**
 * "Verify now" from the dashboard: the full verification `oubli audit verify` runs (the whole
 * log recomputed, every signed head and the data dir's saved checkpoint checked), as a
 * background job of the instance the click reached, its progress in the database so every
 * instance's page shows it. One at a time across instances: a click while one runs answers that
 * one. A job whose instance stopped has a heartbeat that stops too: after HEARTBEAT_STALE_MS
 * it shows as interrupted and another may start. Audited: who started it, and its outcome.
 */
import type { Deps } from '../deps.js';
import type { Actor } from '../audit/log.js';
import type { AuditVerification } from '../db/schema/audit.js';
import { verifyAuditLog, type Anchor } from '../audit/verify-log.js';

export const HEARTBEAT_STALE_MS = 30_000;
const PROGRESS_EVERY_MS = 500;
const LOCK = 'audit.verification';

/** Jobs this process runs (tests wait for them). */
const running = new Map<string, Promise<void>>();

export type VerificationView = AuditVerification & { interrupted: boolean };

export function viewOf(v: AuditVerification, now: number): VerificationView {
  return { ...v, interrupted: v.status === 'running' && v.heartbeatAt <= now - HEARTBEAT_STALE_MS };
}

/** Starts a verification, or answers the one already running. */
export async function startVerification(deps: Deps, actor: Actor): Promise<{ id: string; started: boolean }> {
  const now = deps.now();
  const { row, started } = await deps.db.tx(
    async (t) => {
      const live = await t.audit.liveVerification(now - HEARTBEAT_STALE_MS);
      if (live) return { row: live, started: false };
      const row: AuditVerification = {
        id: deps.ids('ver'),
        status: 'running',
        startedBy: `${actor.type}:${actor.id}`,
        startedAt: now,
        heartbeatAt: now,
        finishedAt: null,
        checked: 0,
        total: await t.audit.countEntries(),
        treeHeads: null,
        root: null,
        problem: null,
      };
      await t.audit.insertVerification(row);
      await deps.audit.append(t, { type: 'audit.verification_started', actor, data: { verification: row.id, entries: row.total } });
      return { row, started: true };
    },
    { locks: [LOCK] },
  );
  if (started) {
    const job = run(deps, actor, row.id).finally(() => running.delete(row.id));
    running.set(row.id, job);
  }
  return { id: row.id, started };
}

/** Resolves once the verification `id` run by this process has finished (tests). */
export function verificationSettled(id: string): Promise<void> {
  return running.get(id) ?? Promise.resolve();
}

async function run(deps: Deps, actor: Actor, id: string): Promise<void> {
  let last = 0;
  let checked = 0;
  // The heartbeat beats on its own too: a long stretch without a progress callback (checking the
  // heads, the anchors) must not make the job look interrupted to another instance.
  const beat = setInterval(() => {
    void deps.db.tx((t) => t.audit.verificationProgress(id, checked, deps.now())).catch(() => {});
  }, HEARTBEAT_STALE_MS / 3);
  beat.unref();
  try {
    const anchors: Anchor[] = [];
    const saved = deps.treeHeads.savedCheckpoint();
    if (saved && 'error' in saved) throw new Error(`this data dir's checkpoint file does not verify: ${saved.error}`);
    if (saved) anchors.push({ size: saved.size, root: saved.root, label: "this data dir's latest checkpoint" });
    const report = await verifyAuditLog(deps.db, deps.keys.jwks(), {
      logId: deps.treeHeads.logId,
      anchors,
      onProgress: async (n) => {
        checked = n;
        const now = deps.now();
        if (now - last < PROGRESS_EVERY_MS) return;
        last = now;
        await deps.db.tx((t) => t.audit.verificationProgress(id, n, now));
      },
    });
    await finish(deps, actor, id, {
      status: report.ok ? 'ok' : 'failed',
      checked: report.entries,
      treeHeads: report.treeHeads,
      root: report.root,
      problem: report.problem ?? null,
    });
  } catch (err) {
    deps.logger.error({ err, verification: id }, 'audit verification could not run');
    await finish(deps, actor, id, { status: 'failed', checked, treeHeads: null, root: null, problem: `the verification could not run: ${(err as Error).message}` }).catch(() => {});
  } finally {
    clearInterval(beat);
  }
}

async function finish(deps: Deps, actor: Actor, id: string, done: Pick<AuditVerification, 'status' | 'checked' | 'treeHeads' | 'root' | 'problem'>): Promise<void> {
  const now = deps.now();
  await deps.db.tx(async (t) => {
    await t.audit.finishVerification(id, { ...done, finishedAt: now });
    await deps.audit.append(t, { type: 'audit.verification_finished', actor, data: { verification: id, ok: done.status === 'ok', entries: done.checked } });
  });
}
