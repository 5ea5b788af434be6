/**
 * A second oubli instance on the test's store — its own audit log object, catalogue cache and
 * group commit, the same secrets — as a second `oubli serve` beside the first would be. On
 * PostgreSQL it has its own pool on the same database. On SQLite it shares the first's Database:
 * a second connection to the same file in the same process would block the whole thread in
 * busy_timeout while the first holds the write lock (two processes wait for each other; two
 * connections of one thread cannot), and SQLite's single writer is what serialises them anyway.
 */
import { ApiKeyCache } from '../../src/auth/api-key-cache.js';
import type { Database } from '../../src/db/database.js';
import { PostgresDatabase } from '../../src/db/postgres.js';
import { PG_MIGRATIONS } from '../../src/db/open.js';
import { AuditLog } from '../../src/audit/log.js';
import { createIdGenerator } from '../../src/ids.js';
import { PurposeCatalog } from '../../src/consent/catalog.js';
import { ConsentWriter } from '../../src/consent/record.js';
import { createApp } from '../../src/app.js';
import { postgresTestUrl } from '../helpers/db.js';
import type { TestDeps } from '../helpers/deps.js';

/** A second pool on the test's PostgreSQL database; the same Database on SQLite (see the header). */
async function otherDatabase(db: Database): Promise<{ db: Database; close: () => Promise<void> }> {
  if (!(db instanceof PostgresDatabase)) return { db, close: async () => {} };
  const other = await PostgresDatabase.open({ url: postgresTestUrl()!, migrationsFolder: PG_MIGRATIONS, poolSize: 4, applicationName: 'oubli-test-2' });
  return { db: other, close: () => other.close() };
}

/** Deps of a second instance beside `deps`; `close()` at the end. */
export async function secondInstance(deps: TestDeps): Promise<TestDeps & { close: () => Promise<void> }> {
  const { db, close } = await otherDatabase(deps.db);
  const audit = new AuditLog(db, deps.now);
  await audit.open('unused: the log exists');
  const purposes = new PurposeCatalog(db);
  await purposes.start();
  const apiKeys = new ApiKeyCache(db);
  await apiKeys.start();
  return { ...deps, db, audit, ids: createIdGenerator(deps.now), purposes, apiKeys, consentWrites: new ConsentWriter(db), close };
}

export function appOf(deps: TestDeps) {
  return createApp(deps);
}
