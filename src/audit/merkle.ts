/**
 * RFC 9162 tree arithmetic over a store of perfect-subtree hashes. Pure: the store is a
 * function, so the same code serves the SQLite log, the offline rebuild in `oubli audit verify`
 * and tests.
 */
import { nodeHash } from './verify.js';

/** Hash of the perfect subtree at (level, idx), covering leaves [idx·2^level, (idx+1)·2^level). */
export type NodeReader = (level: number, idx: number) => Uint8Array;

/** Largest power of two strictly below n (n ≥ 2). */
export function splitPoint(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

/**
 * MTH of leaves [start, end). In every range the RFC recursion produces, `start` is a multiple
 * of the smallest power of two ≥ its length, so the range decomposes greedily into stored perfect
 * subtrees, folded right to left.
 */
export function rangeHash(read: NodeReader, start: number, end: number): Uint8Array {
  const parts: Uint8Array[] = [];
  let pos = start;
  while (pos < end) {
    let level = 0;
    while (pos % 2 ** (level + 1) === 0 && pos + 2 ** (level + 1) <= end) level++;
    parts.push(read(level, pos / 2 ** level));
    pos += 2 ** level;
  }
  let h = parts[parts.length - 1]!;
  for (let i = parts.length - 2; i >= 0; i--) h = nodeHash(parts[i]!, h);
  return h;
}

/** RFC 9162 §2.1.3.1 PATH(m, D[start:start+n]). */
export function inclusionPath(read: NodeReader, m: number, start: number, n: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  // Iterative form of the recursion; siblings are collected top-down and returned bottom-up.
  while (n > 1) {
    const k = splitPoint(n);
    if (m < k) {
      out.push(rangeHash(read, start + k, start + n));
      n = k;
    } else {
      out.push(rangeHash(read, start, start + k));
      m -= k;
      start += k;
      n -= k;
    }
  }
  return out.reverse();
}

/** RFC 9162 §2.1.4.1 PROOF(m, D[n]) for 0 < m ≤ n. */
export function consistencyPath(read: NodeReader, m: number, n: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  let start = 0;
  let complete = true;
  while (m !== n) {
    const k = splitPoint(n);
    if (m <= k) {
      out.push(rangeHash(read, start + k, start + n));
      n = k;
    } else {
      out.push(rangeHash(read, start, start + k));
      m -= k;
      start += k;
      n -= k;
      complete = false;
    }
  }
  if (!complete) out.push(rangeHash(read, start, start + n));
  return out.reverse();
}
