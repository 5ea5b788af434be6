/**
 * Callback tokens under attack: unknown, forged, spent and expired tokens, another task's
 * token, a token of another connector's task, a DB administrator editing the task row,
 * oversized and ill-formed bodies. Each answer is checked for what it changed: nothing — the
 * task row and the audit log as they were.
 */
import { describe, expect, it } from 'vitest';
import { afterEach } from 'vitest';
import { callbackKey, callbackToken } from '../../src/engine/callback-token.js';
import { adminOf } from '../helpers/admin-sql.js';
import { syntheticConnector } from '../helpers/synthetic-connector.js';
import { ALICE, callbackHarness, type CallbackHarness } from './harness.js';

const DAY = 86_400_000;

let open: CallbackHarness[] = [];
afterEach(async () => {
  for (const h of open) await h.sys.close();
  open = [];
});

/** An erasure request waiting for the helpdesk's callback. */
async function waitingErasure(opts: Parameters<typeof callbackHarness>[0] = {}) {
  const h = await callbackHarness({ mode: 'async', connector: { capabilities: { access: false, erasure: true } }, ...opts });
  open.push(h);
  const id = await h.submit('erasure', [{ type: 'email', value: ALICE.email }]);
  await h.engine.runUntilIdle();
  const m = h.lastMessage();
  const task = (await h.tasksOf(id)).find((t) => t.connectorId === 'helpdesk')!;
  expect(task.status).toBe('waiting');
  /** The task row and the number of audit entries: what "nothing changes" compares. */
  const snapshot = async () => ({ task: await h.deps.db.tasks.get(task.id), entries: (await h.auditTypes()).length });
  return { h, id, m, task, token: m.body.data.callbackToken!, url: m.body.data.callbackUrl!, body: h.sys.answerOf(m), snapshot };
}

describe('callback tokens', () => {
  it('unknown, malformed and forged tokens: 404 CALLBACK_NOT_FOUND, nothing changes', async () => {
    const { h, task, token, body, snapshot } = await waitingErasure();
    const before = await snapshot();
    const mac = token.split('.')[1]!;
    const flipped = (mac[0] === 'A' ? 'B' : 'A') + mac.slice(1);
    for (const t of [
      `cbk_tsk_00000000000000000000000000.${mac}`, // no such task
      'not-a-token',
      `cbk_${task.id}`, // no MAC
      `cbk_${task.id}.${flipped}`, // forged MAC
      `cbk_${task.id}.${mac}x`, // MAC of the wrong length
      `cbk_${task.id}.${Buffer.alloc(32).toString('base64url')}`,
    ]) {
      const r = await h.answer(t, body);
      expect(r.status, t).toBe(404);
      expect(r.json.error.code).toBe('CALLBACK_NOT_FOUND');
    }
    expect(await snapshot()).toEqual(before);
  });

  it("another request's token, re-addressed to this task, does not open it", async () => {
    const { h, task, snapshot } = await waitingErasure();
    const other = await h.submit('erasure', [{ type: 'email', value: 'someone.else@example.org' }]);
    await h.engine.runUntilIdle();
    const theirs = h.lastMessage().body.data.callbackToken!;
    expect(h.lastMessage().body.data.requestId).toBe(other);
    const before = await snapshot();
    const r = await h.answer(`cbk_${task.id}.${theirs.split('.')[1]}`, { status: 'completed', deleted: 0 });
    expect(r.status).toBe(404);
    expect(await snapshot()).toEqual(before);
    // Their own token answers only their task.
    expect((await h.answer(theirs, { status: 'completed', deleted: 0 })).status).toBe(200);
    expect((await h.deps.db.tasks.get(task.id))!.status).toBe('waiting');
  });

  it("a genuine token of another connector's task (not waiting) is 410 and changes nothing", async () => {
    const shop = syntheticConnector({ id: 'shop', collections: [{ name: 'customers', keys: { email: 'email' }, policy: 'delete', rows: [{ email: ALICE.email }] }] });
    const { h, id, snapshot } = await waitingErasure({ others: [shop] });
    const shopTask = (await h.tasksOf(id)).find((t) => t.connectorId === 'shop')!;
    expect(shopTask.status).toBe('done');
    const before = await snapshot();
    const leaked = callbackToken(callbackKey(h.deps.secrets.masterKey), shopTask);
    const r = await h.answer(leaked, { status: 'failed', message: 'nope' });
    expect(r.status).toBe(410);
    expect(r.json.error.code).toBe('CALLBACK_GONE');
    expect(await snapshot()).toEqual(before);
    expect((await h.deps.db.tasks.get(shopTask.id))!.status).toBe('done');
  });

  it('a DB administrator moving the waiting task to another request or phase breaks its token', async () => {
    const { h, task, token, body } = await waitingErasure();
    const other = await h.submit('erasure', [{ type: 'email', value: 'victim@example.org' }]);
    const admin = adminOf(h.deps.db);
    await admin.run('update tasks set request_id = ? where id = ?', other, task.id);
    expect((await h.answer(token, body)).status).toBe(404);
    await admin.run("update tasks set request_id = ?, phase = 'access' where id = ?", task.requestId, task.id);
    expect((await h.answer(token, body)).status).toBe(404);
    await admin.run("update tasks set phase = 'erase' where id = ?", task.id);
    expect((await h.answer(token, body)).status).toBe(200);
  });

  it('a DB administrator setting a finished task back to waiting does not make it take a second answer', async () => {
    const { h, id, task, token, body } = await waitingErasure();
    expect((await h.answer(token, body)).status).toBe(200);
    expect((await h.request(id)).status).toBe('completed');
    await adminOf(h.deps.db).run("update tasks set status = 'waiting' where id = ?", task.id);
    const entries = (await h.auditTypes()).length;
    const r = await h.answer(token, { status: 'failed', message: 'replayed' });
    expect(r.status).toBe(410);
    expect((await h.auditTypes()).length).toBe(entries);
    expect((await h.request(id)).status).toBe('completed');
  });

  it('a spent token (answered) and an expired one (past the deadline, before and after the sweep): 410, nothing changes', async () => {
    const { h, id, task, token, body, snapshot } = await waitingErasure();
    // Past the deadline, not yet swept: no answer taken.
    h.deps.clock.advance(7 * DAY);
    const before = await snapshot();
    const late = await h.answer(token, body);
    expect(late.status).toBe(410);
    expect(late.json.error.code).toBe('CALLBACK_GONE');
    expect(await snapshot()).toEqual(before);
    // The sweep fails it; still 410.
    await h.engine.sweep();
    await h.engine.runUntilIdle();
    expect((await h.deps.db.tasks.get(task.id))!).toMatchObject({ status: 'failed', lastErrorCode: 'CALLBACK_TIMEOUT' });
    expect((await h.request(id)).status).toBe('needs_attention');
    const after = await snapshot();
    expect((await h.answer(token, body)).status).toBe(410);
    expect(await snapshot()).toEqual(after);
  });

  it('a body over the callback cap is 413; ill-formed erasure answers are 400; neither changes anything', async () => {
    const { h, url, snapshot } = await waitingErasure();
    const before = await snapshot();
    const huge = await h.answer(url, undefined, JSON.stringify({ status: 'completed', message: 'x'.repeat(9 * 1024 * 1024) }));
    expect(huge.status).toBe(413);
    for (const body of [
      { status: 'completed', counts: { collections: [{ name: 'invoices', retained: 1 }] } }, // retained, no basis
      { status: 'completed', counts: { collections: [{ name: 'invoices', retained: 1, retainedBecause: 'kept for alice.martin@example.com' }] } },
      { status: 'completed', counts: { collections: [{ name: 'invoices', retained: 1, retainedBecause: 'invoice 2026001234 kept' }] } },
      { status: 'completed', counts: { collections: [{ name: 'accounts', deleted: -1 }] } },
      { status: 'completed', counts: { collections: [{ name: 'accounts\nFAKE', deleted: 1 }] } },
      { status: 'completed', retained: 3 },
      { status: 'completed', collections: [{ name: 'accounts', portable: true, records: [] }] },
    ]) {
      const r = await h.answer(url, body);
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(['CALLBACK_INVALID', 'VALIDATION_FAILED']).toContain(r.json.error.code);
    }
    expect(await snapshot()).toEqual(before);
  });

  it('needs no API key, and a presented bad key is still refused', async () => {
    const { h, url, body } = await waitingErasure();
    const { call } = await import('../helpers/http.js');
    const bad = await call(h.app, 'POST', new URL(url).pathname, { body, headers: { authorization: 'Bearer oubli_sk_nope' } });
    expect(bad.status).toBe(401);
    expect((await h.answer(url, body)).status).toBe(200);
  });

  it('is in the OpenAPI document, public (no security), with its answer schema and error codes', async () => {
    const { h } = await waitingErasure();
    const { call } = await import('../helpers/http.js');
    const doc = (await call(h.app, 'GET', '/openapi.json')).json;
    const op = doc.paths['/v1/callbacks/{token}'].post;
    expect(op.security).toBeUndefined();
    expect(Object.keys(op.responses).sort()).toEqual(['200', '400', '404', '410', '413', '415']);
    expect(JSON.stringify(op.requestBody)).toContain('completed');
  });
});
