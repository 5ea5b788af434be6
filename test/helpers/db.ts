/**
 * The database a test runs on: SQLite by default, PostgreSQL when OUBLI_TEST_DATABASE_URL is set
 * (CI runs the suite both ways).
 *
 * - SQLite: each call gets a fresh file, copied from a template migrated once per test file.
 * - PostgreSQL: each test file gets its own database, created from the template database that
 *   test/global-setup.ts migrated once per run (CREATE DATABASE … TEMPLATE is a file copy: fast);
 *   each further call in the same file empties every table again, so a test starts from nothing
 *   without paying for a new database. Tests of one file run one after the other, so this is safe.
 */
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { inject } from 'vitest';
import type { Database } from '../../src/db/database.js';
import { SqliteDatabase } from '../../src/db/sqlite.js';
import { PostgresDatabase } from '../../src/db/postgres.js';
import { SQLITE_MIGRATIONS, PG_MIGRATIONS } from '../../src/db/open.js';

export const TEST_DATABASE_URL = process.env.OUBLI_TEST_DATABASE_URL || undefined;

/** Which store this run tests ("sqlite" unless OUBLI_TEST_DATABASE_URL is set). */
export const TEST_STORE: 'sqlite' | 'postgres' = TEST_DATABASE_URL ? 'postgres' : 'sqlite';

let sqliteTemplate: string | undefined;
const tempDirs: string[] = [];

function sqliteTemplateFile(): string {
  if (!sqliteTemplate) {
    const dir = mkdtempSync(join(tmpdir(), 'oubli-tpl-'));
    tempDirs.push(dir);
    sqliteTemplate = join(dir, 'template.db');
    const db = SqliteDatabase.open(sqliteTemplate, { migrationsFolder: SQLITE_MIGRATIONS, cacheKib: 2048 });
    // Everything in the main file (no -wal beside it), so a copy of that one file is complete.
    db.reader.close();
    db.writer.pragma('wal_checkpoint(TRUNCATE)');
    db.writer.close();
  }
  return sqliteTemplate;
}

/** A fresh SQLite file database (in a temp directory removed at exit). */
export function openSqliteTestDatabase(): SqliteDatabase {
  const dir = mkdtempSync(join(tmpdir(), 'oubli-test-db-'));
  tempDirs.push(dir);
  const file = join(dir, 'oubli.db');
  copyFileSync(sqliteTemplateFile(), file);
  return SqliteDatabase.open(file, { migrationsFolder: SQLITE_MIGRATIONS, cacheKib: 8192 });
}

let fileDatabase: { name: string; url: string; db: PostgresDatabase } | undefined;

function withDatabase(url: string, name: string): string {
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
}

async function admin<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: TEST_DATABASE_URL });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

/** Every table of the schema, emptied (identities restarted): the state right after migrations. */
async function truncateAll(db: PostgresDatabase): Promise<void> {
  const { rows } = await db.pool.query<{ t: string }>(
    "select quote_ident(tablename) as t from pg_tables where schemaname = current_schema() and tablename <> '__drizzle_migrations'",
  );
  if (rows.length) await db.pool.query(`truncate ${rows.map((r) => r.t).join(', ')} restart identity cascade`);
}

/** This test file's PostgreSQL database, emptied. */
export async function openPostgresTestDatabase(): Promise<PostgresDatabase> {
  if (fileDatabase) {
    await truncateAll(fileDatabase.db);
    return fileDatabase.db;
  }
  const template = inject('pgTemplate');
  const name = `${template.replace(/_tpl$/, '')}_${randomBytes(4).toString('hex')}`;
  await admin((c) => c.query(`create database ${name} template ${template}`));
  const url = withDatabase(TEST_DATABASE_URL!, name);
  const db = await PostgresDatabase.open({ url, migrationsFolder: PG_MIGRATIONS, poolSize: 4, applicationName: 'oubli-test' });
  fileDatabase = { name, url, db };
  return db;
}

/** The database for one test (see the header). */
export async function openTestDatabase(): Promise<Database> {
  return TEST_DATABASE_URL ? openPostgresTestDatabase() : openSqliteTestDatabase();
}

/** The URL of this file's PostgreSQL test database (for a spawned `oubli serve`), once opened. */
export function postgresTestUrl(): string | undefined {
  return fileDatabase?.url;
}

// ------------------------------------------------------------------ several handles, spawned CLIs

/**
 * A second Database object on the same store as `db` (the same SQLite file, or the same
 * PostgreSQL database): what a second instance, or a CLI command beside the server, sees. On
 * SQLite use it for reads, or for writes only while `db` writes nothing (see storeLocation).
 */
export async function openSameStore(db: Database): Promise<Database> {
  if (db instanceof SqliteDatabase) return SqliteDatabase.open(storeLocation(db), { migrationsFolder: SQLITE_MIGRATIONS, cacheKib: 8192 });
  return PostgresDatabase.open({ url: storeLocation(db), migrationsFolder: PG_MIGRATIONS, poolSize: 4, applicationName: 'oubli-test' });
}

const made = new Map<PostgresDatabase, string>();

/**
 * Where a test database lives, for another process to open it: the SQLite file's path, or the
 * PostgreSQL URL. (Two SQLite Database objects in ONE process would block each other: a
 * transaction's body awaits, and the other connection's BEGIN IMMEDIATE busy-waits synchronously.)
 */
export function storeLocation(db: Database): string {
  if (db instanceof SqliteDatabase) return db.writer.name;
  const url = fileDatabase?.db === db ? fileDatabase.url : made.get(db as PostgresDatabase);
  if (!url) throw new Error('storeLocation: not a database made by test/helpers/db.ts');
  return url;
}

/**
 * A fresh, migrated PostgreSQL database of its own (copied from the run's template), for a
 * spawned `oubli` process (OUBLI_DATABASE_URL) or a copy to tamper with; dropped at the end of
 * the run with the others. Answers its URL.
 */
export async function createPostgresDatabase(template = inject('pgTemplate')): Promise<string> {
  const run = inject('pgTemplate').replace(/_tpl$/, '');
  const name = `${run}_c${randomBytes(5).toString('hex')}`;
  await admin((c) => c.query(`create database ${name} template ${template}`));
  return withDatabase(TEST_DATABASE_URL!, name);
}

/**
 * A copy of the PostgreSQL database at `url` (CREATE DATABASE … TEMPLATE: nobody may be
 * connected to it meanwhile); answers the copy's URL.
 */
export function copyPostgresDatabase(url: string): Promise<string> {
  return createPostgresDatabase(decodeURIComponent(new URL(url).pathname.slice(1)));
}

/**
 * A database for one test alone, never shared with the file's other tests: for a test that
 * breaks its store (closes it, drops the migrations journal).
 */
export async function openPrivateTestDatabase(): Promise<Database> {
  return TEST_DATABASE_URL ? openPostgresDatabase(await createPostgresDatabase()) : openSqliteTestDatabase();
}

/** Opens a PostgreSQL test database by URL (its Database object). */
export async function openPostgresDatabase(url: string): Promise<PostgresDatabase> {
  const db = await PostgresDatabase.open({ url, migrationsFolder: PG_MIGRATIONS, poolSize: 4, applicationName: 'oubli-test' });
  made.set(db, url);
  return db;
}

process.once('exit', () => {
  for (const d of tempDirs) rmSync(d, { recursive: true, force: true });
});
