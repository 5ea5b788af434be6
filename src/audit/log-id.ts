/**
 * The audit log's identity (its "log id"): the `log` of every signed tree head and the origin
 * line of every checkpoint. Unique per deployment, so a head or checkpoint of one oubli cannot
 * pass for another's; fixed at first start and kept in the database.
 */
import { randomBytes } from 'node:crypto';
import type { Sqlite } from '../db/client.js';
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

/**
 * The log id stored in the database, created on first call. A log that already has signed heads
 * (made before ids were stored) keeps the id its newest head carries, so old heads still verify.
 * Concurrent first starts agree: the first insert wins, every caller reads it back.
 */
export function openLogId(sqlite: Sqlite, candidate: string, now: number): string {
  const read = () => sqlite.prepare('select log_id from audit_logs where id = 1').pluck().get() as string | undefined;
  const existing = read();
  if (existing) return existing;
  return sqlite.transaction(() => {
    const again = read();
    if (again) return again;
    const newest = sqlite.prepare('select jws from audit_tree_heads order by size desc limit 1').pluck().get() as string | undefined;
    const carried = newest ? logIdOfHead(newest) : undefined;
    sqlite.prepare('insert into audit_logs (id, log_id, created_at) values (1, ?, ?)').run(carried ?? candidate, now);
    return read()!;
  }).immediate();
}

function logIdOfHead(jws: string): string | undefined {
  try {
    const payload = JSON.parse(Buffer.from(jws.split('.')[1] ?? '', 'base64url').toString('utf8')) as { log?: unknown };
    return typeof payload.log === 'string' && isValidKeyName(payload.log) ? payload.log : undefined;
  } catch {
    return undefined;
  }
}
