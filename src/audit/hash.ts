/**
 * RFC 9162 leaf and node hashes on the hot paths (append, `oubli audit verify`): one-shot
 * crypto.hash over a reused buffer costs about half of createHash().update().digest(). Same bytes
 * as leafHash/nodeHash in verify.ts, which stays the plain, dependency-free reference.
 */
import * as crypto from 'node:crypto';
import { leafHash, nodeHash } from './verify.js';

const oneShot = (crypto as { hash?: (alg: string, data: Uint8Array, enc: 'buffer') => Buffer }).hash;
let scratch = Buffer.alloc(4096);
const pair = Buffer.alloc(65);

/** SHA-256(0x00 ‖ utf8(text)). */
export function fastLeafHash(text: string): Uint8Array {
  if (!oneShot) return leafHash(text);
  const need = 1 + Buffer.byteLength(text, 'utf8');
  if (need > scratch.length) scratch = Buffer.alloc(need * 2);
  scratch[0] = 0x00;
  scratch.write(text, 1, 'utf8');
  return oneShot('sha256', scratch.subarray(0, need), 'buffer');
}

/** SHA-256(0x01 ‖ left ‖ right). */
export function fastNodeHash(left: Uint8Array, right: Uint8Array): Uint8Array {
  if (!oneShot) return nodeHash(left, right);
  pair[0] = 0x01;
  pair.set(left, 1);
  pair.set(right, 33);
  return oneShot('sha256', pair, 'buffer');
}
