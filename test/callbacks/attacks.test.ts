/**
 * A silo's answer under attack (the security review of i9): what it writes that reaches the
 * append-only audit log — a retention basis — cannot carry display tricks.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ALICE, callbackHarness, type CallbackHarness } from './harness.js';

let open: CallbackHarness[] = [];
afterEach(async () => {
  for (const h of open) await h.sys.close();
  open = [];
});

describe('callback answers', () => {
  it('a retention basis with bidi, zero-width or separator characters is 400 and changes nothing (it would reach the audit log)', async () => {
    const h = await callbackHarness({ mode: 'async', connector: { capabilities: { access: false, erasure: true } } });
    open.push(h);
    const id = await h.submit('erasure', [{ type: 'email', value: ALICE.email }]);
    await h.engine.runUntilIdle();
    const m = h.lastMessage();
    const task = (await h.tasksOf(id)).find((t) => t.connectorId === 'helpdesk')!;
    expect(task.status).toBe('waiting');
    const entries = (await h.auditTypes()).length;
    for (const basis of ['Art. 17(3)(b) \u202eGDPR', 'tax law\u2066 (hidden)\u2069', 'tax\u200b law', 'tax law\u2028kept', '\ufefftax law']) {
      const r = await h.answer(m.body.data.callbackUrl!, { status: 'completed', counts: { collections: [{ name: 'invoices', retained: 1, retainedBecause: basis }] } });
      expect(r.status, JSON.stringify(basis)).toBe(400);
    }
    expect((await h.deps.db.tasks.get(task.id))!.status).toBe('waiting');
    expect((await h.auditTypes()).length).toBe(entries);
    // A plain basis is taken.
    const ok = await h.answer(m.body.data.callbackUrl!, { status: 'completed', counts: { collections: [{ name: 'invoices', retained: 1, retainedBecause: 'Art. 17(3)(b) GDPR: tax law' }] } });
    expect(ok.status, ok.text).toBe(200);
  });
});
