/**
 * Each person's pseudonym key is stored SEALED under the deployment's master key
 * (AES-256-GCM), so a copy of the database alone — a dump, a backup, a stolen file — yields no
 * subject key and no way to link audit entries back to anyone. The master key lives outside the
 * database (`secrets/master.key` in the data dir, or OUBLI_MASTER_KEY).
 *
 * Sealed layout: version byte 0x01 ‖ 12-byte random nonce ‖ 32-byte ciphertext ‖ 16-byte tag.
 * The subject id is the additional authenticated data: a sealed key copied onto another person's
 * row (by someone editing the database) does not open there.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

const VERSION = 0x01;
const NONCE = 12;
const KEY = 32;
const TAG = 16;
export const SEALED_KEY_LENGTH = 1 + NONCE + KEY + TAG;

const aad = (subjectId: string) => Buffer.from(`oubli/subject-key/v1\0${subjectId}`);

export function sealSubjectKey(masterKey: Buffer, subjectId: string, key: Buffer): Buffer {
  const nonce = randomBytes(NONCE);
  const cipher = createCipheriv('aes-256-gcm', masterKey, nonce);
  cipher.setAAD(aad(subjectId));
  const body = Buffer.concat([cipher.update(key), cipher.final()]);
  return Buffer.concat([Buffer.of(VERSION), nonce, body, cipher.getAuthTag()]);
}

/** Thrown when a stored key does not open: another master key, or an edited row. */
export class SubjectKeyError extends Error {}

export function openSubjectKey(masterKey: Buffer, subjectId: string, sealed: Buffer): Buffer {
  if (sealed.length !== SEALED_KEY_LENGTH || sealed[0] !== VERSION) {
    throw new SubjectKeyError(`the pseudonym key of ${subjectId} is not sealed under a master key`);
  }
  const decipher = createDecipheriv('aes-256-gcm', masterKey, sealed.subarray(1, 1 + NONCE));
  decipher.setAAD(aad(subjectId));
  decipher.setAuthTag(sealed.subarray(1 + NONCE + KEY));
  try {
    return Buffer.concat([decipher.update(sealed.subarray(1 + NONCE, 1 + NONCE + KEY)), decipher.final()]);
  } catch {
    throw new SubjectKeyError(`the pseudonym key of ${subjectId} does not open with this master key`);
  }
}
