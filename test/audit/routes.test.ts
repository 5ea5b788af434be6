/**
 * The audit HTTP routes: signed tree heads (verified against the published JWKS, at most 1 s
 * behind), entries paging, proofs that verify with verify.ts, and bad numbers → 400 with codes.
 */
import { describe, expect, it } from 'vitest';
import { createTestApp } from '../helpers/deps.js';
import { bearer, call } from '../helpers/http.js';
import { authSuite } from '../helpers/auth-suite.js';
import { fromHex, leafHash, verifyConsistency, verifyInclusion, verifyTreeHead } from '../../src/audit/verify.js';
import type { App } from '../../src/app.js';
import type { TestDeps } from '../helpers/deps.js';
import { adminOf } from '../helpers/admin-sql.js';

async function setup(entries = 0) {
  const { app, deps } = await createTestApp();
  const { authorization } = await bearer(deps, ['audit:read']); // itself one entry (api_key.created)
  await append(deps, entries);
  return { app, deps, headers: { authorization } };
}
async function append(deps: TestDeps, n: number) {
  if (n > 0) await deps.audit.appendMany(deps.db, Array.from({ length: n }, (_, i) => ({ type: 'test.event', actor: { type: 'system' as const, id: 't' }, data: { i } })));
}
const get = (app: App, path: string, headers: Record<string, string>) => call(app, 'GET', path, { headers });
const jwksOf = async (app: App) => (await call(app, 'GET', '/.well-known/jwks.json')).json;

describe('GET /v1/audit/tree-head', () => {
  it('returns a head whose JWS verifies with the published JWKS and matches the log', async () => {
    const { app, deps, headers } = await setup(9);
    const res = await get(app, '/v1/audit/tree-head', headers);
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ size: 10, root: expect.stringMatching(/^[0-9a-f]{64}$/), timestamp: deps.now(), jws: expect.any(String) });
    const head = await verifyTreeHead(res.json.jws, await jwksOf(app), deps.treeHeads.logId);
    expect(head).toEqual({ log: deps.treeHeads.logId, size: 10, root: res.json.root, timestamp: res.json.timestamp });
    expect(Buffer.from(await deps.audit.root(10)).toString('hex')).toBe(res.json.root);
    const [protectedHeader] = res.json.jws.split('.');
    expect(JSON.parse(Buffer.from(protectedHeader, 'base64url').toString())).toMatchObject({ alg: 'EdDSA', kid: deps.keys.activeKid() });
  });

  it('is never more than 1 s behind the log', async () => {
    const { app, deps, headers } = await setup(0);
    const first = (await get(app, '/v1/audit/tree-head', headers)).json;
    expect(first.size).toBe(1);
    await append(deps, 5);
    // within the second: the same head may be served
    deps.clock.advance(500);
    const soon = (await get(app, '/v1/audit/tree-head', headers)).json;
    expect(deps.now() - soon.timestamp).toBeLessThan(1000);
    // a second later the head must cover the new entries
    deps.clock.advance(600);
    const later = (await get(app, '/v1/audit/tree-head', headers)).json;
    expect(later.size).toBe(6);
    expect(deps.now() - later.timestamp).toBeLessThanOrEqual(1000);
    expect(await verifyTreeHead(later.jws, await jwksOf(app), deps.treeHeads.logId)).toBeTruthy();
    // the two heads are consistent, proven by the API
    const proof = (await get(app, `/v1/audit/proofs/consistency?from=${first.size}&to=${later.size}`, headers)).json.proof;
    expect(verifyConsistency(first.size, later.size, fromHex(first.root)!, fromHex(later.root)!, proof.map(fromHex))).toBe(true);
    // heads are stored
    expect((await adminOf(deps.db).value('select count(*) from audit_tree_heads'))).toBe(2);
    // unchanged log: same head, no new signature
    deps.clock.advance(5000);
    expect((await get(app, '/v1/audit/tree-head', headers)).json).toEqual(later);
  });

  it('after a key rotation, new heads are signed by the new key and old heads still verify', async () => {
    const { app, deps, headers } = await setup(2);
    const before = (await get(app, '/v1/audit/tree-head', headers)).json;
    const newKid = deps.keys.rotate();
    await append(deps, 1);
    deps.clock.advance(1000);
    const after = (await get(app, '/v1/audit/tree-head', headers)).json;
    const jwks = await jwksOf(app);
    expect(await verifyTreeHead(before.jws, jwks, deps.treeHeads.logId)).toBeTruthy();
    expect(await verifyTreeHead(after.jws, jwks, deps.treeHeads.logId)).toBeTruthy();
    expect(JSON.parse(Buffer.from(after.jws.split('.')[0], 'base64url').toString()).kid).toBe(newKid);
  });
});

describe('GET /v1/audit/entries', () => {
  it('pages through the exact hashed entries', async () => {
    const { app, headers } = await setup(30);
    const all: { index: number; entry: string; leafHash: string }[] = [];
    for (let from = 0; ; ) {
      const res = await get(app, `/v1/audit/entries?from=${from}&limit=7`, headers);
      expect(res.status).toBe(200);
      if (res.json.length === 0) break;
      all.push(...res.json);
      from = res.json.at(-1).index + 1;
    }
    expect(all.map((e) => e.index)).toEqual(Array.from({ length: 31 }, (_, i) => i));
    for (const e of all) {
      expect(e.leafHash).toBe(Buffer.from(leafHash(e.entry)).toString('hex'));
      expect(JSON.parse(e.entry).index).toBe(e.index);
    }
    expect((await get(app, '/v1/audit/entries', headers)).json).toHaveLength(31); // default from=0, limit=100
    expect((await get(app, '/v1/audit/entries?from=500', headers)).json).toEqual([]);
  });

  it('accepts limit 1000 and rejects 1001, 0, negatives, non-integers and unknown params', async () => {
    const { app, deps, headers } = await setup(1100);
    const max = await get(app, '/v1/audit/entries?limit=1000', headers);
    expect(max.status).toBe(200);
    expect(max.json).toHaveLength(1000);
    for (const q of ['limit=1001', 'limit=0', 'limit=-1', 'limit=1.5', 'limit=abc', 'from=-1', 'from=1.5', 'from=1e3', 'from=', 'foo=1', 'from=0x10']) {
      const res = await get(app, `/v1/audit/entries?${q}`, headers);
      expect(res.status, q).toBe(400);
      expect(res.json.error.code, q).toBe('VALIDATION_FAILED');
      expect(res.json.error.requestId).toBeTruthy();
    }
    expect(await deps.audit.size()).toBe(1101);
  });
});

describe('GET /v1/audit/proofs/*', () => {
  it('inclusion proofs for many (index, size) verify against the signed root', async () => {
    const { app, deps, headers } = await setup(40);
    const entries = (await get(app, '/v1/audit/entries?limit=1000', headers)).json as { entry: string }[];
    const head = (await get(app, '/v1/audit/tree-head', headers)).json;
    expect(head.size).toBe(41);
    for (const index of [0, 1, 2, 7, 16, 31, 32, 39, 40]) {
      const res = await get(app, `/v1/audit/proofs/inclusion?index=${index}&size=${head.size}`, headers);
      expect(res.status).toBe(200);
      expect(res.json).toMatchObject({ index, size: 41 });
      const proof = res.json.proof.map(fromHex);
      expect(verifyInclusion(leafHash(entries[index]!.entry), index, 41, proof, fromHex(head.root)!)).toBe(true);
      expect(verifyInclusion(leafHash(entries[(index + 1) % 41]!.entry), index, 41, proof, fromHex(head.root)!)).toBe(false);
    }
    for (let size = 1; size <= 41; size += 5) {
      for (let index = 0; index < size; index += 3) {
        const proof = (await get(app, `/v1/audit/proofs/inclusion?index=${index}&size=${size}`, headers)).json.proof.map(fromHex);
        expect(verifyInclusion(leafHash(entries[index]!.entry), index, size, proof, await deps.audit.root(size))).toBe(true);
      }
    }
  });

  it('consistency proofs verify between many sizes', async () => {
    const { app, deps, headers } = await setup(40);
    for (const [m, n] of [[1, 41], [7, 8], [8, 41], [16, 32], [17, 40], [41, 41], [3, 5]] as const) {
      const res = await get(app, `/v1/audit/proofs/consistency?from=${m}&to=${n}`, headers);
      expect(res.status).toBe(200);
      expect(res.json).toMatchObject({ from: m, to: n });
      expect(verifyConsistency(m, n, await deps.audit.root(m), await deps.audit.root(n), res.json.proof.map(fromHex))).toBe(true);
    }
  });

  it('bad numbers → 400 with machine-readable codes', async () => {
    const { app, headers } = await setup(9); // size 10
    const cases: [string, string][] = [
      ['/v1/audit/proofs/inclusion?index=10&size=10', 'INDEX_OUT_OF_RANGE'],
      ['/v1/audit/proofs/inclusion?index=3&size=3', 'INDEX_OUT_OF_RANGE'],
      ['/v1/audit/proofs/inclusion?index=0&size=0', 'INDEX_OUT_OF_RANGE'],
      ['/v1/audit/proofs/inclusion?index=0&size=11', 'SIZE_BEYOND_TREE'],
      ['/v1/audit/proofs/inclusion?index=-1&size=5', 'VALIDATION_FAILED'],
      ['/v1/audit/proofs/inclusion?index=1.5&size=5', 'VALIDATION_FAILED'],
      ['/v1/audit/proofs/inclusion?index=1&size=abc', 'VALIDATION_FAILED'],
      ['/v1/audit/proofs/inclusion?index=1', 'VALIDATION_FAILED'],
      ['/v1/audit/proofs/inclusion?index=1&size=5&x=1', 'VALIDATION_FAILED'],
      ['/v1/audit/proofs/inclusion?index=99999999999999999999&size=5', 'VALIDATION_FAILED'],
      ['/v1/audit/proofs/consistency?from=0&to=5', 'INVALID_RANGE'],
      ['/v1/audit/proofs/consistency?from=6&to=5', 'INVALID_RANGE'],
      ['/v1/audit/proofs/consistency?from=1&to=11', 'SIZE_BEYOND_TREE'],
      ['/v1/audit/proofs/consistency?from=-1&to=5', 'VALIDATION_FAILED'],
      ['/v1/audit/proofs/consistency?from=1&to=5.0', 'VALIDATION_FAILED'],
      ['/v1/audit/proofs/consistency?to=5', 'VALIDATION_FAILED'],
    ];
    for (const [path, code] of cases) {
      const res = await get(app, path, headers);
      expect(res.status, path).toBe(400);
      expect(res.json.error.code, path).toBe(code);
    }
  });
});

authSuite('audit routes', () => createTestApp(), [
  { method: 'GET', path: '/v1/audit/tree-head', scope: 'audit:read' },
  { method: 'GET', path: '/v1/audit/entries?from=0&limit=10', scope: 'audit:read' },
  { method: 'GET', path: '/v1/audit/proofs/inclusion?index=0&size=1', scope: 'audit:read' },
  { method: 'GET', path: '/v1/audit/proofs/consistency?from=1&to=1', scope: 'audit:read' },
]);

describe('audit routes with a staff session', () => {
  it('a viewer session may read the audit log', async () => {
    const { app, deps } = await createTestApp();
    const { createUser } = await import('../../src/auth/users.js');
    const { systemCtx } = await import('../helpers/deps.js');
    await createUser(systemCtx(deps), { email: 'viewer@example.com', role: 'viewer', password: 'correct horse battery' });
    const login = await call(app, 'POST', '/v1/auth/login', { body: { email: 'viewer@example.com', password: 'correct horse battery' } });
    const cookie = login.headers.get('set-cookie')!.split(';')[0]!;
    const res = await get(app, '/v1/audit/tree-head', { cookie });
    expect(res.status).toBe(200);
  });
});
