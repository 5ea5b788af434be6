/**
 * Tasks that wait for their silo's answer: the callback a call is given, the start of a series
 * of calls (recorded before its first call: `startSeries`, the one write here), and the
 * schedule of a task once its silo answered Pending — its deadline and its reminders.
 * ./answers.ts records the answers, reminders and deadlines.
 *
 * Invariant: everything a call of one series is given — the token, the message id, `since`,
 * the announced deadline — is the same for every attempt, retry and reminder of it, so the
 * silo deduplicates and any instance can check the answer. A series ends when the task does;
 * a task the DPO retries after a final failure starts another (a new message id and deadline,
 * the same token: it is the task's, accepted only while the task waits).
 */
import type { CallbackContext, Pending } from '../../connectors/types.js';
import type { Ctx } from '../deps.js';
import type { Task, TaskCounts } from '../db/schema/tasks.js';
import { callbackKey, callbackMessageId, callbackToken } from './callback-token.js';

/** How long a silo has to answer when it does not say (Pending.answerBy): 7 days. */
export const DEFAULT_ANSWER_WITHIN_MS = 7 * 24 * 60 * 60 * 1000;
/** The longest wait a silo may ask for: beyond it, the request's own deadline is at stake. */
export const MAX_ANSWER_WITHIN_MS = 90 * 24 * 60 * 60 * 1000;
/** Reminders no closer than this, whatever the silo asks. */
export const MIN_REMIND_EVERY_MS = 60_000;

/** Where callbacks reach this deployment: OUBLI_PUBLIC_URL, else the address it listens on. */
export function callbackBase(config: Ctx['config']): string {
  if (config.publicUrl) return config.publicUrl.replace(/\/+$/, '');
  const host = config.host.includes(':') ? `[${config.host}]` : config.host;
  return `http://${host}:${config.port}`;
}

/** The callback of a task's call: the same token, message id and `since` for every call of it. */
export function callbackFor(ctx: Pick<Ctx, 'config' | 'secrets' | 'now'>, task: Task, reminder: number): CallbackContext {
  const token = callbackToken(callbackKey(ctx.secrets.masterKey), task);
  const wait = task.result?.wait;
  const since = seriesOf(task) ?? ctx.now();
  return {
    url: `${callbackBase(ctx.config)}/v1/callbacks/${token}`,
    token,
    messageId: callbackMessageId(task.id, since),
    since,
    ...(wait ? { answerBy: wait.answerBy } : {}),
    reminder,
  };
}

/** When the task's current series of calls began, if one did (see TaskCounts.asked). */
export function seriesOf(task: Pick<Task, 'result'>): number | undefined {
  return task.result?.wait?.since ?? task.result?.asked;
}

/**
 * What a task's result keeps through a retryable failure: the start of its series of calls,
 * so that the retry sends the very message the failed attempt sent. Null when it has none.
 */
export function keptThroughRetry(task: Pick<Task, 'result'>): TaskCounts | null {
  const asked = seriesOf(task);
  return asked === undefined ? null : { collections: [], found: 0, deleted: 0, masked: 0, retained: 0, asked };
}

/**
 * Before the first call of a series to a connector that answers through a callback: its start
 * is recorded (by the lease holder, outside any transaction's network call), so that every
 * attempt of the series — a retry after a timeout included — sends the same message. Answers
 * the task as it now stands; unchanged when a series is under way or the connector has no callback.
 */
export async function startSeries(ctx: Pick<Ctx, 'db' | 'now'>, task: Task, owner: string, callback: boolean): Promise<Task> {
  if (!callback || seriesOf(task) !== undefined) return task;
  const result: TaskCounts = { collections: [], found: 0, deleted: 0, masked: 0, retained: 0, asked: ctx.now() };
  await ctx.db.tx((t) => t.tasks.setHeldResult(task.id, owner, result));
  return { ...task, result };
}

/**
 * The schedule of a task its silo answered Pending: the deadline (the silo's, within bounds,
 * else 7 days after the first ask), the reminder period, and when to look next. A task that
 * waited before (a call run again after a crash) keeps its deadline and reminder count.
 */
export function waitOf(ctx: Pick<Ctx, 'now'>, task: Task, pending: Pending, since: number): { wait: NonNullable<TaskCounts['wait']>; next: number } {
  const before = task.result?.wait;
  const first = seriesOf(task) ?? since;
  const answerBy = before?.answerBy ?? Math.min(pending.answerBy ?? first + DEFAULT_ANSWER_WITHIN_MS, first + MAX_ANSWER_WITHIN_MS);
  const remindEveryMs = pending.remindEveryMs === undefined ? null : Math.max(MIN_REMIND_EVERY_MS, pending.remindEveryMs);
  const wait = { since: first, answerBy, remindEveryMs, reminders: before?.reminders ?? 0 };
  return { wait, next: nextCheck(ctx.now(), wait) };
}

/** The next look at a waiting task: its next reminder, or its deadline if that comes first. */
export function nextCheck(now: number, wait: NonNullable<TaskCounts['wait']>): number {
  return wait.remindEveryMs === null ? wait.answerBy : Math.min(now + wait.remindEveryMs, wait.answerBy);
}
