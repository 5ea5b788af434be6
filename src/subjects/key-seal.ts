/**
 * Each person's pseudonym key is stored SEALED under the deployment's master key
 * (src/secrets/seal.ts), so a copy of the database alone yields no subject key and no way to
 * link audit entries back to anyone. The subject id is the sealed value's context: a sealed key
 * copied onto another person's row (by someone editing the database) does not open there.
 */
import { SEAL_OVERHEAD, seal, unseal } from '../secrets/seal.js';

const KEY = 32;
export const SEALED_KEY_LENGTH = SEAL_OVERHEAD + KEY;

const context = (subjectId: string) => `oubli/subject-key/v1\0${subjectId}`;

export function sealSubjectKey(masterKey: Buffer, subjectId: string, key: Buffer): Buffer {
  return seal(masterKey, context(subjectId), key);
}

/** Thrown when a stored key does not open: another master key, or an edited row. */
export class SubjectKeyError extends Error {}

export function openSubjectKey(masterKey: Buffer, subjectId: string, sealed: Buffer): Buffer {
  if (sealed.length !== SEALED_KEY_LENGTH || sealed[0] !== 0x01) {
    throw new SubjectKeyError(`the pseudonym key of ${subjectId} is not sealed under a master key`);
  }
  const key = unseal(masterKey, context(subjectId), sealed);
  if (key === null) throw new SubjectKeyError(`the pseudonym key of ${subjectId} does not open with this master key`);
  return key;
}
