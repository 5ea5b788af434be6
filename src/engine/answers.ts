/**
 * What ends a waiting task — its silo's answer, posted to the callback or given by a
 * reminder's call, or its deadline passing — recorded as the outcome of any call is
 * (./outcomes.ts: recordDone, recordFailure), so the request moves on exactly as after a call.
 * And the sweep (one instance at a time, ./maintenance.ts) that sends reminders and enforces
 * deadlines.
 *
 * Invariants:
 * - **in time, for a running request**: an answer is taken only before the task's deadline
 *   and while its request runs; the deadline itself fails the task whatever the request;
 * - **once**: an answer is taken by a guarded claim (`waiting` → `running` under a lease of
 *   its own, in a transaction holding the request's lock); of any number of answers at once —
 *   a burst of the same callback, a callback racing a reminder's answer or the deadline — one
 *   takes the task, the others find it gone and change nothing;
 * - **nothing network-bound inside a transaction**: a reminder's call is made after the
 *   transaction that books it has committed;
 * - **crash-harmless**: an answer with no records to keep is claimed and recorded in one
 *   transaction (a crash records nothing; the silo's retry is taken). An answer with records
 *   is claimed, spooled, then recorded: a crash in between leaves the task `running` under an
 *   expiring lease, which the engine takes over like any dead worker's — it asks the silo again
 *   (the same message, the same token), which answers again. A reminder booked but not sent is
 *   one reminder fewer; the deadline still holds.
 */
import { randomBytes } from 'node:crypto';
import { ConnectorError } from '../../connectors/types.js';
import type { Ctx } from '../deps.js';
import type { Stores } from '../db/handle.js';
import type { Task } from '../db/schema/tasks.js';
import { addEffects, noEffects, type Effects } from '../requests/advance.js';
import { auditRequest, requestLock } from '../requests/audit.js';
import { timeLimit } from '../requests/silo-call.js';
import { engineOptions, leaseMs } from './options.js';
import { recordDone, recordFailure, type Recorded, type Via } from './outcomes.js';
import { askConnector, outcomeOf, searchedIdentities, type ReadResult } from './run-task.js';
import { nextCheck } from './waiting.js';

export type Answer =
  /** A result of the task's phase, validated (./run-task.ts readResult). */
  | { kind: 'result'; read: Exclude<ReadResult, { kind: 'pending' }> }
  /** The silo failed, or the deadline passed: the task fails for good. */
  | { kind: 'failed'; code: string; message: string };

/** Waiting tasks looked at per sweep, and reminders sent at once. */
const SWEEP_BATCH = 64;
const REMINDERS_AT_ONCE = 8;

/**
 * Records `answer` as the outcome of `task` if it still waits (`dueBy`: and its next check is
 * due by then — the sweep's guard). `recorded: false` when it no longer waits: answered,
 * cancelled, timed out or taken by another answer — then nothing changed.
 */
export async function answerTask(ctx: Ctx, task: Task, answer: Answer, via: Via, dueBy?: number): Promise<Recorded> {
  const opts = engineOptions(ctx, {});
  const owner = `${via}:${randomBytes(6).toString('hex')}`;
  const now = ctx.now();
  const lease = { owner, now, until: now + leaseMs(opts) };
  const locks = { locks: [requestLock(task.requestId)] };
  const searchable = new Set(ctx.connectors.flatMap((c) => c.lookupBy));
  const spools = answer.kind === 'result' && answer.read.kind === 'access' && task.phase === 'access' && (await ctx.db.requests.progress(task.requestId))?.type !== 'erasure';

  // An answer is taken only before the deadline, for a request still running (a task a DB
  // administrator set back to `waiting` on a finished request takes none).
  const claim = async (t: Stores) => {
    if (via !== 'deadline') {
      const req = await t.requests.progress(task.requestId);
      const current = await t.tasks.get(task.id);
      if (req?.status !== 'running' || !current?.result?.wait || current.result.wait.answerBy <= now) return null;
    }
    return t.tasks.claimWaiting(task.id, lease, dueBy);
  };

  if (!spools) {
    return ctx.db.tx(async (t) => {
      const held = await claim(t);
      if (!held) return { recorded: false, fx: noEffects() };
      if (answer.kind === 'failed') return recordFailure(ctx, t, { kind: 'failed', task: held, code: answer.code, message: answer.message, retryable: false, via }, owner, opts);
      const outcome = await outcomeOf(ctx, { task: held, call: await searchedIdentities(t, held), keepRecords: false }, answer.read);
      return recordDone(ctx, t, { kind: 'done', task: held, via, ...outcome }, owner, searchable);
    }, locks);
  }

  // Records to keep: claimed first, so that one answer alone writes the task's spool file.
  const held = await ctx.db.tx(claim, locks);
  if (!held) return { recorded: false, fx: noEffects() };
  let outcome;
  try {
    outcome = await outcomeOf(ctx, { task: held, call: await searchedIdentities(ctx.db, held), keepRecords: true }, answer.read);
  } catch (err) {
    // (A full disk.) Back to the engine's queue, which asks the silo again later.
    const message = (err instanceof Error ? err.message : String(err)).slice(0, 500);
    await ctx.db.tx((t) => recordFailure(ctx, t, { kind: 'failed', task: held, code: 'SPOOL_FAILED', message, retryable: true, via }, owner, opts), locks);
    throw err;
  }
  return ctx.db.tx((t) => recordDone(ctx, t, { kind: 'done', task: held, via, ...outcome }, owner, searchable), locks);
}

/**
 * One pass over the waiting tasks whose next check is due: past its deadline a task fails
 * (CALLBACK_TIMEOUT, the request goes to needs_attention as after any failure); before it, the
 * silo is asked again — the same call, the same callback — and an answer given at once is
 * taken as if posted to the callback. Answers what the commits left to do.
 */
export async function sweepWaiting(ctx: Ctx): Promise<Effects> {
  const fx = noEffects();
  const now = ctx.now();
  const due = await ctx.db.tasks.waitingDue(now, SWEEP_BATCH);
  const reminders: Task[] = [];
  for (const task of due) {
    const wait = task.result?.wait;
    if (wait && now < wait.answerBy) {
      reminders.push(task);
      continue;
    }
    // No schedule (a task that waited before deadlines were kept): the default deadline from its creation.
    const by = new Date(wait?.answerBy ?? task.nextAttemptAt).toISOString();
    const r = await answerTask(ctx, task, { kind: 'failed', code: 'CALLBACK_TIMEOUT', message: `the silo did not answer by ${by}` }, 'deadline', now);
    if (r.recorded) ctx.logger.warn({ taskId: task.id, connector: task.connectorId, phase: task.phase }, 'waiting task timed out');
    addEffects(fx, r.fx);
  }
  for (let i = 0; i < reminders.length; i += REMINDERS_AT_ONCE) {
    const results = await Promise.all(reminders.slice(i, i + REMINDERS_AT_ONCE).map((task) => remind(ctx, task, now)));
    for (const r of results) addEffects(fx, r);
  }
  return fx;
}

/** Books the reminder (so that one sweep sends it), then sends it: the task's call, again. */
async function remind(ctx: Ctx, task: Task, now: number): Promise<Effects> {
  const wait = task.result!.wait!;
  const reminder = wait.reminders + 1;
  const result = { ...task.result!, wait: { ...wait, reminders: reminder } };
  const next = nextCheck(now, wait);
  const booked = await ctx.db.tx(
    async (t) => {
      if (!(await t.tasks.rescheduleWaiting(task.id, task.nextAttemptAt, next, result))) return false;
      const req = (await t.requests.progress(task.requestId)) ?? { id: task.requestId, subjectId: null };
      await auditRequest(ctx, t, req, 'task.reminded', { taskId: task.id, connector: task.connectorId, phase: task.phase, reminder, answerBy: new Date(wait.answerBy).toISOString() });
      return true;
    },
    { locks: [requestLock(task.requestId)] },
  );
  if (!booked) return noEffects();
  const connector = ctx.connectors.find((c) => c.id === task.connectorId);
  if (!connector) {
    ctx.logger.warn({ taskId: task.id, connector: task.connectorId }, 'reminder not sent: the connector is not configured here');
    return noEffects();
  }
  const ac = new AbortController();
  const cancel = timeLimit(ac, ctx.config.taskTimeoutMs);
  try {
    const asked = await askConnector(ctx, { task: { ...task, nextAttemptAt: next, result }, connector, signal: ac.signal, timed: () => undefined, reminder });
    if (asked.read.kind === 'pending') return noEffects(); // still working on it
    return (await answerTask(ctx, task, { kind: 'result', read: asked.read }, 'reminder')).fx;
  } catch (err) {
    // The silo's own word that it failed ends the task, as a `failed` callback would.
    if (err instanceof ConnectorError && err.code === 'SILO_FAILED') {
      return (await answerTask(ctx, task, { kind: 'failed', code: err.code, message: err.message.slice(0, 600) }, 'reminder')).fx;
    }
    // Any other failure of a reminder changes nothing: it is a courtesy (the deadline still holds).
    const code = (err as { code?: unknown })?.code;
    ctx.logger.warn({ taskId: task.id, connector: task.connectorId, code: typeof code === 'string' ? code : undefined }, 'reminder failed');
    return noEffects();
  } finally {
    cancel();
  }
}
