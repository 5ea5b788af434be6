import { createHmac } from 'node:crypto';

/**
 * Keyed pseudonym of a value that must not appear in clear (an email that failed to log in, a
 * client address): stable for correlation, meaningless without the key.
 */
export function pseudonym(key: Buffer, kind: string, value: string): string {
  return `${kind}_${createHmac('sha256', key).update(`${kind}\0${value}`).digest('base64url').slice(0, 22)}`;
}
