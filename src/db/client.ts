import Database, { type SqliteConnection } from '../../connectors/sql/sqlite-binding.js';
import { drizzle, type BetterSQLite3Database } from 'drizzle-orm/better-sqlite3';
import { migrate } from 'drizzle-orm/better-sqlite3/migrator';
import { readFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as schema from './schema/index.js';

export type Db = BetterSQLite3Database<typeof schema> & { $client: SqliteConnection };
export type Sqlite = SqliteConnection;

export const MIGRATIONS_DIR = join(dirname(fileURLToPath(import.meta.url)), 'migrations');

/**
 * Opens the store with the pragmas the design asks for. `:memory:` gives a private database
 * (tests). busy_timeout lets a CLI command and the server share the file: a writer waits for the
 * other's transaction instead of failing.
 */
export function openDatabase(path: string): Db {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  const sqlite = new Database(path);
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('synchronous = NORMAL');
  sqlite.pragma('foreign_keys = ON');
  sqlite.pragma('busy_timeout = 5000');
  // Deleted rows (an erased person's identifiers, consents, pseudonym key) are overwritten with
  // zeros in their pages instead of lingering in free space; see checkpointAfterErasure for the WAL.
  sqlite.pragma('secure_delete = ON');
  // Page cache: the 16 MB default thrashes on a store of a million people (every consent read or
  // write touches random leaves of several multi-hundred-MB indexes); pages are allocated only
  // as they are used, so a small store stays small. Temp b-trees (sorts, statement journals of
  // savepoints) in memory rather than temp files.
  sqlite.pragma('cache_size = -262144');
  sqlite.pragma('temp_store = MEMORY');
  return drizzle(sqlite, { schema }) as Db;
}

/** Applies the committed drizzle-kit migrations; applying them twice is a no-op. */
export function migrateDatabase(db: Db): void {
  migrate(db, { migrationsFolder: MIGRATIONS_DIR });
}

/** True when every committed migration is recorded as applied. */
export function migrationsApplied(sqlite: Sqlite): boolean {
  const journal = JSON.parse(readFileSync(join(MIGRATIONS_DIR, 'meta', '_journal.json'), 'utf8')) as {
    entries: unknown[];
  };
  try {
    const row = sqlite.prepare('select count(*) as n from __drizzle_migrations').get() as { n: number };
    return row.n >= journal.entries.length;
  } catch {
    return false;
  }
}

/**
 * Call after an erasure has COMMITTED (outside its transaction): copies the WAL into the database
 * file and truncates the WAL to zero bytes. Until then the WAL still holds the pages as they were
 * before the erasure, the erased person's rows and pseudonym key included; with secure_delete the
 * pages written back carry zeros where those rows were. Waits (busy_timeout) for readers of older
 * snapshots; returns false when some still held the WAL and it could not be emptied (the caller
 * logs it; the next call empties it — SQLite's automatic checkpoints never truncate the WAL).
 */
export function checkpointAfterErasure(db: Db): boolean {
  const [result] = db.$client.pragma('wal_checkpoint(TRUNCATE)') as { busy: number; log: number; checkpointed: number }[];
  return result !== undefined && result.busy === 0;
}

/**
 * Runs `fn` as one write transaction, taking the write lock up front (BEGIN IMMEDIATE): two
 * processes on the same file then serialise instead of failing a read→write upgrade.
 * `fn` must be synchronous — better-sqlite3 transactions cannot span an await.
 */
export function writeTx<T>(db: Db, fn: (tx: Db) => T): T {
  return db.$client.transaction(() => fn(db)).immediate();
}

/**
 * A module's prepared statements, built once per connection (a better-sqlite3 statement belongs
 * to the connection that prepared it; tests open many). Hot paths call the returned getter.
 */
export function statementsFor<T>(build: (sqlite: Sqlite) => T): (db: Db) => T {
  const cache = new WeakMap<Sqlite, T>();
  return (db) => {
    let s = cache.get(db.$client);
    if (!s) {
      s = build(db.$client);
      cache.set(db.$client, s);
    }
    return s;
  };
}
