/**
 * The webhook connector facing a difficult internal system, and the waiting task's life: a
 * receiver answering slowly (timeout, retried with the same message), with 10 MB (cut, no
 * crash), with 503 + Retry-After (honoured) or 410 (fatal); reminders every day with the same
 * message and token, then the 7-day deadline (injected clock); a reminder answered at once; a
 * crash between taking an answer and recording it.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { T0 } from '../helpers/deps.js';
import { adminOf } from '../helpers/admin-sql.js';
import { streamBytes } from '../helpers/receiver.js';
import { ALICE, callbackHarness, type CallbackHarness } from './harness.js';

const DAY = 86_400_000;

let open: CallbackHarness[] = [];
afterEach(async () => {
  for (const h of open) await h.sys.close();
  open = [];
});
async function erasureHarness(opts: Parameters<typeof callbackHarness>[0] = {}) {
  const h = await callbackHarness({ mode: 'async', ...opts, connector: { capabilities: { access: false, erasure: true }, ...opts.connector } });
  open.push(h);
  return h;
}

describe('webhook connector: difficult receivers', () => {
  it('answering slowly: the call times out (retryable), the retry sends the same message and the task waits', async () => {
    const h = await erasureHarness({ connector: { timeoutMs: 300 } });
    let first = true;
    h.sys.override = async (_r, res) => {
      if (!first) return false;
      first = false;
      await sleep(1500);
      res.end('{}');
      return true;
    };
    const id = await h.submit('erasure', [{ type: 'email', value: ALICE.email }]);
    await h.engine.runUntilIdle();
    let [task] = await h.tasksOf(id);
    expect(task).toMatchObject({ status: 'queued', attempts: 1, lastErrorCode: 'SILO_TIMEOUT' });
    h.deps.clock.advance(5000);
    await h.engine.runUntilIdle();
    [task] = await h.tasksOf(id);
    expect(task).toMatchObject({ status: 'waiting', attempts: 2 });
    expect(h.sys.messages).toHaveLength(2);
    const [a, b] = h.sys.messages;
    expect(b!.id).toBe(a!.id);
    expect(b!.body).toEqual(a!.body);
    expect(h.sys.messages.every((m) => m.verified)).toBe(true);
  });

  it('answering 10 MB: the answer is cut at the cap, the task fails (SILO_BAD_RESPONSE), nothing crashes', async () => {
    const h = await erasureHarness({ mode: 'sync' });
    h.sys.override = (_r, res) => (streamBytes(res, 10 * 1024 * 1024), true);
    const rss = process.memoryUsage().rss;
    const id = await h.submit('erasure', [{ type: 'email', value: ALICE.email }]);
    await h.engine.runUntilIdle();
    const req = await h.request(id);
    expect(req.status).toBe('needs_attention');
    expect(req.tasks[0].lastError.code).toBe('SILO_BAD_RESPONSE');
    expect(req.tasks[0].lastError.message).toMatch(/more than 5242880 bytes \(cut, not read\)/);
    expect(process.memoryUsage().rss - rss).toBeLessThan(64 * 1024 * 1024);
  });

  it('503 with Retry-After: retried, no sooner than the receiver asked; 410: fatal', async () => {
    const h = await erasureHarness();
    h.sys.override = (_r, res) => {
      res.writeHead(503, { 'retry-after': '120' });
      res.end();
      return true;
    };
    const id = await h.submit('erasure', [{ type: 'email', value: ALICE.email }]);
    await h.engine.runUntilIdle();
    let [task] = await h.tasksOf(id);
    expect(task).toMatchObject({ status: 'queued', lastErrorCode: 'SILO_UNAVAILABLE' });
    expect(task!.nextAttemptAt).toBe(T0 + 120_000);
    h.sys.override = (_r, res) => ((res.statusCode = 410), res.end(), true);
    h.deps.clock.advance(120_000);
    await h.engine.runUntilIdle();
    [task] = await h.tasksOf(id);
    expect(task).toMatchObject({ status: 'failed', lastErrorCode: 'SILO_GONE' });
    expect((await h.request(id)).status).toBe('needs_attention');
  });
});

describe('webhook connector: reminders and the deadline', () => {
  it('reminded every day with the same message and token; failed at 7 days (CALLBACK_TIMEOUT) → needs_attention', async () => {
    const h = await erasureHarness();
    const id = await h.submit('erasure', [{ type: 'email', value: ALICE.email }]);
    await h.engine.runUntilIdle();
    const [task] = await h.tasksOf(id);
    const first = h.lastMessage();
    // Not due yet: a sweep sends nothing.
    await h.engine.sweep();
    expect(h.sys.messages).toHaveLength(1);
    for (let day = 1; day <= 6; day++) {
      h.deps.clock.set(T0 + day * DAY);
      await h.engine.sweep();
      await h.engine.sweep(); // a second sweep at the same moment sends nothing more
      expect(h.sys.messages, `day ${day}`).toHaveLength(1 + day);
      const m = h.lastMessage();
      expect(m.id).toBe(first.id);
      expect(m.body).toEqual(first.body);
      expect(m.verified).toBe(true);
      expect((await h.deps.db.tasks.get(task!.id))!).toMatchObject({ status: 'waiting', nextAttemptAt: Math.min(T0 + (day + 1) * DAY, T0 + 7 * DAY) });
    }
    const reminded = await h.auditData('task.reminded');
    expect(reminded.map((e) => e.data.reminder)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(reminded[0]!.data).toMatchObject({ taskId: task!.id, connector: 'helpdesk', answerBy: new Date(T0 + 7 * DAY).toISOString() });
    // Day 7: the deadline.
    h.deps.clock.set(T0 + 7 * DAY);
    await h.engine.sweep();
    await h.engine.runUntilIdle();
    expect(h.sys.messages).toHaveLength(7);
    const req = await h.request(id);
    expect(req.status).toBe('needs_attention');
    expect(req.tasks[0].lastError).toEqual({ code: 'CALLBACK_TIMEOUT', message: `the silo did not answer by ${new Date(T0 + 7 * DAY).toISOString()}` });
    const failed = await h.auditData('task.failed');
    expect(failed[0]!.data).toMatchObject({ taskId: task!.id, code: 'CALLBACK_TIMEOUT', via: 'deadline', retryable: false });
    expect(await h.auditTypes(id)).toContain('request.needs_attention');
    expect(h.logs.join('\n')).not.toContain(first.body.data.callbackToken!);
  });

  it('retried by the DPO after the deadline: a new message (new id, new deadline), which the system answers', async () => {
    const h = await erasureHarness();
    const id = await h.submit('erasure', [{ type: 'email', value: ALICE.email }]);
    await h.engine.runUntilIdle();
    const first = h.lastMessage();
    h.deps.clock.set(T0 + 7 * DAY);
    await h.engine.sweep();
    expect((await h.request(id)).status).toBe('needs_attention');
    expect((await h.api('POST', `/v1/requests/${id}/retry`)).status).toBe(200);
    await h.engine.runUntilIdle();
    const again = h.lastMessage();
    // A receiver that deduplicates by webhook-id does not drop the DPO's new ask.
    expect(again.id).not.toBe(first.id);
    expect(again.body.data.answerBy).toBe(new Date(T0 + 14 * DAY).toISOString());
    expect(again.body.data.callbackToken).toBe(first.body.data.callbackToken);
    expect((await h.answer(again.body.data.callbackUrl!, h.sys.answerOf(again))).status).toBe(200);
    expect((await h.request(id)).status).toBe('completed');
  });

  it('configured deadline and period: answerWithin 2h, remindEvery 30m', async () => {
    const h = await erasureHarness({ connector: { answerWithin: '2h', remindEvery: '30m' } });
    const id = await h.submit('erasure', [{ type: 'email', value: ALICE.email }]);
    await h.engine.runUntilIdle();
    const [task] = await h.tasksOf(id);
    expect(task!.result!.wait).toEqual({ since: T0, answerBy: T0 + 7_200_000, remindEveryMs: 1_800_000, reminders: 0 });
    expect(task!.nextAttemptAt).toBe(T0 + 1_800_000);
    expect(h.lastMessage().body.data.answerBy).toBe(new Date(T0 + 7_200_000).toISOString());
  });

  it('a reminder answered at once completes the task as a callback would', async () => {
    const h = await erasureHarness();
    const id = await h.submit('erasure', [{ type: 'email', value: ALICE.email }]);
    await h.engine.runUntilIdle();
    h.sys.mode = 'sync'; // done meanwhile: it answers the reminder with its result
    h.deps.clock.set(T0 + DAY);
    await h.engine.sweep();
    await h.engine.runUntilIdle();
    expect((await h.request(id)).status).toBe('completed');
    const completed = await h.auditData('task.completed');
    expect(completed[0]!.data).toMatchObject({ via: 'reminder', deleted: 2 });
    // Its callback is spent.
    expect((await h.answer(h.lastMessage().body.data.callbackUrl!, { status: 'completed', deleted: 1 })).status).toBe(410);
  });

  it('a reminder answered `failed` at once fails the task; a reminder the system cannot take (503) changes nothing', async () => {
    const h = await erasureHarness();
    const id = await h.submit('erasure', [{ type: 'email', value: ALICE.email }]);
    await h.engine.runUntilIdle();
    h.sys.override = (_r, res) => ((res.statusCode = 503), res.end(), true);
    h.deps.clock.set(T0 + DAY);
    await h.engine.sweep();
    expect((await h.tasksOf(id))[0]).toMatchObject({ status: 'waiting', nextAttemptAt: T0 + 2 * DAY });
    h.sys.override = (_r, res) => (res.end(JSON.stringify({ status: 'failed', message: 'no such account' })), true);
    h.deps.clock.set(T0 + 2 * DAY);
    await h.engine.sweep();
    const req = await h.request(id);
    expect(req.status).toBe('needs_attention');
    expect(req.tasks[0].lastError).toEqual({ code: 'SILO_FAILED', message: 'connector "helpdesk": erasure.requested: the system reported a failure: no such account' });
  });

  it('a crash between taking an access answer and recording it: the engine takes the task over and asks again, same message and token', async () => {
    const h = await callbackHarness({ mode: 'async' });
    open.push(h);
    const id = await h.submit('access', [{ type: 'email', value: ALICE.email }]);
    await h.engine.runUntilIdle();
    const first = h.lastMessage();
    const [task] = await h.tasksOf(id);
    // An instance took the answer (claimed the task) and died before recording it.
    await adminOf(h.deps.db).run("update tasks set status = 'running', lease_owner = 'callback:dead', lease_expires_at = ? where id = ?", h.deps.now() - 1, task!.id);
    expect((await h.answer(first.body.data.callbackUrl!, h.sys.answerOf(first))).status).toBe(410);
    await h.engine.runUntilIdle();
    const again = h.lastMessage();
    expect(h.sys.messages).toHaveLength(2);
    expect(again.id).toBe(first.id);
    expect(again.body).toEqual(first.body);
    expect((await h.deps.db.tasks.get(task!.id))!).toMatchObject({ status: 'waiting' });
    expect((await h.deps.db.tasks.get(task!.id))!.result!.wait!.since).toBe(T0);
    expect((await h.answer(again.body.data.callbackUrl!, h.sys.answerOf(again))).status).toBe(200);
    await h.engine.runUntilIdle();
    expect((await h.request(id)).status).toBe('completed');
  });
});
