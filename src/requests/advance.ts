/**
 * The state machine of a running request. Every function here runs inside the caller's
 * transaction, which holds the request's lock (`requestLock`, ./audit.ts): a stage change, the
 * tasks it creates and its audit entries commit together, and two instances recording the last
 * two outcomes of one request at once move it on exactly once — the second sees the first's
 * commit.
 *
 * Stages of a running request:
 *   access (rounds of identity expansion) → [erasure: erase → verify] | [export: finalize] → done.
 * A stage moves on only when none of the request's tasks is open; a failed task stops the
 * request in `needs_attention` until the DPO retries. At the end of every access round the
 * identities found are judged (./review.ts): an identity conflict stops the request in
 * `needs_review` until the DPO has decided every identity under review; it then resumes with
 * another access round (silos searched by an identity no longer held are searched again).
 */
import type { Ctx } from '../deps.js';
import type { Stores } from '../db/handle.js';
import type { DsrRequest } from '../db/schema/requests.js';
import type { RequestProgress } from '../db/stores/requests.js';
import type { RequestIdentity } from '../db/schema/request-identities.js';
import type { Task } from '../db/schema/tasks.js';
import { findSubjectIdByIdentity, forgetSubject } from '../subjects/service.js';
import { auditRequest, subjectForgotten } from './audit.js';
import { judgeIdentities, type Judged } from './identities.js';
import { judgeVerification, MAX_ACCESS_ROUNDS, outcomeCounts, planAccessRound, planExport, planPhase } from './plan.js';

/**
 * What a transaction that moved requests leaves for after its commit: new tasks (wake the
 * engines), people forgotten (checkpoint the store, so that their rows leave the WAL).
 */
export interface Effects {
  tasks: number;
  forgotten: number;
}

export const noEffects = (): Effects => ({ tasks: 0, forgotten: 0 });

/** The channel the engines listen on for new work (src/engine/worker.ts). */
export const ENGINE_CHANNEL = 'engine';

/**
 * After the commit: wakes every instance's engine when there is new work, and flushes the
 * store's write-ahead log when people were forgotten (their rows and keys must not linger in it).
 */
export async function applyEffects(ctx: Pick<Ctx, 'db'>, fx: Effects): Promise<void> {
  if (fx.tasks > 0) await ctx.db.notify(ENGINE_CHANNEL);
  if (fx.forgotten > 0) await ctx.db.checkpoint();
}

export function addEffects(a: Effects, b: Effects): Effects {
  a.tasks += b.tasks;
  a.forgotten += b.forgotten;
  return a;
}

/** running: the first access round. Call after the guarded move to `running`. */
export async function startRequest(ctx: Ctx, t: Stores, requestId: string): Promise<Effects> {
  const req = (await t.requests.progress(requestId))!;
  await t.requests.setStage(req.id, 'access', 1, ctx.now());
  const identities = await t.requests.identities(req.id);
  const created = await planAccessRound(ctx, t, req.id, 1, await t.tasks.ofRequest(req.id), identities);
  await auditRequest(ctx, t, req, 'request.started', { stage: 'access', round: 1, tasks: created });
  return addEffects({ tasks: created, forgotten: 0 }, await advance(ctx, t, req.id));
}

/**
 * Moves a running request on as far as it can go without calling a connector. Idempotent:
 * called after every task outcome and at every transition.
 */
export async function advance(ctx: Ctx, t: Stores, requestId: string): Promise<Effects> {
  const fx = noEffects();
  for (let guard = 0; guard < 10; guard++) {
    // Open tasks first: most outcomes are not the last of their round, and stop here.
    if ((await t.tasks.openCount(requestId)) > 0) return fx;
    const req = await t.requests.progress(requestId);
    if (!req || req.status !== 'running') return fx;
    const tasks = await t.tasks.ofRequest(req.id);
    const failed = tasks.filter((x) => x.status === 'failed');
    // A silo that failed for good does not hold the others back: they go on; the request
    // ends in needs_attention instead of completed.
    const blocked = new Set(failed.map((x) => x.connectorId));
    let identities = await t.requests.identities(req.id);
    const now = ctx.now();
    switch (req.stage) {
      case 'access': {
        const judged = await judgeIdentities(ctx, t, identities, tasks);
        if (judged.pending.length > 0) {
          await needsReview(ctx, t, req, judged);
          return fx;
        }
        identities = judged.identities;
        if (req.round < MAX_ACCESS_ROUNDS) {
          const created = await planAccessRound(ctx, t, req.id, req.round + 1, tasks, identities, blocked);
          if (created > 0) {
            await t.requests.setStage(req.id, 'access', req.round + 1, now);
            await auditRequest(ctx, t, req, 'request.expansion_round', { round: req.round + 1, tasks: created, identities: identities.length });
            fx.tasks += created;
            return fx;
          }
        }
        if (req.type === 'erasure') {
          const round = req.round + 1;
          await t.requests.setStage(req.id, 'erase', round, now);
          const created = await planPhase(ctx, t, req.id, 'erase', round, tasks, identities, blocked);
          await auditRequest(ctx, t, req, 'request.stage', { stage: 'erase', tasks: created, identities: identities.length });
          fx.tasks += created;
          continue;
        }
        if (failed.length > 0) {
          await needsAttention(ctx, t, req, failed);
          return fx;
        }
        await t.requests.setStage(req.id, 'finalize', req.round, now);
        await planExport(ctx, t, req.id, req.round);
        fx.tasks++;
        return fx;
      }
      case 'erase': {
        const round = req.round + 1;
        await t.requests.setStage(req.id, 'verify', round, now);
        const created = await planPhase(ctx, t, req.id, 'verify', round, tasks, identities, blocked);
        await auditRequest(ctx, t, req, 'request.stage', { stage: 'verify', tasks: created });
        fx.tasks += created;
        continue;
      }
      case 'verify': {
        if (failed.length > 0) await needsAttention(ctx, t, req, failed);
        else fx.forgotten += await finishErasure(ctx, t, req, tasks, identities);
        return fx;
      }
      case 'finalize': {
        // The export step failed for good (needs the DPO), or none is open (a request that
        // reached this stage before export builds were tasks): plan one.
        if (failed.length > 0) {
          await needsAttention(ctx, t, req, failed);
        } else {
          await planExport(ctx, t, req.id, req.round);
          fx.tasks++;
        }
        return fx;
      }
      default:
        return fx;
    }
  }
  return fx;
}

/**
 * Stops for the DPO: the evidence contradicts itself. The entry names the identities under
 * review by id and type, and where the contradiction was seen — never a value.
 */
async function needsReview(ctx: Ctx, t: Stores, req: RequestProgress, judged: Judged): Promise<void> {
  const conflicts = judged.pending.filter((i) => i.why?.code === 'identity_conflict' || i.why?.code === 'leads_to_conflict');
  const reason = `identity conflict: ${judged.pending.length} identit${judged.pending.length === 1 ? 'y needs' : 'ies need'} the DPO's decision`;
  await t.requests.setStatus(req.id, ['running'], 'needs_review', ctx.now(), reason, 'identity_conflict');
  await auditRequest(ctx, t, req, 'request.needs_review', {
    reason: 'identity_conflict',
    pending: judged.pending.map((i) => ({
      identity: i.id,
      type: i.type,
      code: i.why?.code,
      ...(i.why?.conflictingType ? { conflictingType: i.why.conflictingType } : {}),
      ...(i.why?.connector ? { connector: i.why.connector } : {}),
      ...(i.why?.collection ? { collection: i.why.collection } : {}),
      ...(i.why?.round ? { round: i.why.round } : {}),
    })),
    conflicts: conflicts.length,
  });
}

/**
 * After a DPO decision: judges again and, once no identity is under review, moves the request
 * back to running (the next access round searches again where needed). Null while some
 * identity still waits.
 */
export async function resumeAfterReview(ctx: Ctx, t: Stores, requestId: string): Promise<Effects | null> {
  const req = await t.requests.progress(requestId);
  if (!req || req.status !== 'needs_review') return null;
  const judged = await judgeIdentities(ctx, t, await t.requests.identities(requestId), await t.tasks.ofRequest(requestId));
  if (judged.pending.length > 0) return null;
  if (!(await t.requests.setStatus(requestId, ['needs_review'], 'running', ctx.now()))) return null;
  await auditRequest(ctx, t, req, 'request.resumed', { after: 'identity_review' });
  return advance(ctx, t, requestId);
}

async function needsAttention(ctx: Ctx, t: Stores, req: RequestProgress, failed: Task[]): Promise<void> {
  const reason = failed.map((x) => `${x.connectorId} (${x.phase}): ${x.lastErrorCode ?? 'ERROR'} — ${(x.lastError ?? '').slice(0, 200)}`).join('; ');
  await t.requests.setStatus(req.id, ['running'], 'needs_attention', ctx.now(), `${failed.length} task(s) failed: ${reason}`.slice(0, 2000));
  await auditRequest(ctx, t, req, 'request.needs_attention', {
    failed: failed.map((x) => ({ connector: x.connectorId, phase: x.phase, code: x.lastErrorCode, attempts: x.attempts })),
  });
}

/**
 * Records the verification, forgets the person in the consent registry and destroys the
 * request's copy of their identifiers, then completes. A verification that finds data beyond
 * what was declared retained stops in needs_attention instead (retry erases again). Answers
 * how many registry subjects were forgotten.
 */
async function finishErasure(ctx: Ctx, t: Stores, req: RequestProgress, tasks: Task[], identities: RequestIdentity[]): Promise<number> {
  const verification = judgeVerification(tasks);
  await t.requests.setVerification(req.id, verification);
  await auditRequest(ctx, t, req, 'request.verified_erasure', verification as unknown as Record<string, unknown>);
  if (!verification.ok) {
    const what = verification.residual.map((r) => `${r.connector}.${r.collection}: ${r.records}`).join(', ');
    await t.requests.setStatus(req.id, ['running'], 'needs_attention', ctx.now(), `verification found data left after erasure — ${what}`.slice(0, 1000));
    await auditRequest(ctx, t, req, 'request.needs_attention', { reason: 'verification_failed', residual: verification.residual });
    return 0;
  }
  // Only the request's own people: the registry subjects of the identities given with the
  // request and of those the DPO included — never one reached through a discovered identity
  // (a shared phone, another customer's account): forgetting destroys their consent record.
  const subjects = new Set<string>();
  for (const i of identities) {
    if (i.value === null || i.state !== 'included' || !(i.source === 'request' || i.decision === 'include')) continue;
    const s = await findSubjectIdByIdentity(t, { type: i.type, value: i.value });
    if (s) subjects.add(s);
  }
  // The completion entry still names the person's pseudonym; forgetting destroys it afterwards.
  if (!(await t.requests.complete(req.id, 'verify', ctx.now()))) return 0;
  // Their access and portability archives hold what was just erased: none is handed out any more.
  const exportsEnded = await t.requests.expireExportsOfSubjects([...subjects], ctx.now());
  await auditRequest(ctx, t, req, 'request.completed', { outcome: outcomeCounts(tasks), subjectsForgotten: subjects.size, exportsEnded });
  for (const s of subjects) {
    await forgetSubject(ctx, t, s);
    subjectForgotten(ctx, s);
  }
  await t.requests.destroyIdentityValues(req.id);
  return subjects.size;
}

/**
 * Access and portability: the export built by the finalize step is the request's outcome.
 * False when the request left that stage meanwhile (cancelled): the caller deletes the file.
 */
export async function completeExport(
  ctx: Ctx,
  t: Stores,
  req: Pick<DsrRequest, 'id' | 'subjectId'>,
  built: { path: string; files: number; bytes: number },
): Promise<boolean> {
  const now = ctx.now();
  const expiresAt = now + ctx.config.exportTtlDays * 86_400_000;
  if (!(await t.requests.complete(req.id, 'finalize', now, { path: built.path, expiresAt }))) return false;
  await auditRequest(ctx, t, req, 'request.completed', {
    outcome: outcomeCounts(await t.tasks.ofRequest(req.id)),
    export: { files: built.files, bytes: built.bytes, expiresAt: new Date(expiresAt).toISOString() },
  });
  return true;
}
