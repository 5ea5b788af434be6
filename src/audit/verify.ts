/**
 * Offline verification of oubli's audit log: RFC 9162 Merkle proofs, signed tree heads and
 * request receipts (checkpoints in the C2SP note format: see note.ts beside it).
 *
 * Deliberately self-contained — it depends on nothing but node:crypto's SHA-256 and jose — so a
 * regulator or the person can copy this one file and check a receipt without trusting oubli's
 * code. No Buffer: the dashboard runs this same file in the browser (src/web/admin/assets.ts
 * bundles it, with SHA-256 from @noble/hashes in place of node:crypto).
 * The proof checks never throw: malformed input is simply `false`.
 */
import { createHash } from 'node:crypto';
import { compactVerify, createLocalJWKSet, type JSONWebKeySet } from 'jose';

const LEAF_PREFIX = new Uint8Array([0x00]);
const UTF8 = new TextEncoder();
const NODE_PREFIX = new Uint8Array([0x01]);

/** SHA-256(0x00 ‖ bytes) — RFC 9162 §2.1.1. */
export function leafHash(bytes: Uint8Array | string): Uint8Array {
  const data = typeof bytes === 'string' ? UTF8.encode(bytes) : bytes;
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
  /** The log's identity, the same string as its checkpoints' origin line. */
  log: string;
  size: number;
  /** lowercase hex */
  root: string;
  /** ms since epoch */
  timestamp: number;
}

/** JWS `typ` of a signed tree head and of a request receipt. */
export const TREE_HEAD_TYP = 'oubli-sth+jws';
export const RECEIPT_TYP = 'oubli-receipt+jws';

/**
 * A retired key's JWK carries `notAfter` (ms since the Unix epoch, like tree-head timestamps):
 * nothing it signed later than that is genuine — after a rotation the private key is destroyed,
 * so a later signature means the old key leaked.
 */
export interface AuditJwk {
  kid?: string;
  notAfter?: number;
  [member: string]: unknown;
}

export type Checked<T> = { ok: true; value: T; kid: string } | { ok: false; reason: string };

/** Verifies a compact JWS (EdDSA) with `typ` against the JWK set; the key must not be retired at `at(payload)`. */
async function checkJws<T>(
  jws: string,
  jwks: JSONWebKeySet,
  typ: string,
  parse: (payload: unknown) => T | null,
  at: (value: T) => number,
): Promise<Checked<T>> {
  let verified;
  try {
    verified = await compactVerify(jws, createLocalJWKSet(jwks), { algorithms: ['EdDSA'] });
  } catch {
    return { ok: false, reason: 'has an invalid signature or unknown key' };
  }
  const { payload, protectedHeader } = verified;
  const kid = protectedHeader.kid;
  if (!kid) return { ok: false, reason: 'has no key id' };
  if (protectedHeader.typ !== typ) return { ok: false, reason: `has typ ${JSON.stringify(protectedHeader.typ ?? null)}, not ${typ}` };
  let value: T | null;
  try {
    value = parse(JSON.parse(new TextDecoder().decode(payload)));
  } catch {
    value = null;
  }
  if (value === null) return { ok: false, reason: 'has a malformed payload' };
  const key = (jwks.keys as AuditJwk[]).find((k) => k.kid === kid);
  const notAfter = key?.notAfter;
  if (notAfter !== undefined && !(typeof notAfter === 'number' && at(value) <= notAfter)) {
    return { ok: false, reason: `is signed by key ${kid} after that key was retired (notAfter ${isoOrRaw(notAfter)})` };
  }
  return { ok: true, value, kid };
}

function isoOrRaw(ms: unknown): string {
  return typeof ms === 'number' && Number.isFinite(ms) ? new Date(ms).toISOString() : JSON.stringify(ms);
}

function parseTreeHead(p: unknown): TreeHead | null {
  const h = p as TreeHead;
  const ok =
    h !== null &&
    typeof h === 'object' &&
    typeof h.log === 'string' &&
    isSize(h.size) &&
    typeof h.root === 'string' &&
    /^[0-9a-f]{64}$/.test(h.root) &&
    isSize(h.timestamp);
  return ok ? { log: h.log, size: h.size, root: h.root, timestamp: h.timestamp } : null;
}

/**
 * Checks a signed tree head: EdDSA signature by a key of the set, typ `oubli-sth+jws`, the
 * payload's log id equal to `logId` (the deployment's own: a head of another log proves nothing
 * about this one), and the key not retired at the head's timestamp. Says why when it fails.
 */
export async function checkTreeHead(jws: string, jwks: JSONWebKeySet, logId: string): Promise<Checked<TreeHead>> {
  const r = await checkJws(jws, jwks, TREE_HEAD_TYP, parseTreeHead, (h) => h.timestamp);
  if (r.ok && r.value.log !== logId) return { ok: false, reason: `belongs to log "${r.value.log}", not to this log ("${logId}")` };
  return r;
}

/** {@link checkTreeHead} as a yes/no: the head when good, else false. */
export async function verifyTreeHead(jws: string, jwks: JSONWebKeySet, logId: string): Promise<TreeHead | false> {
  try {
    const r = await checkTreeHead(jws, jwks, logId);
    return r.ok ? r.value : false;
  } catch {
    return false;
  }
}

/** The parts of a request receipt a verifier relies on (the payload holds more: request, outcome). */
export interface Receipt {
  /** ms since epoch when the receipt was signed; older receipts lack it (their head's time is used). */
  issuedAt?: number;
  entries: { index: number; leafHash: string; proof: string[] }[];
  treeHead: TreeHead & { jws: string };
  [member: string]: unknown;
}

function parseReceipt(p: unknown): Receipt | null {
  const r = p as Receipt;
  if (r === null || typeof r !== 'object' || !Array.isArray(r.entries) || r.treeHead === null || typeof r.treeHead !== 'object') return null;
  if (typeof r.treeHead.jws !== 'string' || (r.issuedAt !== undefined && !isSize(r.issuedAt))) return null;
  const entriesOk = r.entries.every(
    (e) => e !== null && typeof e === 'object' && isSize(e.index) && fromHex(e.leafHash) !== null && Array.isArray(e.proof) && e.proof.every((x) => fromHex(x) !== null),
  );
  return entriesOk ? r : null;
}

/**
 * Checks a request receipt offline: its signature (typ `oubli-receipt+jws`, key not retired when
 * it was issued), the tree head it carries (as {@link checkTreeHead}), and every entry's RFC 9162
 * inclusion proof against that head's root.
 */
export async function checkReceipt(jws: string, jwks: JSONWebKeySet, logId: string): Promise<Checked<Receipt> & { head?: TreeHead }> {
  try {
    const r = await checkJws(jws, jwks, RECEIPT_TYP, parseReceipt, (x) => Math.max(x.issuedAt ?? 0, x.treeHead.timestamp ?? 0));
    if (!r.ok) return r;
    const head = await checkTreeHead(r.value.treeHead.jws, jwks, logId);
    if (!head.ok) return { ok: false, reason: `carries a tree head that ${head.reason}` };
    const { size, root } = head.value;
    const t = r.value.treeHead;
    if (t.size !== size || t.root !== root || t.log !== head.value.log || t.timestamp !== head.value.timestamp) {
      return { ok: false, reason: 'names a tree head other than the one it carries signed' };
    }
    for (const e of r.value.entries) {
      if (!verifyInclusion(fromHex(e.leafHash)!, e.index, size, e.proof.map((x) => fromHex(x)!), fromHex(root)!)) {
        return { ok: false, reason: `has an inclusion proof for entry ${e.index} that does not verify against its tree head` };
      }
    }
    return { ...r, head: head.value };
  } catch {
    return { ok: false, reason: 'is malformed' };
  }
}

/** {@link checkReceipt} as a yes/no: the receipt payload when good, else false. */
export async function verifyReceipt(jws: string, jwks: JSONWebKeySet, logId: string): Promise<Receipt | false> {
  const r = await checkReceipt(jws, jwks, logId);
  return r.ok ? r.value : false;
}

export function toHex(bytes: Uint8Array): string {
  let out = '';
  for (const b of bytes) out += b.toString(16).padStart(2, '0');
  return out;
}

/** Lowercase 64-char hex → bytes; anything else → null. */
export function fromHex(hex: unknown): Uint8Array | null {
  if (typeof hex !== 'string' || !/^[0-9a-f]{64}$/.test(hex)) return null;
  const out = new Uint8Array(32);
  for (let i = 0; i < 32; i++) out[i] = Number.parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}
