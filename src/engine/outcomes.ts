/**
 * Recording what a claimed task came to — in the database, with its audit entry and whatever
 * it moves the request on to (../requests/advance.ts), in one transaction holding the
 * request's lock. Only the lease holder records (a worker that lost its lease, or whose task
 * was cancelled with its request, changes nothing), and a task recorded `done` is never run
 * again. Until its transaction commits an outcome is not recorded: a crash re-runs the task.
 *
 * Group commit (src/db/group-commit.ts): outcomes that arrive in the same turn of the event
 * loop share one transaction; one that cannot be recorded does not undo the others.
 */
import { GroupCommit } from '../db/group-commit.js';
import type { Stores } from '../db/handle.js';
import type { Task, TaskCounts } from '../db/schema/tasks.js';
import type { Ctx } from '../deps.js';
import { maskIdentity } from '../identity.js';
import { addEffects, advance, completeExport, noEffects, type Effects } from '../requests/advance.js';
import type { Discovery } from '../requests/attribution.js';
import { auditRequest, bufferAudit, requestLock } from '../requests/audit.js';
import type { BuiltExport } from '../requests/export.js';
import { MAX_IDENTITIES } from '../requests/plan.js';
import type { CallOutcome } from './run-task.js';
import { backoffDelay, type EngineOptions } from './options.js';
import { keptThroughRetry } from './waiting.js';

export type Outcome =
  | ({ kind: 'done'; task: Task; via?: Via } & CallOutcome)
  | { kind: 'failed'; task: Task; code: string; message: string; retryable: boolean; retryAfterMs?: number; via?: Via }
  | { kind: 'exported'; task: Task; built: BuiltExport | null };

/** How a waiting task's outcome came (src/engine/waiting.ts); absent: the task's own call. */
export type Via = 'callback' | 'reminder' | 'deadline';

/** A silo's Retry-After is honoured up to this (a longer one is the silo's mistake, not a plan). */
const MAX_RETRY_AFTER_MS = 24 * 60 * 60 * 1000;

type RetryOptions = Pick<EngineOptions, 'maxAttempts' | 'backoffBaseMs' | 'backoffMaxMs' | 'random'>;

export interface Recorded {
  /** False when this worker no longer held the task (its outcome was dropped). */
  recorded: boolean;
  /** For failures: whether the task failed for good. */
  final?: boolean;
  /** An export built that no request points at (to delete). */
  discard?: string;
  /** The request completed with its export (its spool can go). */
  exported?: boolean;
  fx: Effects;
}

const GROUP = 64;

/**
 * Given, the request an outcome moves on is handed to it instead of advanced at once: the
 * caller advances it in the same transaction, after the other outcomes it records.
 */
export type AdvanceLater = (requestId: string) => void;

/** Advances the request now, or leaves it to the caller (AdvanceLater). */
async function moveOn(ctx: Ctx, t: Stores, requestId: string, later: AdvanceLater | undefined): Promise<Effects> {
  if (!later) return advance(ctx, t, requestId);
  later(requestId);
  return noEffects();
}

export class OutcomeRecorder {
  private readonly group: GroupCommit<Outcome, Recorded>;
  private readonly searchable: Set<string>;

  constructor(
    private readonly ctx: Ctx,
    private readonly opts: EngineOptions,
  ) {
    this.searchable = new Set(ctx.connectors.flatMap((c) => c.lookupBy));
    this.group = new GroupCommit(ctx.db, {
      max: GROUP,
      run: async (t, items) => {
        // The group's entries are appended together, at its end (see bufferAudit).
        const buffered = bufferAudit(this.ctx);
        const out: Recorded[] = [];
        // Each request the group moves is advanced once, after all of its outcomes (the effects
        // go with its last one): advancing after each would find the others still open.
        const last = new Map<string, number>();
        for (const o of items) out.push(await this.record(buffered.ctx, t, o, (requestId) => last.set(requestId, out.length)));
        for (const [requestId, i] of last) addEffects(out[i]!.fx, await advance(buffered.ctx, t, requestId));
        await buffered.flush(t);
        return out;
      },
      // Every request the group moves, locked up front and in order: two instances' groups
      // never deadlock on them, and each sees the other's outcomes once committed.
      locks: (items) => items.map((o) => requestLock(o.task.requestId)),
    });
  }

  submit(o: Outcome): Promise<Recorded> {
    return this.group.submit(o);
  }

  private record(ctx: Ctx, t: Stores, o: Outcome, advanceLater: AdvanceLater): Promise<Recorded> {
    switch (o.kind) {
      case 'done':
        return recordDone(ctx, t, o, this.opts.workerId, this.searchable, advanceLater);
      case 'failed':
        return recordFailure(ctx, t, o, this.opts.workerId, this.opts, advanceLater);
      case 'exported':
        return this.recordExport(ctx, t, o);
    }
  }

  /** The export step: its task done and the request completed with the archive, together. */
  private async recordExport(ctx: Ctx, t: Stores, o: Extract<Outcome, { kind: 'exported' }>): Promise<Recorded> {
    const { task, built } = o;
    const now = ctx.now();
    const counts: TaskCounts = { collections: [], found: 0, deleted: 0, masked: 0, retained: 0 };
    const held = await t.tasks.finish({ id: task.id, owner: this.opts.workerId, status: 'done', result: counts, code: null, error: null, finishedAt: now, next: task.nextAttemptAt });
    if (!held) return { recorded: false, discard: built?.file, fx: noEffects() };
    if (!built) return { recorded: true, fx: noEffects() };
    const completed = await completeExport(ctx, t, { id: task.requestId, subjectId: held.subjectId }, { path: built.path, files: Object.keys(built.files).length, bytes: built.bytes });
    return completed ? { recorded: true, exported: true, fx: noEffects() } : { recorded: true, discard: built.file, fx: noEffects() };
  }
}

/**
 * Records a done (or waiting) outcome of a task `owner` holds, in the caller's transaction
 * (which holds the request's lock): the task row, the identities found, the audit entry, and
 * whatever the request moves on to. Shared by the engine's calls and a waiting task's answer
 * (./waiting.ts), so both move a request on the same way.
 */
export async function recordDone(
  ctx: Ctx,
  t: Stores,
  o: Extract<Outcome, { kind: 'done' }>,
  owner: string,
  searchable: ReadonlySet<string>,
  advanceLater?: AdvanceLater,
): Promise<Recorded> {
  const { task, counts } = o;
  const now = ctx.now();
  // An access call's result carries its evidence; with nothing found it is empty, and the row
  // is written once (the common case), not finished and then updated.
  const result = task.phase === 'access' ? { ...counts, evidence: [] } : counts;
  const held = await t.tasks.finish({ id: task.id, owner, status: o.status, result, code: null, error: null, finishedAt: now, next: o.next ?? task.nextAttemptAt });
  if (!held) return { recorded: false, fx: noEffects() };
  const req = { id: task.requestId, subjectId: held.subjectId };
  const { added: followed, limited, evidence } = await addDiscovered(t, task, o.discovered, searchable);
  if (task.phase === 'access' && evidence.length > 0) await t.tasks.setResult(task.id, { ...counts, evidence });
  await auditRequest(ctx, t, req, o.status === 'waiting' ? 'task.pending' : 'task.completed', {
    taskId: task.id,
    connector: task.connectorId,
    phase: task.phase,
    round: task.round,
    attempts: task.attempts,
    found: counts.found,
    deleted: counts.deleted,
    masked: counts.masked,
    retained: counts.retained,
    collections: counts.collections.map((c) => ({
      name: c.name,
      ...(task.phase === 'erase'
        ? {
            deleted: c.deleted,
            masked: c.masked,
            retained: c.retained,
            ...(c.retainedBecause ? { retainedBecause: c.retainedBecause } : {}),
            ...(c.retainedFields ? { retainedFields: c.retainedFields } : {}),
          }
        : { found: c.found }),
    })),
    ...(followed.length ? { discovered: followed } : {}),
    ...(limited ? { identityLimitReached: MAX_IDENTITIES } : {}),
    ...(counts.wait ? { answerBy: new Date(counts.wait.answerBy).toISOString() } : {}),
    ...(o.via ? { via: o.via } : {}),
  });
  return { recorded: true, fx: await moveOn(ctx, t, task.requestId, advanceLater) };
}

/**
 * Stores the identities an access call found (bounded) and returns the call's evidence for
 * the judgement at the end of the round: every identity found, known before or not, by id.
 * New ones wait as `pending` until that judgement. One over the bound is still evidence
 * (`id: null`): a value nobody could check cannot make a record look consistent.
 */
async function addDiscovered(t: Stores, task: Task, discovered: Discovery[], searchable: ReadonlySet<string>) {
  const added: { type: string; reason: string; weak?: true }[] = [];
  const evidence: NonNullable<TaskCounts['evidence']> = [];
  let limited = false;
  if (discovered.length === 0) return { added, limited, evidence };
  const rows = await t.requests.identities(task.requestId);
  const known = new Map(rows.filter((i) => i.value !== null).map((i) => [`${i.type}\u0000${i.value}`, i.id]));
  let count = rows.length;
  for (const d of discovered) {
    const { identity } = d;
    const key = `${identity.type}\u0000${identity.value}`;
    let id = known.get(key);
    if (id !== undefined) {
      if (!d.weak) await t.requests.strengthenIdentity(id);
    } else if (count >= MAX_IDENTITIES) {
      limited = true; // bounded expansion: the DPO sees it in the audit entry
    } else {
      id = await t.requests.insertIdentity({
        requestId: task.requestId,
        type: identity.type,
        value: identity.value,
        masked: maskIdentity(identity),
        source: task.connectorId,
        collection: d.collection ?? null,
        reason: d.reason,
        round: task.round,
        searchable: searchable.has(identity.type),
        state: 'pending',
        weak: d.weak,
        depth: 0,
        why: null,
      });
      if (id !== undefined) known.set(key, id);
      count++;
      added.push({ type: identity.type, reason: d.reason, ...(d.weak ? { weak: true as const } : {}) });
    }
    evidence.push({ id: id ?? null, type: identity.type, by: d.by, ...(d.collection ? { collection: d.collection } : {}) });
  }
  return { added, limited, evidence };
}

/**
 * Records a failed attempt of a task `owner` holds, in the caller's transaction: retried later
 * (with backoff, no sooner than the silo's Retry-After), or failed for good — then the request
 * moves on (to needs_attention once nothing else is open).
 */
export async function recordFailure(
  ctx: Ctx,
  t: Stores,
  o: Extract<Outcome, { kind: 'failed' }>,
  owner: string,
  opts: RetryOptions,
  advanceLater?: AdvanceLater,
): Promise<Recorded> {
  const { task, code, retryable } = o;
  const final = !retryable || task.attempts >= opts.maxAttempts;
  const now = ctx.now();
  const backoff = backoffDelay(task.attempts, opts.backoffBaseMs, opts.backoffMaxMs, opts.random);
  const next = final ? task.nextAttemptAt : now + Math.max(backoff, Math.min(o.retryAfterMs ?? 0, MAX_RETRY_AFTER_MS));
  const held = await t.tasks.finish({
    id: task.id,
    owner,
    status: final ? 'failed' : 'queued',
    // A retry of a callback connector's call sends the same message (./waiting.ts).
    result: final ? null : keptThroughRetry(task),
    code,
    error: o.message,
    finishedAt: final ? now : null,
    next,
  });
  if (!held) return { recorded: false, fx: noEffects() };
  const req = (await t.requests.progress(task.requestId))!;
  // The code only: connector messages may quote the values they failed on.
  await auditRequest(ctx, t, req, final ? 'task.failed' : 'task.retry_scheduled', {
    taskId: task.id,
    connector: task.connectorId,
    phase: task.phase,
    attempts: task.attempts,
    code,
    retryable,
    ...(final ? {} : { nextAttemptAt: new Date(next).toISOString() }),
    ...(o.via ? { via: o.via } : {}),
  });
  return { recorded: true, final, fx: final ? await moveOn(ctx, t, task.requestId, advanceLater) : noEffects() };
}
