/**
 * The audit log, on the store this run tests (SQLite, or PostgreSQL): its roots equal an independent, naive RFC 6962 MTH over the stored
 * leaves, and every proof it produces verifies with the standalone verify.ts.
 */
import { createHash } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import canonicalize from 'canonicalize';
import { createTestDeps, type TestDeps } from '../helpers/deps.js';
import { adminOf } from '../helpers/admin-sql.js';
import { naiveRoot } from '../helpers/naive-merkle.js';
import { leafHash, verifyConsistency, verifyInclusion } from '../../src/audit/verify.js';
import type { AuditInput } from '../../src/audit/log.js';


const sha = (...parts: Uint8Array[]) => new Uint8Array(createHash('sha256').update(Buffer.concat(parts)).digest());

const N = 70;
async function logOf(n: number) {
  const deps = await createTestDeps();
  const inputs: AuditInput[] = Array.from({ length: n }, (_, i) => ({
    type: 'test.event',
    actor: { type: 'system', id: 'test' },
    data: { i, note: `entry ${i}`, nested: { z: 1, a: [i, 'é'] } },
    ...(i % 3 === 0 ? { requestId: `req_${i}` } : {}),
  }));
  // several batches so the tree grows across transactions
  for (let i = 0; i < n; i += 13) {
    await deps.audit.appendMany(deps.db, inputs.slice(i, i + 13));
    deps.clock.advance(1000);
  }
  return deps;
}

describe('AuditLog', () => {
  let deps: TestDeps;
  let rows: { index: number; entry: string; leafHash: Uint8Array }[];
  let texts: string[];
  beforeAll(async () => {
    deps = await logOf(N);
    rows = await deps.audit.entries(0, 1000);
    texts = rows.map((r) => r.entry);
  });

  it('stores gap-free indexes, canonical entries, and SHA-256(0x00 ‖ entry) leaf hashes', async () => {
    expect(await deps.audit.size()).toBe(N);
    expect(rows.map((r) => r.index)).toEqual(Array.from({ length: N }, (_, i) => i));
    for (const r of rows) {
      const parsed = JSON.parse(r.entry);
      expect(parsed.index).toBe(r.index);
      expect(canonicalize(parsed)).toBe(r.entry);
      expect(Buffer.from(r.leafHash)).toEqual(Buffer.from(sha(new Uint8Array([0]), Buffer.from(r.entry, 'utf8'))));
      expect(Object.keys(parsed).sort()).toEqual(
        ['actor', 'at', 'data', 'index', 'type', ...(r.index % 3 === 0 ? ['requestId'] : [])].sort(),
      );
    }
    expect(JSON.parse(texts[0]!).at).toBe('2026-03-01T09:00:00.000Z');
    expect(JSON.parse(texts[13]!).at).toBe('2026-03-01T09:00:01.000Z');
  });

  it('root(size) equals the naive MTH for every size 0..70', async () => {
    for (let n = 0; n <= N; n++) expect(Buffer.from(await deps.audit.root(n)).toString('hex'), `size ${n}`).toBe(Buffer.from(naiveRoot(texts.slice(0, n))).toString('hex'));
  });

  it('every inclusion proof (index < size ≤ 70) verifies, and fails for a neighbour', async () => {
    for (let size = 1; size <= N; size++) {
      const root = await deps.audit.root(size);
      for (let index = 0; index < size; index++) {
        const proof = await deps.audit.inclusionProof(index, size);
        const leaf = leafHash(texts[index]!);
        expect(verifyInclusion(leaf, index, size, proof, root), `${index}/${size}`).toBe(true);
        if (size > 1) expect(verifyInclusion(leafHash(texts[(index + 1) % size]!), index, size, proof, root)).toBe(false);
      }
    }
  });

  it('every consistency proof (1 ≤ m ≤ n ≤ 70) verifies, and fails against a wrong old root', async () => {
    const roots = await Promise.all(Array.from({ length: N + 1 }, (_, n) => deps.audit.root(n)));
    for (let n = 1; n <= N; n++) {
      for (let m = 1; m <= n; m++) {
        const proof = await deps.audit.consistencyProof(m, n);
        expect(verifyConsistency(m, n, roots[m]!, roots[n]!, proof), `${m}→${n}`).toBe(true);
        if (m < n) expect(verifyConsistency(m, n, roots[m === 1 ? 2 : m - 1]!, roots[n]!, proof)).toBe(false);
      }
    }
  });

  it('proofs are O(log n): at most ⌈log2 n⌉ (+1) nodes', async () => {
    for (let n = 2; n <= N; n++) {
      const bound = Math.ceil(Math.log2(n));
      for (let i = 0; i < n; i++) expect((await deps.audit.inclusionProof(i, n)).length).toBeLessThanOrEqual(bound);
      for (let m = 1; m < n; m++) expect((await deps.audit.consistencyProof(m, n)).length).toBeLessThanOrEqual(bound + 1);
    }
  });

  it('rejects proofs for index ≥ size, size beyond the tree, from = 0, from > to', async () => {
    await expect(deps.audit.inclusionProof(5, 5)).rejects.toMatchObject({ code: 'INDEX_OUT_OF_RANGE' });
    await expect(deps.audit.inclusionProof(-1, 5)).rejects.toMatchObject({ code: 'INDEX_OUT_OF_RANGE' });
    await expect(deps.audit.inclusionProof(0, N + 1)).rejects.toMatchObject({ code: 'SIZE_BEYOND_TREE' });
    await expect(deps.audit.consistencyProof(0, 5)).rejects.toMatchObject({ code: 'INVALID_RANGE' });
    await expect(deps.audit.consistencyProof(6, 5)).rejects.toMatchObject({ code: 'INVALID_RANGE' });
    await expect(deps.audit.consistencyProof(1, N + 1)).rejects.toMatchObject({ code: 'SIZE_BEYOND_TREE' });
  });

  it('an append inside a failed transaction leaves no entry and no node behind', async () => {
    const d = await logOf(3);
    await expect(
      d.db.tx(async (t) => {
        await d.audit.append(t, { type: 'x', actor: { type: 'system', id: 't' } });
        throw new Error('rollback');
      }),
    ).rejects.toThrow('rollback');
    expect(await d.audit.size()).toBe(3);
    const nodes = () => adminOf(d.db).value('select count(*) from audit_nodes');
    expect(await nodes()).toBe(1); // only (1,0): leaves 0 and 1
    await d.audit.append(d.db, { type: 'x', actor: { type: 'system', id: 't' } });
    expect(await d.audit.size()).toBe(4);
    expect(await nodes()).toBe(3); // (1,0), (1,1), (2,0)
    expect((await d.audit.entries(3, 1))[0]!.index).toBe(3);
  });

  it('an empty log has the empty root', async () => {
    const d = await createTestDeps();
    expect(await d.audit.size()).toBe(0);
    expect(Buffer.from(await d.audit.root(0)).toString('hex')).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    expect((await d.audit.head()).size).toBe(0);
  });
});
