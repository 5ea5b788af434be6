/**
 * The audit log's identity (its "log id"): the `log` of every signed tree head and the origin
 * line of every checkpoint. Unique per deployment, so a head or checkpoint of one oubli cannot
 * pass for another's; fixed at first start and kept in the database.
 */
import { randomBytes } from 'node:crypto';
import { isValidKeyName } from './note.js';

/**
 * A new log's id: `oubli.<host of the public URL>/audit`, or `oubli.<random id>/audit` when
 * no public URL is configured. A schema-less URL as C2SP recommends for origins and key names.
 */
export function newLogId(publicUrl: string | undefined): string {
  const host = publicUrl ? new URL(publicUrl).hostname.toLowerCase() : '';
  const id = `oubli.${host || randomBytes(8).toString('hex')}/audit`;
  if (!isValidKeyName(id)) throw new Error(`cannot derive an audit log id from OUBLI_PUBLIC_URL (${publicUrl})`);
  return id;
}

/** The log id a stored head carries (heads signed before ids were stored keep theirs). */
export function logIdOfHead(jws: string): string | undefined {
  try {
    const payload = JSON.parse(Buffer.from(jws.split('.')[1] ?? '', 'base64url').toString('utf8')) as { log?: unknown };
    return typeof payload.log === 'string' && isValidKeyName(payload.log) ? payload.log : undefined;
  } catch {
    return undefined;
  }
}
