/**
 * Sealing a secret under the deployment's master key (AES-256-GCM), for secrets the database
 * must keep but must not give away: a copy of the database alone — a dump, a backup, a stolen
 * file — opens none of them. The master key lives outside the database (`secrets/master.key` in
 * the data dir, or OUBLI_MASTER_KEY).
 *
 * Sealed layout: version byte 0x01 ‖ 12-byte random nonce ‖ ciphertext ‖ 16-byte tag. `context`
 * (what the secret is, and whose: "oubli/subject-key/v1\0sub_…") is the additional
 * authenticated data: a sealed value copied onto another row, by someone editing the database,
 * does not open there.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

const VERSION = 0x01;
const NONCE = 12;
const TAG = 16;

/** Bytes a sealed value adds to its plaintext. */
export const SEAL_OVERHEAD = 1 + NONCE + TAG;

export function seal(masterKey: Buffer, context: string, plaintext: Buffer): Buffer {
  const nonce = randomBytes(NONCE);
  const cipher = createCipheriv('aes-256-gcm', masterKey, nonce);
  cipher.setAAD(Buffer.from(context));
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([Buffer.of(VERSION), nonce, body, cipher.getAuthTag()]);
}

/** The plaintext, or null when `sealed` is not a value sealed under this key for this context. */
export function unseal(masterKey: Buffer, context: string, sealed: Buffer): Buffer | null {
  if (sealed.length < SEAL_OVERHEAD || sealed[0] !== VERSION) return null;
  const decipher = createDecipheriv('aes-256-gcm', masterKey, sealed.subarray(1, 1 + NONCE));
  decipher.setAAD(Buffer.from(context));
  decipher.setAuthTag(sealed.subarray(sealed.length - TAG));
  try {
    return Buffer.concat([decipher.update(sealed.subarray(1 + NONCE, sealed.length - TAG)), decipher.final()]);
  } catch {
    return null;
  }
}
