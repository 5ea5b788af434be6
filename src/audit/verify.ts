/**
 * Offline verification of oubli's audit log: RFC 9162 Merkle proofs and signed tree heads.
 *
 * Deliberately self-contained — it depends on nothing but node:crypto and jose — so a regulator
 * or the person can copy this one file and check a receipt without trusting oubli's code.
 * The proof checks never throw: malformed input is simply `false`.
 */
import { createHash } from 'node:crypto';
import { compactVerify, createLocalJWKSet, type JSONWebKeySet } from 'jose';

const LEAF_PREFIX = new Uint8Array([0x00]);
const NODE_PREFIX = new Uint8Array([0x01]);

/** SHA-256(0x00 ‖ bytes) — RFC 9162 §2.1.1. */
export function leafHash(bytes: Uint8Array | string): Uint8Array {
  const data = typeof bytes === 'string' ? Buffer.from(bytes, 'utf8') : bytes;
  return new Uint8Array(createHash('sha256').update(LEAF_PREFIX).update(data).digest());
}

/** SHA-256(0x01 ‖ left ‖ right). */
export function nodeHash(left: Uint8Array, right: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha256').update(NODE_PREFIX).update(left).update(right).digest());
}

function isHash(x: unknown): x is Uint8Array {
  return x instanceof Uint8Array && x.length === 32;
}

function isSize(x: unknown): x is number {
  return typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}

const isOdd = (n: number) => n % 2 === 1;
const half = (n: number) => Math.floor(n / 2);

/** RFC 9162 §2.1.3.2: is `leaf` at `index` in the tree of `size` leaves with root `root`? */
export function verifyInclusion(
  leaf: Uint8Array,
  index: number,
  size: number,
  proof: Uint8Array[],
  root: Uint8Array,
): boolean {
  try {
    if (!isHash(leaf) || !isHash(root) || !isSize(index) || !isSize(size) || !Array.isArray(proof)) return false;
    if (index >= size || !proof.every(isHash)) return false;
    let fn = index;
    let sn = size - 1;
    let r = leaf;
    for (const p of proof) {
      if (sn === 0) return false;
      if (isOdd(fn) || fn === sn) {
        r = nodeHash(p, r);
        while (!isOdd(fn) && fn !== 0) {
          fn = half(fn);
          sn = half(sn);
        }
      } else {
        r = nodeHash(r, p);
      }
      fn = half(fn);
      sn = half(sn);
    }
    return sn === 0 && equal(r, root);
  } catch {
    return false;
  }
}

/** RFC 9162 §2.1.4.2: is the tree of `size2` leaves an append-only extension of the one of `size1`? */
export function verifyConsistency(
  size1: number,
  size2: number,
  root1: Uint8Array,
  root2: Uint8Array,
  proof: Uint8Array[],
): boolean {
  try {
    if (!isSize(size1) || !isSize(size2) || !isHash(root1) || !isHash(root2) || !Array.isArray(proof)) return false;
    if (!proof.every(isHash) || size1 > size2) return false;
    // Every tree extends the empty tree, whose root is SHA-256 of nothing (and no other root).
    if (size1 === 0) return proof.length === 0 && equal(root1, new Uint8Array(createHash('sha256').digest()));
    if (size1 === size2) return proof.length === 0 && equal(root1, root2);
    if (proof.length === 0) return false;
    // RFC 9162: when size1 is a power of two its root is itself the first node of the path.
    const path = isPowerOfTwo(size1) ? [root1, ...proof] : proof;
    let fn = size1 - 1;
    let sn = size2 - 1;
    while (isOdd(fn)) {
      fn = half(fn);
      sn = half(sn);
    }
    let fr = path[0]!;
    let sr = path[0]!;
    for (const c of path.slice(1)) {
      if (sn === 0) return false;
      if (isOdd(fn) || fn === sn) {
        fr = nodeHash(c, fr);
        sr = nodeHash(c, sr);
        while (!isOdd(fn) && fn !== 0) {
          fn = half(fn);
          sn = half(sn);
        }
      } else {
        sr = nodeHash(sr, c);
      }
      fn = half(fn);
      sn = half(sn);
    }
    return sn === 0 && equal(fr, root1) && equal(sr, root2);
  } catch {
    return false;
  }
}

function isPowerOfTwo(n: number): boolean {
  while (n > 1) {
    if (isOdd(n)) return false;
    n = half(n);
  }
  return n === 1;
}

/** The payload of a signed tree head. */
export interface TreeHead {
  log: string;
  size: number;
  /** lowercase hex */
  root: string;
  /** ms since epoch */
  timestamp: number;
}

/**
 * Checks a signed tree head (compact JWS, EdDSA) against a JWK set such as
 * /.well-known/jwks.json. Returns the head when the signature and payload are good, else false.
 */
export async function verifyTreeHead(jws: string, jwks: JSONWebKeySet): Promise<TreeHead | false> {
  try {
    const { payload, protectedHeader } = await compactVerify(jws, createLocalJWKSet(jwks), { algorithms: ['EdDSA'] });
    if (!protectedHeader.kid) return false;
    const head = JSON.parse(new TextDecoder().decode(payload)) as TreeHead;
    const ok =
      typeof head.log === 'string' &&
      isSize(head.size) &&
      typeof head.root === 'string' &&
      /^[0-9a-f]{64}$/.test(head.root) &&
      isSize(head.timestamp);
    return ok ? head : false;
  } catch {
    return false;
  }
}

export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex');
}

/** Lowercase 64-char hex → bytes; anything else → null. */
export function fromHex(hex: unknown): Uint8Array | null {
  if (typeof hex !== 'string' || !/^[0-9a-f]{64}$/.test(hex)) return null;
  return new Uint8Array(Buffer.from(hex, 'hex'));
}
