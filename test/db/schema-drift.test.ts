/**
 * The PostgreSQL schema (src/db/pg-schema) mirrors the SQLite one (src/db/schema) exactly: same
 * tables, columns, nullability, defaults, keys, indexes and foreign keys, and columns that give the
 * same JavaScript values. The stores are written once against the SQLite schema's types and run
 * on either, so a drift between the two would be a bug on one store only.
 */
import { describe, expect, it } from 'vitest';
import { is } from 'drizzle-orm';
import { SQLiteTable, getTableConfig as sqliteConfig } from 'drizzle-orm/sqlite-core';
import { PgTable, getTableConfig as pgConfig } from 'drizzle-orm/pg-core';
import * as sqlite from '../../src/db/schema/index.js';
import * as pg from '../../src/db/pg-schema/index.js';

/** The JavaScript kind of values a column gives, whatever the SQL type behind it. */
function kind(col: { dataType: string; columnType: string; sqlName?: string; getSQLType(): string }): string {
  if (col.columnType === 'SQLiteBlobBuffer' || col.getSQLType() === 'bytea') return 'buffer';
  if (col.columnType === 'SQLiteBoolean' || col.columnType === 'PgBoolean') return 'boolean';
  if (col.dataType === 'json') return 'json';
  return col.dataType;
}

function describeTable(c: ReturnType<typeof sqliteConfig> | ReturnType<typeof pgConfig>) {
  const pk = c.primaryKeys.map((k) => k.columns.map((x) => x.name).join(','));
  return {
    columns: Object.fromEntries(
      c.columns.map((col) => [
        col.name,
        { kind: kind(col as never), notNull: col.notNull, primary: col.primary, unique: col.isUnique, default: col.default === undefined ? undefined : String(col.default) },
      ]),
    ),
    primaryKeys: pk.sort(),
    indexes: c.indexes.map((i) => ({ name: i.config.name, unique: i.config.unique, on: i.config.columns.map((x) => (x as { name: string }).name) })).sort((a, b) => a.name!.localeCompare(b.name!)),
    foreignKeys: c.foreignKeys
      .map((f) => {
        const r = f.reference();
        return `${r.columns.map((x) => x.name).join(',')}->${(r.foreignTable as unknown as { [k: symbol]: string })[Symbol.for('drizzle:Name')]}(${r.foreignColumns.map((x) => x.name).join(',')}) ${f.onDelete ?? 'no action'}`;
      })
      .sort(),
  };
}

const sqliteTables = Object.values(sqlite).filter((t) => is(t, SQLiteTable)).map((t) => sqliteConfig(t as SQLiteTable));
const pgTables = Object.values(pg).filter((t) => is(t, PgTable)).map((t) => pgConfig(t as PgTable));

describe('schema drift: pg-core mirror = sqlite-core schema', () => {
  it('has the same tables', () => {
    expect(pgTables.map((t) => t.name).sort()).toEqual(sqliteTables.map((t) => t.name).sort());
    expect(sqliteTables.length).toBeGreaterThan(10);
  });
  for (const s of sqliteTables) {
    it(`table ${s.name}: same columns, keys, indexes and foreign keys`, () => {
      const p = pgTables.find((t) => t.name === s.name);
      expect(p, `pg-schema lacks ${s.name}`).toBeDefined();
      expect(describeTable(p!)).toEqual(describeTable(s));
    });
  }
  it('exports the same names', () => {
    const names = (m: object, cls: typeof SQLiteTable | typeof PgTable) => Object.entries(m).filter(([, t]) => is(t, cls)).map(([k]) => k).sort();
    expect(names(pg, PgTable)).toEqual(names(sqlite, SQLiteTable));
  });
});
