/**
 * node:crypto's createHash('sha256'), for the browser bundle of src/audit/verify.ts: WebCrypto's
 * digest is asynchronous, the verifier's hashing is not — @noble/hashes gives the same bytes.
 */
import { sha256 } from '@noble/hashes/sha2.js';

export function createHash(algorithm: string) {
  if (algorithm !== 'sha256') throw new Error(`only sha256 in the browser, not ${algorithm}`);
  const h = sha256.create();
  const hash = {
    update(data: Uint8Array) {
      h.update(data);
      return hash;
    },
    digest: () => h.digest(),
  };
  return hash;
}
