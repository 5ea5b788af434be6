import { randomBytes } from 'node:crypto';

/**
 * Prefixed, time-sortable ids (`req_…`, `sub_…`): 48-bit ms timestamp + 80 random bits,
 * Crockford base32, so lexical order is creation order (ULID layout).
 */
const ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz';

export type IdGenerator = (prefix: string) => string;

export function encodeTime(ms: number): string {
  let out = '';
  for (let i = 0; i < 10; i++) {
    out = ALPHABET[ms % 32] + out;
    ms = Math.floor(ms / 32);
  }
  return out;
}

export function createIdGenerator(now: () => number = Date.now): IdGenerator {
  return (prefix) => {
    const rand = randomBytes(10);
    let tail = '';
    // 80 bits → 16 base32 chars
    let acc = 0n;
    for (const b of rand) acc = (acc << 8n) | BigInt(b);
    for (let i = 0; i < 16; i++) {
      tail = ALPHABET[Number(acc & 31n)] + tail;
      acc >>= 5n;
    }
    return `${prefix}_${encodeTime(now())}${tail}`;
  };
}

/** Deterministic ids for tests: `pfx_000…1`, `pfx_000…2`, … */
export function createSequentialIds(): IdGenerator {
  let n = 0;
  return (prefix) => `${prefix}_${String(++n).padStart(26, '0')}`;
}
