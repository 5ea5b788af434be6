/** verifyAuditLog in process: good logs pass (whatever their data holds), bad rows are named. */
import { describe, expect, it } from 'vitest';
import { createTestDeps } from '../helpers/deps.js';
import { verifyAuditLog } from '../../src/audit/verify-log.js';

async function log(n: number) {
  const deps = createTestDeps();
  for (let i = 0; i < n; i++) {
    deps.audit.append({
      type: 'test.event',
      actor: { type: 'system', id: 'x' },
      // data that looks like the envelope must not confuse the fast index check
      data: { index: 999 - i, nested: { index: i + 1 }, text: ',"index":7', quote: '"index":1' },
      ...(i % 2 ? { requestId: `req_,"index":${i + 5}` } : {}),
    });
    if (i % 9 === 8) {
      deps.clock.advance(1000);
      await deps.treeHeads.sign();
    }
  }
  await deps.treeHeads.sign();
  return deps;
}

describe('verifyAuditLog', () => {
  it('passes on a good log with tricky data, and on an empty one', async () => {
    const deps = await log(40);
    const r = await verifyAuditLog(deps.db.$client, deps.keys.jwks(), { logId: deps.treeHeads.logId });
    expect(r).toMatchObject({ ok: true, entries: 40, treeHeads: 5, root: Buffer.from(deps.audit.root(40)).toString('hex') });
    const empty = createTestDeps();
    expect(await verifyAuditLog(empty.db.$client, empty.keys.jwks(), { logId: empty.treeHeads.logId })).toMatchObject({ ok: true, entries: 0 });
  });

  it('names the first bad entry', async () => {
    const cases: [string, string, RegExp][] = [
      ['leaf hash', "update audit_entries set leaf_hash = zeroblob(32) where idx = 12", /^entry 12: content does not match/],
      ['node', "update audit_nodes set hash = zeroblob(32) where level = 2 and idx = 3", /^entry 15: stored tree node 2\/3/],
      ['missing node', "delete from audit_nodes where level = 1 and idx = 4", /^entry 9: stored tree node 1\/4/],
      ['index in text', "update audit_entries set entry = replace(entry, ',\"index\":20,', ',\"index\":21,') where idx = 20", /^entry 20: its content says index 21/],
      ['head from another key', "update audit_tree_heads set jws = 'x.y.z' where size = 18", /^entry 17: tree head of size 18 has an invalid signature/],
    ];
    for (const [label, sql, msg] of cases) {
      const deps = await log(40);
      deps.db.$client.exec(sql);
      const r = await verifyAuditLog(deps.db.$client, deps.keys.jwks(), { logId: deps.treeHeads.logId });
      expect(r.ok, label).toBe(false);
      expect(r.problem, label).toMatch(msg);
    }
  });

  it('a node moved out of creation order (deleted and re-inserted) is still read and checked', async () => {
    const deps = await log(40);
    const db = deps.db.$client;
    const h = db.prepare('select hash from audit_nodes where level = 1 and idx = 4').pluck().get() as Buffer;
    db.prepare('delete from audit_nodes where level = 1 and idx = 4').run();
    db.prepare('insert into audit_nodes (level, idx, hash) values (1, 4, ?)').run(h);
    expect(await verifyAuditLog(db, deps.keys.jwks(), { logId: deps.treeHeads.logId })).toMatchObject({ ok: true, entries: 40 });
    db.prepare('update audit_nodes set hash = zeroblob(32) where level = 1 and idx = 4').run();
    expect((await verifyAuditLog(db, deps.keys.jwks(), { logId: deps.treeHeads.logId })).problem).toMatch(/^entry 9: stored tree node 1\/4/);
  });

  it('checks heads against the JWKS it is given', async () => {
    const deps = await log(10);
    const other = createTestDeps();
    const r = await verifyAuditLog(deps.db.$client, other.keys.jwks(), { logId: deps.treeHeads.logId });
    expect(r.ok).toBe(false);
    expect(r.problem).toMatch(/invalid signature or unknown key/);
  });
});
