/**
 * A silo's later answer to a waiting task (POST /v1/callbacks/{token}): the token names the
 * task and proves the caller was given it (src/engine/callback-token.ts); the answer is
 * validated as the silo's synchronous answer would be, then recorded by the engine's own
 * paths (src/engine/answers.ts), and the request moves on as after any task outcome.
 *
 * Answers, and what changes:
 * - a token of no task, or whose MAC does not match the task as it now stands (forged, or
 *   the task row edited) → CALLBACK_NOT_FOUND, nothing changes;
 * - a task that no longer waits (answered, past its deadline, cancelled, its request no longer
 *   running, or being recorded by another answer right now) → CALLBACK_GONE, nothing changes;
 * - an answer that does not fit (schema, phase, a malformed record) → CALLBACK_INVALID,
 *   nothing changes;
 * - `completed` → the task done (records spooled for the export); `failed` → the task failed
 *   for good (CALLBACK_FAILED), its message, cleaned and capped, as its last error.
 * The token never appears in a log or an audit entry; the task id does.
 */
import { accessOfAnswer, AnswerError, cleanMessage, erasureOfAnswer, type CallbackAnswer } from '../../connectors/callback.js';
import { ConnectorError } from '../../connectors/types.js';
import type { Ctx } from '../deps.js';
import type { Task } from '../db/schema/tasks.js';
import { GoneError, NotFoundError, ValidationError } from '../errors.js';
import { answerTask, type Answer } from '../engine/answers.js';
import { callbackKey, taskIdOfToken, tokenMatches } from '../engine/callback-token.js';
import { readResult } from '../engine/run-task.js';
import { applyEffects } from '../requests/advance.js';

export const CALLBACK_ACTOR = { type: 'system', id: 'callback' } as const;

const notFound = () => new NotFoundError('CALLBACK_NOT_FOUND', 'no task waits for this callback token');
const gone = () => new GoneError('CALLBACK_GONE', 'this task is no longer waiting for an answer (answered, timed out or cancelled)');

/** The task a callback token names, if it is genuine and the task still waits. */
export async function findWaitingTask(ctx: Pick<Ctx, 'db' | 'secrets' | 'now'>, token: string): Promise<Task> {
  const id = taskIdOfToken(token);
  const task = id ? await ctx.db.tasks.get(id) : undefined;
  if (!task || !tokenMatches(callbackKey(ctx.secrets.masterKey), token, task)) throw notFound();
  // Past its deadline a task takes no answer, even before the sweep has failed it.
  if (task.status !== 'waiting' || (task.result?.wait?.answerBy ?? Number.POSITIVE_INFINITY) <= ctx.now()) throw gone();
  return task;
}

/** The answer as the engine takes it, or CALLBACK_INVALID. */
function answerOf(task: Task, body: CallbackAnswer): Answer {
  if (body.status === 'failed') {
    const said = body.message ? cleanMessage(body.message) : '';
    return { kind: 'failed', code: 'CALLBACK_FAILED', message: said ? `the silo reported a failure: ${said}` : 'the silo reported a failure' };
  }
  try {
    const raw = task.phase === 'erase' ? erasureOfAnswer(body) : accessOfAnswer(body);
    const read = readResult(task, raw, true);
    if (read.kind === 'pending') throw new AnswerError('an answer is completed or failed');
    return { kind: 'result', read };
  } catch (err) {
    if (err instanceof AnswerError || err instanceof ConnectorError) throw new ValidationError('CALLBACK_INVALID', err.message.replace(/^connector returned /, 'the answer is '));
    throw err;
  }
}

export async function answerCallback(ctx: Ctx, token: string, body: CallbackAnswer): Promise<{ task: string; status: 'done' | 'failed' }> {
  const task = await findWaitingTask(ctx, token);
  const answer = answerOf(task, body);
  const r = await answerTask(ctx, task, answer, 'callback');
  if (!r.recorded) throw gone();
  try {
    await applyEffects(ctx, r.fx);
  } catch (err) {
    // Recorded all the same: the engines find the new work when they next poll.
    ctx.logger.warn({ err, taskId: task.id }, 'could not announce the work a callback created');
  }
  ctx.logger.info({ taskId: task.id, connector: task.connectorId, phase: task.phase, status: answer.kind === 'failed' ? 'failed' : 'done' }, 'callback answer recorded');
  return { task: task.id, status: answer.kind === 'failed' ? 'failed' : 'done' };
}
