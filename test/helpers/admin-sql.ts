/**
 * Raw SQL on oubli's own store, as the hostile database administrator of the tampering tests
 * plays it (never through oubli's code): on SQLite straight on the file's connection, on
 * PostgreSQL on a pool of its own. Statements are written once with `?` placeholders and in the
 * SQL both stores speak; `value`/`column` answer integers as numbers on both (PostgreSQL's
 * bigint and count(*) included).
 */
import pg from 'pg';
import Database, { type SqliteConnection } from '../../connectors/sql/sqlite-binding.js';
import type { Database as Store } from '../../src/db/database.js';
import { SqliteDatabase } from '../../src/db/sqlite.js';
import { PostgresDatabase } from '../../src/db/postgres.js';

type Param = string | number | bigint | null | Buffer;

export interface AdminSql {
  readonly dialect: 'sqlite' | 'postgres';
  all<T = Record<string, unknown>>(sql: string, ...params: Param[]): Promise<T[]>;
  /** The first column of the first row. */
  value<T = unknown>(sql: string, ...params: Param[]): Promise<T>;
  /** The first column of every row. */
  column<T = unknown>(sql: string, ...params: Param[]): Promise<T[]>;
  /** Rows changed. */
  run(sql: string, ...params: Param[]): Promise<number>;
  /** Several statements separated by `;`, no parameters. */
  exec(sql: string): Promise<void>;
  close(): Promise<void>;
}

function sqliteAdmin(conn: SqliteConnection, owned: boolean): AdminSql {
  return {
    dialect: 'sqlite',
    all: async <T>(sql: string, ...params: Param[]) => conn.prepare(sql).all(...params) as T[],
    value: async <T>(sql: string, ...params: Param[]) => conn.prepare(sql).pluck().get(...params) as T,
    column: async <T>(sql: string, ...params: Param[]) => conn.prepare(sql).pluck().all(...params) as T[],
    run: async (sql, ...params) => conn.prepare(sql).run(...params).changes,
    exec: async (sql) => void conn.exec(sql),
    close: async () => {
      if (owned) conn.close();
    },
  };
}

const INT8 = 20;
const types = {
  getTypeParser: ((oid: number, format?: string) => (oid === INT8 ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format as 'text'))) as typeof pg.types.getTypeParser,
};

/** `?` → `$1, $2…` (the tampering SQL holds no `?` inside literals). */
const numbered = (sql: string) => {
  let n = 0;
  return sql.replace(/\?/g, () => `$${++n}`);
};

function pgAdmin(pool: pg.Pool, owned: boolean): AdminSql {
  const q = (sql: string, params: Param[]) => pool.query({ text: numbered(sql), values: params, types, rowMode: undefined } as pg.QueryConfig);
  return {
    dialect: 'postgres',
    all: async <T>(sql: string, ...params: Param[]) => (await q(sql, params)).rows as T[],
    value: async <T>(sql: string, ...params: Param[]) => {
      const r = await q(sql, params);
      const row = r.rows[0] as Record<string, unknown> | undefined;
      return (row ? row[r.fields[0]!.name] : undefined) as T;
    },
    column: async <T>(sql: string, ...params: Param[]) => {
      const r = await q(sql, params);
      return r.rows.map((row: Record<string, unknown>) => row[r.fields[0]!.name]) as T[];
    },
    run: async (sql, ...params) => (await q(sql, params)).rowCount ?? 0,
    exec: async (sql) => void (await pool.query({ text: sql, types })),
    close: async () => {
      if (owned) await pool.end();
    },
  };
}

/** Raw SQL on an open store (a test's database); closing it leaves the store open. */
export function adminOf(db: Store): AdminSql {
  if (db instanceof SqliteDatabase) return sqliteAdmin(db.writer, false);
  if (db instanceof PostgresDatabase) return pgAdmin(db.pool, false);
  throw new Error('adminOf: unknown store');
}

/** Raw SQL on a store nobody in this process has open: a data dir's SQLite file, or a PostgreSQL URL. */
export function adminAt(target: { file: string } | { url: string }, opts: { readonly?: boolean } = {}): AdminSql {
  if ('file' in target) return sqliteAdmin(new Database(target.file, { readonly: opts.readonly ?? false, fileMustExist: true }), true);
  return pgAdmin(new pg.Pool({ connectionString: target.url, max: 2 }), true);
}
