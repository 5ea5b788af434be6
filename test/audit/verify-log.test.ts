/**
 * verifyAuditLog in process, on the store this run tests: good logs pass (whatever their data
 * holds), rows a database administrator edited are named.
 */
import { describe, expect, it } from 'vitest';
import { createTestDeps } from '../helpers/deps.js';
import { adminOf } from '../helpers/admin-sql.js';
import { TEST_STORE } from '../helpers/db.js';
import { verifyAuditLog } from '../../src/audit/verify-log.js';

async function log(n: number) {
  const deps = await createTestDeps();
  for (let i = 0; i < n; i++) {
    await deps.audit.append(deps.db, {
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

const ZERO = Buffer.alloc(32);

describe(`verifyAuditLog (${TEST_STORE})`, () => {
  it('passes on a good log with tricky data, and on an empty one', async () => {
    const deps = await log(40);
    const r = await verifyAuditLog(deps.db, deps.keys.jwks(), { logId: deps.treeHeads.logId });
    expect(r).toMatchObject({ ok: true, entries: 40, treeHeads: 5, root: Buffer.from(await deps.audit.root(40)).toString('hex') });
    const empty = await createTestDeps();
    expect(await verifyAuditLog(empty.db, empty.keys.jwks(), { logId: empty.treeHeads.logId })).toMatchObject({ ok: true, entries: 0 });
  });

  it('names the first bad entry', async () => {
    const cases: [string, string, unknown[], RegExp][] = [
      ['leaf hash', 'update audit_entries set leaf_hash = ? where idx = 12', [ZERO], /^entry 12: content does not match/],
      ['node', 'update audit_nodes set hash = ? where level = 2 and idx = 3', [ZERO], /^entry 15: stored tree node 2\/3/],
      ['missing node', 'delete from audit_nodes where level = 1 and idx = 4', [], /^entry 9: stored tree node 1\/4/],
      ['index in text', "update audit_entries set entry = replace(entry, ',\"index\":20,', ',\"index\":21,') where idx = 20", [], /^entry 20: its content says index 21/],
      ['head from another key', "update audit_tree_heads set jws = 'x.y.z' where size = 18", [], /^entry 17: tree head of size 18 has an invalid signature/],
    ];
    for (const [label, sql, params, msg] of cases) {
      const deps = await log(40);
      await adminOf(deps.db).run(sql, ...(params as Buffer[]));
      const r = await verifyAuditLog(deps.db, deps.keys.jwks(), { logId: deps.treeHeads.logId });
      expect(r.ok, label).toBe(false);
      expect(r.problem, label).toMatch(msg);
    }
  });

  it('a node deleted and re-inserted (out of creation order) is still read and checked; a stray node changes nothing', async () => {
    const deps = await log(40);
    const sql = adminOf(deps.db);
    const h = await sql.value<Buffer>('select hash from audit_nodes where level = 1 and idx = 4');
    await sql.run('delete from audit_nodes where level = 1 and idx = 4');
    await sql.run('insert into audit_nodes (level, idx, hash) values (1, 4, ?)', h);
    await sql.run('insert into audit_nodes (level, idx, hash) values (1, 900, ?)', ZERO);
    expect(await verifyAuditLog(deps.db, deps.keys.jwks(), { logId: deps.treeHeads.logId })).toMatchObject({ ok: true, entries: 40 });
    await sql.run('update audit_nodes set hash = ? where level = 1 and idx = 4', ZERO);
    expect((await verifyAuditLog(deps.db, deps.keys.jwks(), { logId: deps.treeHeads.logId })).problem).toMatch(/^entry 9: stored tree node 1\/4/);
  });

  it('reads entries and nodes in chunks: a log longer than one chunk verifies, and a bad node past the first chunk is found', { timeout: 60_000 }, async () => {
    const deps = await createTestDeps();
    const n = 20_000;
    for (let i = 0; i < n; i += 1000) {
      await deps.audit.appendMany(deps.db, Array.from({ length: 1000 }, (_, j) => ({ type: 'bulk', actor: { type: 'system' as const, id: 'x' }, data: { i: i + j } })));
    }
    await deps.treeHeads.sign();
    expect(await verifyAuditLog(deps.db, deps.keys.jwks(), { logId: deps.treeHeads.logId })).toMatchObject({ ok: true, entries: n });
    await adminOf(deps.db).run('update audit_nodes set hash = ? where level = 1 and idx = 9000', ZERO);
    expect((await verifyAuditLog(deps.db, deps.keys.jwks(), { logId: deps.treeHeads.logId })).problem).toMatch(/^entry 18001: stored tree node 1\/9000/);
  });

  it('checks heads against the JWKS it is given', async () => {
    const deps = await log(10);
    const otherKeys = (await import('../../src/audit/keys.js')).SigningKeys.ephemeral();
    const r = await verifyAuditLog(deps.db, otherKeys.jwks(), { logId: deps.treeHeads.logId });
    expect(r.ok).toBe(false);
    expect(r.problem).toMatch(/invalid signature or unknown key/);
  });
});
