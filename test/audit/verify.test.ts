/**
 * src/audit/verify.ts against the RFC 6962 / 9162 reference vectors, plus tampered proofs of our
 * own: every bad input is a clean `false`, never a throw.
 */
import { createHash, generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { CompactSign, type JWK } from 'jose';
import { fromHex, leafHash, nodeHash, toHex, verifyConsistency, verifyInclusion, verifyTreeHead } from '../../src/audit/verify.js';
import { SigningKeys } from '../../src/audit/keys.js';
import { readJsonFixture } from '../helpers/fixtures.js';

interface Vectors {
  leafInputs: string[];
  leafHashes: string[];
  rootsBySize: string[];
  inclusion: { leafIndex: number; treeSize: number; proof: string[] }[];
  consistency: { size1: number; size2: number; proof: string[] }[];
}
const V = readJsonFixture<Vectors>('conformance/merkle-rfc6962.json');
const h = (hex: string) => new Uint8Array(Buffer.from(hex, 'hex'));
const leaves = V.leafHashes.map(h);
const roots = V.rootsBySize.map(h);

/** Independent recursive MTH over leaf inputs (RFC 9162 §2.1.1). */
function mth(inputs: Uint8Array[]): Uint8Array {
  if (inputs.length === 0) return new Uint8Array(createHash('sha256').digest());
  if (inputs.length === 1) return leafHash(inputs[0]!);
  let k = 1;
  while (k * 2 < inputs.length) k *= 2;
  return nodeHash(mth(inputs.slice(0, k)), mth(inputs.slice(k)));
}

function flip(x: Uint8Array, bit = 0): Uint8Array {
  const y = new Uint8Array(x);
  y[bit >> 3]! ^= 1 << (bit & 7);
  return y;
}

/**
 * Independent reference verifiers written from the RFC's recursive definitions (PATH and
 * SUBPROOF), not from its iterative algorithm: the verifier under test must agree with them on
 * every (index, size) or (size1, size2) we throw at it.
 */
const EMPTY = new Uint8Array(createHash('sha256').digest());
function splitOf(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}
function refInclusion(leaf: Uint8Array, index: number, size: number, proof: Uint8Array[], root: Uint8Array): boolean {
  const rest = [...proof];
  const rebuild = (m: number, n: number): Uint8Array | null => {
    if (n === 1) return leaf;
    const k = splitOf(n);
    const sibling = rest.pop(); // the last proof node is the top-level sibling
    if (!sibling) return null;
    const sub = m < k ? rebuild(m, k) : rebuild(m - k, n - k);
    if (!sub) return null;
    return m < k ? nodeHash(sub, sibling) : nodeHash(sibling, sub);
  };
  if (!(index >= 0 && index < size)) return false;
  const r = rebuild(index, size);
  return r !== null && rest.length === 0 && Buffer.compare(r, root) === 0;
}
function refConsistency(m: number, n: number, root1: Uint8Array, root2: Uint8Array, proof: Uint8Array[]): boolean {
  if (m > n) return false;
  if (m === 0) return proof.length === 0 && Buffer.compare(root1, EMPTY) === 0;
  if (m === n) return proof.length === 0 && Buffer.compare(root1, root2) === 0;
  const rest = [...proof];
  // Returns [old subtree hash, new subtree hash] for SUBPROOF(m, D[0:n], b).
  const rebuild = (m: number, n: number, b: boolean): [Uint8Array, Uint8Array] | null => {
    if (m === n) {
      if (b) return [root1, root1];
      const node = rest.pop();
      return node ? [node, node] : null;
    }
    const k = splitOf(n);
    const top = rest.pop();
    if (!top) return null;
    if (m <= k) {
      const sub = rebuild(m, k, b);
      return sub && [sub[0], nodeHash(sub[1], top)];
    }
    const sub = rebuild(m - k, n - k, false);
    return sub && [nodeHash(top, sub[0]), nodeHash(top, sub[1])];
  };
  const r = rebuild(m, n, true);
  return r !== null && rest.length === 0 && Buffer.compare(r[0], root1) === 0 && Buffer.compare(r[1], root2) === 0;
}

describe('verify.ts: reference vectors', () => {
  it('the vector file has what we rely on', () => {
    expect(V.leafInputs.length).toBe(8);
    expect(V.rootsBySize.length).toBe(9);
    expect(V.inclusion.length).toBeGreaterThan(20);
    expect(V.consistency.length).toBeGreaterThan(20);
  });

  it('leafHash of every leaf input matches', () => {
    V.leafInputs.forEach((input, i) => expect(toHex(leafHash(h(input)))).toBe(V.leafHashes[i]));
  });

  it('roots by size match an independent MTH, including the empty tree', () => {
    for (let n = 0; n <= 8; n++) expect(toHex(mth(V.leafInputs.slice(0, n).map(h)))).toBe(V.rootsBySize[n]);
  });

  it('every inclusion vector verifies', () => {
    for (const v of V.inclusion) {
      expect(verifyInclusion(leaves[v.leafIndex]!, v.leafIndex, v.treeSize, v.proof.map(h), roots[v.treeSize]!), JSON.stringify(v)).toBe(true);
    }
  });

  it('the reference verifiers used below agree with the vectors', () => {
    for (const v of V.inclusion) expect(refInclusion(leaves[v.leafIndex]!, v.leafIndex, v.treeSize, v.proof.map(h), roots[v.treeSize]!)).toBe(true);
    for (const v of V.consistency) expect(refConsistency(v.size1, v.size2, roots[v.size1]!, roots[v.size2]!, v.proof.map(h))).toBe(true);
  });

  it('every consistency vector verifies', () => {
    for (const v of V.consistency) {
      expect(verifyConsistency(v.size1, v.size2, roots[v.size1]!, roots[v.size2]!, v.proof.map(h)), JSON.stringify(v)).toBe(true);
    }
  });

  it('consistency from the empty tree holds with an empty proof', () => {
    for (let n = 0; n <= 8; n++) expect(verifyConsistency(0, n, roots[0]!, roots[n]!, [])).toBe(true);
    expect(verifyConsistency(0, 3, flip(roots[0]!), roots[3]!, [])).toBe(false);
  });
});

describe('verify.ts: tampered inclusion proofs are false', () => {
  for (const v of V.inclusion) {
    it(`index ${v.leafIndex} of ${v.treeSize}`, () => {
      const proof = v.proof.map(h);
      const leaf = leaves[v.leafIndex]!;
      const root = roots[v.treeSize]!;
      const no = (l: unknown, i: unknown, s: unknown, p: unknown, r: unknown) =>
        expect(verifyInclusion(l as Uint8Array, i as number, s as number, p as Uint8Array[], r as Uint8Array)).toBe(false);
      // flipped bits in each proof node, the leaf and the root
      proof.forEach((_, j) => {
        for (const bit of [0, 7, 100, 255]) no(leaf, v.leafIndex, v.treeSize, proof.map((p, k) => (k === j ? flip(p, bit) : p)), root);
      });
      no(flip(leaf, 3), v.leafIndex, v.treeSize, proof, root);
      no(leaf, v.leafIndex, v.treeSize, proof, flip(root, 200));
      // wrong index / size (the same proof must not prove another position)
      // Some (index, size) pairs share a proof shape, so "wrong" is decided by the reference.
      let rejected = 0;
      for (let i = 0; i < 9; i++) {
        for (let s = 1; s <= 10; s++) {
          const got = verifyInclusion(leaf, i, s, proof, root);
          expect(got, `index ${i} size ${s}`).toBe(refInclusion(leaf, i, s, proof, root));
          if (i === v.leafIndex && s === v.treeSize) expect(got).toBe(true);
          else if (!got) rejected++;
        }
      }
      expect(rejected).toBeGreaterThan(60);
      no(leaf, v.treeSize, v.treeSize, proof, root); // index = size
      // extra / missing nodes
      no(leaf, v.leafIndex, v.treeSize, [...proof, leaves[0]!], root);
      no(leaf, v.leafIndex, v.treeSize, [leaves[0]!, ...proof], root);
      if (proof.length > 0) {
        no(leaf, v.leafIndex, v.treeSize, proof.slice(1), root);
        no(leaf, v.leafIndex, v.treeSize, proof.slice(0, -1), root);
      }
      // proof nodes reordered
      if (proof.length > 1) no(leaf, v.leafIndex, v.treeSize, [...proof].reverse(), root);
      // non-integer, negative, NaN, huge and wrongly typed numbers
      for (const bad of [-1, 0.5, v.leafIndex + 0.5, NaN, Infinity, 2 ** 53, '0', null, undefined, 1n]) {
        no(leaf, bad, v.treeSize, proof, root);
        no(leaf, v.leafIndex, bad, proof, root);
      }
      // not Uint8Array / wrong length
      for (const bad of [toHex(leaf), Array.from(leaf), leaf.slice(0, 31), new Uint8Array(33), null, undefined, {}]) {
        no(bad, v.leafIndex, v.treeSize, proof, root);
        no(leaf, v.leafIndex, v.treeSize, proof, bad);
        no(leaf, v.leafIndex, v.treeSize, [...proof, bad], root);
      }
      no(leaf, v.leafIndex, v.treeSize, null, root);
      no(leaf, v.leafIndex, v.treeSize, 'abc', root);
      no(leaf, v.leafIndex, v.treeSize, { length: proof.length }, root);
    });
  }
});

describe('verify.ts: tampered consistency proofs are false', () => {
  for (const v of V.consistency) {
    it(`${v.size1} → ${v.size2}`, () => {
      const proof = v.proof.map(h);
      const r1 = roots[v.size1]!;
      const r2 = roots[v.size2]!;
      const no = (a: unknown, b: unknown, x: unknown, y: unknown, p: unknown) =>
        expect(verifyConsistency(a as number, b as number, x as Uint8Array, y as Uint8Array, p as Uint8Array[])).toBe(false);
      proof.forEach((_, j) => {
        for (const bit of [0, 9, 130, 255]) no(v.size1, v.size2, r1, r2, proof.map((p, k) => (k === j ? flip(p, bit) : p)));
      });
      no(v.size1, v.size2, flip(r1), r2, proof);
      no(v.size1, v.size2, r1, flip(r2, 77), proof);
      // Wrong sizes: some pairs share a proof shape, so "wrong" is decided by the reference.
      let rejected = 0;
      for (let a = 0; a <= 10; a++) {
        for (let b = 0; b <= 10; b++) {
          const got = verifyConsistency(a, b, r1, r2, proof);
          expect(got, `${a} → ${b}`).toBe(refConsistency(a, b, r1, r2, proof));
          if (a === v.size1 && b === v.size2) expect(got).toBe(true);
          else if (!got) rejected++;
        }
      }
      expect(rejected).toBeGreaterThan(100);
      if (v.size1 !== v.size2) no(v.size2, v.size1, r2, r1, proof); // swapped
      // extra / missing nodes
      no(v.size1, v.size2, r1, r2, [...proof, leaves[0]!]);
      no(v.size1, v.size2, r1, r2, [leaves[0]!, ...proof]);
      if (proof.length > 0) {
        no(v.size1, v.size2, r1, r2, proof.slice(1));
        no(v.size1, v.size2, r1, r2, proof.slice(0, -1));
      }
      if (proof.length > 1) no(v.size1, v.size2, r1, r2, [...proof].reverse());
      for (const bad of [-1, 1.5, NaN, Infinity, -Infinity, '1', null, undefined, 2n]) {
        no(bad, v.size2, r1, r2, proof);
        no(v.size1, bad, r1, r2, proof);
      }
      for (const bad of [toHex(r1), Array.from(r1), r1.slice(1), new Uint8Array(64), null, {}]) {
        no(v.size1, v.size2, bad, r2, proof);
        no(v.size1, v.size2, r1, bad, proof);
        no(v.size1, v.size2, r1, r2, [...proof, bad]);
      }
      no(v.size1, v.size2, r1, r2, null);
      no(v.size1, v.size2, r1, r2, 'proof');
    });
  }
});

describe('verify.ts: signed tree heads', () => {
  const keys = SigningKeys.ephemeral(() => 1_700_000_000_000);
  const LOG = 'oubli.test/audit';
  const head = { log: LOG, size: 3, root: V.rootsBySize[3]!, timestamp: 1_700_000_000_000 };

  it('a good head verifies and returns its payload', async () => {
    const jws = await keys.sign(head, 'oubli-sth+jws');
    expect(await verifyTreeHead(jws, keys.jwks(), LOG)).toEqual(head);
  });

  it('a wrong signature, a tampered payload, an unknown kid or garbage is false', async () => {
    const jws = await keys.sign(head);
    const [p, payload, sig] = jws.split('.') as [string, string, string];
    const flippedSig = Buffer.from(sig, 'base64url');
    flippedSig[5]! ^= 1;
    expect(await verifyTreeHead(`${p}.${payload}.${flippedSig.toString('base64url')}`, keys.jwks(), LOG)).toBe(false);
    const otherPayload = Buffer.from(JSON.stringify({ ...head, size: 4 })).toString('base64url');
    expect(await verifyTreeHead(`${p}.${otherPayload}.${sig}`, keys.jwks(), LOG)).toBe(false);
    // another key set (unknown kid)
    expect(await verifyTreeHead(jws, SigningKeys.ephemeral().jwks(), LOG)).toBe(false);
    expect(await verifyTreeHead(jws, { keys: [] }, LOG)).toBe(false);
    for (const g of ['', 'a.b.c', 'not a jws', '...', `${p}.${payload}`, null, undefined, 42, {}]) {
      expect(await verifyTreeHead(g as string, keys.jwks(), LOG)).toBe(false);
    }
    expect(await verifyTreeHead(jws, null as never, LOG)).toBe(false);
    expect(await verifyTreeHead(jws, { keys: [{ kty: 'garbage' }] } as never, LOG)).toBe(false);
  });

  it('a head signed by a key with the right kid but another secret is false', async () => {
    const kid = keys.activeKid();
    const { privateKey } = generateKeyPairSync('ed25519');
    const forged = await new CompactSign(new TextEncoder().encode(JSON.stringify(head)))
      .setProtectedHeader({ alg: 'EdDSA', kid })
      .sign(privateKey);
    expect(await verifyTreeHead(forged, keys.jwks(), LOG)).toBe(false);
  });

  it('a well-signed JWS whose payload is not a tree head is false; no kid is false', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const jwk = { ...(publicKey.export({ format: 'jwk' }) as JWK), kid: 'k1', alg: 'EdDSA' };
    const sign = (payload: unknown, header: Record<string, unknown> = { alg: 'EdDSA', kid: 'k1', typ: 'oubli-sth+jws' }) =>
      new CompactSign(new TextEncoder().encode(typeof payload === 'string' ? payload : JSON.stringify(payload)))
        .setProtectedHeader(header as { alg: string })
        .sign(privateKey);
    expect(await verifyTreeHead(await sign(head), { keys: [jwk] }, LOG)).toEqual(head);
    expect(await verifyTreeHead(await sign({ ...head, root: 'ABC' }), { keys: [jwk] }, LOG)).toBe(false);
    expect(await verifyTreeHead(await sign({ ...head, size: -1 }), { keys: [jwk] }, LOG)).toBe(false);
    expect(await verifyTreeHead(await sign({ ...head, timestamp: 1.5 }), { keys: [jwk] }, LOG)).toBe(false);
    expect(await verifyTreeHead(await sign('not json'), { keys: [jwk] }, LOG)).toBe(false);
    expect(await verifyTreeHead(await sign(head, { alg: 'EdDSA', typ: 'oubli-sth+jws' }), { keys: [jwk] }, LOG)).toBe(false);
    // typ: a receipt, a manifest or an untyped JWS signed by the same key is not a tree head
    for (const typ of [undefined, 'oubli-receipt+jws', 'oubli-manifest+jws', 'JWT']) {
      expect(await verifyTreeHead(await sign(head, { alg: 'EdDSA', kid: 'k1', ...(typ ? { typ } : {}) }), { keys: [jwk] }, LOG), String(typ)).toBe(false);
    }
    // log id: a head of another deployment's log proves nothing about this one
    expect(await verifyTreeHead(await sign({ ...head, log: 'oubli.other.example/audit' }), { keys: [jwk] }, LOG)).toBe(false);
    expect(await verifyTreeHead(await sign({ ...head, log: 'oubli' }), { keys: [jwk] }, LOG)).toBe(false);
  });
});

describe('verify.ts: hex helpers', () => {
  it('fromHex accepts only 64 lowercase hex characters', () => {
    expect(fromHex(V.rootsBySize[1])).toEqual(roots[1]);
    for (const bad of [V.rootsBySize[1]!.toUpperCase(), 'abc', '', null, 5, `${V.rootsBySize[1]}00`]) expect(fromHex(bad)).toBeNull();
  });
});
