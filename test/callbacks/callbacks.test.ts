/**
 * The webhook connector end to end, on loopback: oubli tells an internal system (a real HTTP
 * server verifying every message with the `standardwebhooks` package) to erase or export a
 * person; the system answers at once or later through POST /v1/callbacks/{token}; the request
 * completes (erasure) or its export holds the records posted back (access). Real store
 * (SQLite, or PostgreSQL with OUBLI_TEST_DATABASE_URL), real engine, real HTTP.
 */
import { createHash } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { unzip } from '../requests/zip.js';
import { T0 } from '../helpers/deps.js';
import { ALICE, callbackHarness, type CallbackHarness } from './harness.js';

const DAY = 86_400_000;
const sha256 = (v: string) => createHash('sha256').update(v).digest('hex');

let open: CallbackHarness[] = [];
afterEach(async () => {
  for (const h of open) await h.sys.close();
  open = [];
});
async function harness(...args: Parameters<typeof callbackHarness>) {
  const h = await callbackHarness(...args);
  open.push(h);
  return h;
}

/** Nothing personal and no callback token in the audit log or in any log line. */
async function assertNoSecretsWritten(h: CallbackHarness, tokens: string[]) {
  const audit = await h.auditText();
  const logs = h.logs.join('\n');
  for (const secret of [...tokens, ALICE.email, ALICE.customerId, sha256(ALICE.email)]) {
    expect(audit, 'audit log').not.toContain(secret);
    expect(logs, 'service logs').not.toContain(secret);
  }
}

describe('webhook connector: erasure', () => {
  it('confirmed synchronously: the request completes in one pass, the system verified the signed message', async () => {
    const h = await harness({ mode: 'sync', connector: { capabilities: { access: false, erasure: true } } });
    const id = await h.submit('erasure', [{ type: 'email', value: ALICE.email }]);
    await h.engine.runUntilIdle();
    const req = await h.request(id);
    expect(req.status).toBe('completed');
    expect(req.tasks).toMatchObject([{ connector: 'helpdesk', phase: 'erase', status: 'done', counts: { deleted: 2, retained: 1 } }]);
    const m = h.lastMessage();
    expect(m.verified).toBe(true);
    expect(m.body).toMatchObject({ type: 'erasure.requested', data: { requestId: id, connector: 'helpdesk', identities: [{ type: 'email', hash: sha256(ALICE.email) }] } });
    // Hashed: the value itself never leaves oubli.
    expect(JSON.stringify(m.body)).not.toContain(ALICE.email);
    expect(h.sys.people[0]!.accounts).toEqual([]);
    const types = await h.auditTypes(id);
    expect(types).toContain('task.completed');
    expect(types.at(-1)).toBe('request.completed');
    await assertNoSecretsWritten(h, [m.body.data.callbackToken!]);
  });

  it('confirmed later through the callback: the task waits, then the answer completes the request', async () => {
    const h = await harness({ mode: 'async', connector: { capabilities: { access: false, erasure: true } } });
    const id = await h.submit('erasure', [{ type: 'email', value: ALICE.email }]);
    await h.engine.runUntilIdle();
    let req = await h.request(id);
    expect(req.status).toBe('running');
    const [task] = await h.tasksOf(id);
    expect(task).toMatchObject({ status: 'waiting', phase: 'erase' });
    expect(task!.result!.wait).toEqual({ since: T0, answerBy: T0 + 7 * DAY, remindEveryMs: DAY, reminders: 0 });
    expect(task!.nextAttemptAt).toBe(T0 + DAY);
    const m = h.lastMessage();
    expect(m.verified).toBe(true);
    expect(m.id).toBe(`msg_${task!.id}_${T0.toString(36)}`);
    expect(m.body.data).toMatchObject({ answerBy: new Date(T0 + 7 * DAY).toISOString() });
    expect(m.body.data.callbackUrl).toBe(`http://127.0.0.1:8080/v1/callbacks/${m.body.data.callbackToken}`);
    expect(m.body.data.callbackToken).toMatch(/^cbk_tsk_[0-9a-z]+\.[A-Za-z0-9_-]{43}$/);
    const pending = await h.auditData('task.pending');
    expect(pending).toHaveLength(1);
    expect(pending[0]!.data).toMatchObject({ taskId: task!.id, answerBy: new Date(T0 + 7 * DAY).toISOString() });

    // The system erases, then answers (an hour later).
    h.deps.clock.advance(3_600_000);
    const res = await h.answer(m.body.data.callbackUrl!, h.sys.answerOf(m));
    expect(res.status, res.text).toBe(200);
    expect(res.json).toEqual({ task: task!.id, status: 'done' });
    req = await h.request(id);
    expect(req.status).toBe('completed');
    expect(req.tasks[0]).toMatchObject({ status: 'done', counts: { deleted: 2, masked: 0, retained: 1 } });
    const completed = await h.auditData('task.completed');
    expect(completed).toHaveLength(1);
    expect(completed[0]!.data).toMatchObject({ taskId: task!.id, via: 'callback', deleted: 2, retained: 1 });
    expect(JSON.parse(completed[0]!.text).actor).toEqual({ type: 'system', id: 'callback' });
    // The request's copy of the identifiers is gone with the erasure.
    expect(await h.identityValues(id)).toBe(0);
    await assertNoSecretsWritten(h, [m.body.data.callbackToken!]);

    // A second answer, now that the task is done: 410, and nothing changes.
    const again = await h.answer(m.body.data.callbackUrl!, h.sys.answerOf(m));
    expect(again.status).toBe(410);
    expect(again.json.error.code).toBe('CALLBACK_GONE');
    expect(await h.auditData('task.completed')).toHaveLength(1);
  });

  it('a `failed` answer fails the task for good: needs_attention, the message cleaned and capped as the last error', async () => {
    const h = await harness({ mode: 'async', connector: { capabilities: { access: false, erasure: true } } });
    const id = await h.submit('erasure', [{ type: 'email', value: ALICE.email }]);
    await h.engine.runUntilIdle();
    const m = h.lastMessage();
    const hostile = `legal hold\u0000\r\nFAKE-LOG-LINE level=error\u202eevil\u001b[31m ${'x'.repeat(5000)}`;
    expect((await h.answer(m.body.data.callbackUrl!, { status: 'failed', message: hostile.slice(0, 4000) })).status).toBe(200);
    const req = await h.request(id);
    expect(req.status).toBe('needs_attention');
    const err = req.tasks[0].lastError;
    expect(err.code).toBe('CALLBACK_FAILED');
    expect(err.message).toMatch(/^the silo reported a failure: legal hold FAKE-LOG-LINE level=error evil \[31m x+…$/);
    expect(err.message).not.toMatch(/[\u0000-\u001f\u202e]/);
    expect(err.message.length).toBeLessThanOrEqual(600);
    expect(req.statusReason).not.toMatch(/[\u0000-\u001f\u202e]/);
    // The audit entry keeps the code, never the silo's words.
    const failed = await h.auditData('task.failed');
    expect(failed[0]!.data).toMatchObject({ code: 'CALLBACK_FAILED', retryable: false, via: 'callback' });
    expect(JSON.stringify(failed)).not.toContain('legal hold');
    // Another answer finds the task gone — checked before the body, which here is over the cap.
    expect((await h.answer(m.body.data.callbackUrl!, { status: 'failed', message: hostile })).status).toBe(410);
  });

  it('10 identical callbacks at once: exactly one 200, the others 410, one audit entry', async () => {
    const h = await harness({ mode: 'async', connector: { capabilities: { access: false, erasure: true } } });
    const id = await h.submit('erasure', [{ type: 'email', value: ALICE.email }]);
    await h.engine.runUntilIdle();
    const m = h.lastMessage();
    const body = h.sys.answerOf(m);
    const results = await Promise.all(Array.from({ length: 10 }, () => h.answer(m.body.data.callbackUrl!, body)));
    const statuses = results.map((r) => r.status).sort();
    expect(statuses).toEqual([200, 410, 410, 410, 410, 410, 410, 410, 410, 410]);
    for (const r of results.filter((x) => x.status === 410)) expect(r.json.error.code).toBe('CALLBACK_GONE');
    expect(await h.auditData('task.completed')).toHaveLength(1);
    expect((await h.request(id)).status).toBe('completed');
  });
});

describe('webhook connector: access', () => {
  it('records posted to the callback are validated, spooled and part of the export', async () => {
    const h = await harness({ mode: 'async' });
    const id = await h.submit('access', [{ type: 'email', value: ALICE.email }]);
    await h.engine.runUntilIdle();
    const [task] = await h.tasksOf(id);
    expect(task).toMatchObject({ phase: 'access', status: 'waiting' });
    const m = h.lastMessage();
    expect(m.body.type).toBe('access.requested');
    const res = await h.answer(m.body.data.callbackUrl!, h.sys.answerOf(m));
    expect(res.status, res.text).toBe(200);
    await h.engine.runUntilIdle();
    const req = await h.request(id);
    expect(req.status).toBe('completed');
    const zip = await h.app.request(`/v1/requests/${id}/export`, { headers: h.auth });
    expect(zip.status).toBe(200);
    const data = JSON.parse((await unzip(Buffer.from(await zip.arrayBuffer()))).get('data.json')!.toString());
    expect(data.connectors.helpdesk.accounts).toEqual(ALICE.accounts);
    expect(data.connectors.helpdesk.tickets).toEqual(ALICE.tickets);
    // The discovered customer id is followed like any connector's find (its free-text reason dropped).
    const ids = (await h.request(id)).identities;
    expect(ids.find((i: { type: string }) => i.type === 'customer_id')).toMatchObject({ source: 'helpdesk', reason: 'discovered by helpdesk' });
    const completed = await h.auditData('task.completed');
    expect(completed.find((e) => e.data.taskId === task!.id)!.data).toMatchObject({ via: 'callback', found: 3 });
    await assertNoSecretsWritten(h, [m.body.data.callbackToken!]);
  });

  it('a burst of the same access answer: one 200 spools and records it, the others 410; records above the default body cap (2 MB) are taken', async () => {
    const h = await harness({ mode: 'async' });
    const id = await h.submit('portability', [{ type: 'email', value: ALICE.email }]);
    await h.engine.runUntilIdle();
    const m = h.lastMessage();
    const tickets = Array.from({ length: 2000 }, (_, i) => ({ id: `t${i}`, body: 'x'.repeat(1000) }));
    const body = { status: 'completed', collections: [{ name: 'tickets', portable: true, records: tickets }] };
    expect(JSON.stringify(body).length).toBeGreaterThan(h.deps.config.bodyLimit);
    const results = await Promise.all(Array.from({ length: 10 }, () => h.answer(m.body.data.callbackUrl!, body)));
    expect(results.map((r) => r.status).sort()).toEqual([200, 410, 410, 410, 410, 410, 410, 410, 410, 410]);
    await h.engine.runUntilIdle();
    expect((await h.request(id)).status).toBe('completed');
    const zip = await h.app.request(`/v1/requests/${id}/export`, { headers: h.auth });
    const data = JSON.parse((await unzip(Buffer.from(await zip.arrayBuffer()))).get('data.json')!.toString());
    expect(data.connectors.helpdesk.tickets).toHaveLength(2000);
    expect((await h.auditData('task.completed')).filter((e) => e.data.via === 'callback')).toHaveLength(1);
  });

  it('an access answer that does not validate is 400 CALLBACK_INVALID and changes nothing', async () => {
    const h = await harness({ mode: 'async' });
    const id = await h.submit('access', [{ type: 'email', value: ALICE.email }]);
    await h.engine.runUntilIdle();
    const url = h.lastMessage().body.data.callbackUrl!;
    const bad: [unknown, string][] = [
      [{ status: 'completed', collections: [{ name: 'accounts', portable: true, records: ['not an object'] }] }, 'CALLBACK_INVALID'],
      [{ status: 'completed', collections: [{ name: 'alice@example.com', portable: true, records: [] }] }, 'CALLBACK_INVALID'],
      [{ status: 'completed', counts: { deleted: 1 } }, 'CALLBACK_INVALID'],
      [{ status: 'completed' }, 'CALLBACK_INVALID'],
      [{ status: 'done' }, 'VALIDATION_FAILED'],
      [{ collections: [] }, 'VALIDATION_FAILED'],
      [{ status: 'failed', message: 42 }, 'VALIDATION_FAILED'],
    ];
    for (const [body, code] of bad) {
      const r = await h.answer(url, body);
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.json.error.code).toBe(code);
    }
    const notJson = await h.answer(url, undefined, '{"status": "completed", ');
    expect(notJson.status).toBe(400);
    const [task] = await h.tasksOf(id);
    expect(task!.status).toBe('waiting');
    expect(await h.auditTypes(id)).not.toContain('task.completed');
  });
});
