import { sql, type SQL } from 'drizzle-orm';
import type { SQLiteTable } from 'drizzle-orm/sqlite-core';
import { SCOPES } from '../../src/db/schema/api-keys.js';
import type { Database, Schema } from '../../src/db/database.js';
import { SqliteDatabase } from '../../src/db/sqlite.js';
import { PostgresDatabase } from '../../src/db/postgres.js';
import { createTestApp } from '../helpers/deps.js';
import { bearer, call } from '../helpers/http.js';

export const NEWSLETTER = {
  id: 'newsletter',
  title: { fr: 'Lettre d’information', en: 'Newsletter' },
  text: { fr: 'Recevoir notre lettre par e-mail.', en: 'Receive our newsletter by email.' },
  legalBasis: 'dpv:Consent',
  channels: ['email'],
  validityDays: 365,
};
export const ADS = {
  id: 'targeted-ads',
  title: { fr: 'Publicité ciblée', en: 'Targeted advertising' },
  text: { fr: 'Partager vos données pour la publicité ciblée.', en: 'Share your data for targeted advertising.' },
  legalBasis: 'dpv:Consent',
  channels: ['web'],
  gpcApplies: true,
};

/** An app with the two purposes above and an all-scopes key. */
export async function consentApp(overrides: Parameters<typeof createTestApp>[0] = {}) {
  const t = await createTestApp(overrides);
  const auth = { authorization: (await bearer(t.deps, [...SCOPES])).authorization };
  for (const p of [NEWSLETTER, ADS]) {
    const r = await call(t.app, 'POST', '/v1/purposes', { body: p, headers: auth });
    if (r.status !== 201) throw new Error(`purpose setup failed: ${r.text}`);
  }
  const post = (body: unknown, headers: Record<string, string> = {}) =>
    call(t.app, 'POST', '/v1/consents', { body, headers: { ...auth, ...headers } });
  const get = (path: string) => call(t.app, 'GET', path, { headers: auth });
  return { ...t, auth, post, get };
}

export const grant = (value: string, purpose = 'newsletter', extra: Record<string, unknown> = {}) => ({
  subject: { type: 'email', value },
  purpose,
  decision: 'granted',
  source: { channel: 'web' },
  ...extra,
});

/** Rows of one table (on either store), those matching `where` when given. */
export async function count<K extends keyof Schema>(
  deps: { db: Database },
  table: K,
  where?: (t: Schema[K]) => SQL | undefined,
): Promise<number> {
  const t = deps.db.tables[table];
  const q = deps.db.q.select({ n: sql<number>`count(*)`.mapWith(Number) }).from(t as SQLiteTable);
  const [row] = await q.where(where?.(t));
  return row!.n;
}

/**
 * Makes inserts into `table` fail (when `when`, a condition on the new row in SQL, holds), as a
 * broken trigger or constraint would; answers the undo. Raw SQL on purpose: failure injection.
 */
export async function failInserts(db: Database, table: string, when = 'true'): Promise<() => Promise<void>> {
  const name = `fail_${table}`;
  if (db instanceof SqliteDatabase) {
    db.writer.exec(`create trigger ${name} before insert on ${table} when ${when} begin select raise(abort, '${table} down'); end`);
    return async () => void db.writer.exec(`drop trigger ${name}`);
  }
  const pg = db as PostgresDatabase;
  await pg.pool.query(`create function ${name}() returns trigger language plpgsql as $$ begin raise exception '${table} down'; end $$`);
  await pg.pool.query(`create trigger ${name} before insert on ${table} for each row when (${when}) execute function ${name}()`);
  return async () => {
    await pg.pool.query(`drop trigger ${name} on ${table}`);
    await pg.pool.query(`drop function ${name}()`);
  };
}
