/**
 * RFC 6962 §2.1's Merkle tree hash, straight from the definition, over entry texts: the
 * independent recomputation tests compare oubli's roots with (no code shared with src/audit).
 */
import { createHash } from 'node:crypto';

const sha = (...parts: Uint8Array[]) => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
};

export function naiveRoot(texts: string[]): Uint8Array {
  if (texts.length === 0) return sha();
  if (texts.length === 1) return sha(new Uint8Array([0]), Buffer.from(texts[0]!, 'utf8'));
  let k = 1;
  while (k * 2 < texts.length) k *= 2;
  return sha(new Uint8Array([1]), naiveRoot(texts.slice(0, k)), naiveRoot(texts.slice(k)));
}
