/**
 * Raw SQL on a test's store, for the two things tests may do behind oubli's back: play the
 * hostile database administrator (edit rows), and set up what an older version left behind.
 * One statement, `?` placeholders, on either store (PostgreSQL gets `$1, $2…`).
 */
import type { Database } from '../../src/db/database.js';
import type { SqliteDatabase } from '../../src/db/sqlite.js';
import type { PostgresDatabase } from '../../src/db/postgres.js';

function numbered(sql: string): string {
  let n = 0;
  return sql.replace(/\?/g, () => `$${++n}`);
}

/** Runs a statement; answers the rows it returned (a select, or `returning`). */
export async function rawSql<Row = Record<string, unknown>>(db: Database, sql: string, params: unknown[] = []): Promise<Row[]> {
  if (db.dialect === 'sqlite') {
    const stmt = (db as SqliteDatabase).writer.prepare(sql);
    const args = params.map((p) => (typeof p === 'boolean' ? (p ? 1 : 0) : p));
    return stmt.reader ? (stmt.all(...args) as Row[]) : (stmt.run(...args), []);
  }
  const r = await (db as PostgresDatabase).pool.query(numbered(sql), params);
  return r.rows as Row[];
}

/** The first column of the first row (a count, an id). */
export async function rawValue<T = unknown>(db: Database, sql: string, params: unknown[] = []): Promise<T> {
  const [row] = await rawSql(db, sql, params);
  return (row ? Object.values(row)[0] : undefined) as T;
}
