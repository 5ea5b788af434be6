/**
 * A small silo schema created in a private SQLite file, PostgreSQL schema or MariaDB database
 * (uniquely named per run, dropped afterwards), seeded with two people: Alice (the one erased)
 * and Bob (who must stay untouched). Unreachable servers skip with a clear message, unless
 * REQUIRE_SERVICES=1, in which case they fail.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import Database from '../../connectors/sql/sqlite-binding.js';
import pg from 'pg';
import mysql from 'mysql2/promise';
import type { SqlConnectorConfig } from '../../connectors/sql/index.js';

export type Dialect = 'sqlite' | 'postgres' | 'mysql';

export interface SqlTarget {
  dialect: Dialect;
  /** The connector's connection part of its config. */
  base: { driver: 'sqlite'; filename: string } | { driver: 'postgres' | 'mysql'; connection: Record<string, unknown> };
  exec(sql: string): Promise<void>;
  count(sql: string, params?: unknown[]): Promise<number>;
  /** Sessions the connector `id` holds open on the server (postgres/mysql only). */
  sessions?(id: string): Promise<number>;
  /** A second session holding a row lock until release() (postgres/mysql only). */
  lockRow?(table: string, id: number): Promise<{ release(): Promise<void> }>;
  drop(): Promise<void>;
}

export const ALICE = { email: 'alice@example.com', phone: '+33611111111', id: 1 };
export const BOB = { email: 'bob@example.com', phone: '+33622222222', id: 2 };
export const AVATAR = Buffer.from([0, 1, 2, 250, 251, 252]);
export const HASH_KEY = 'test-hash-key-0123456789';

const unique = () => `oubli_t_${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;

function unreachable(what: string, err: unknown): { skip: string } {
  const msg = `${what} unreachable (${(err as Error).message}); start it or unset REQUIRE_SERVICES to skip`;
  if (process.env.REQUIRE_SERVICES === '1') throw new Error(msg);
  return { skip: `${what} unreachable (${(err as Error).message}) — skipped; REQUIRE_SERVICES=1 makes this a failure` };
}

export async function sqliteTarget(): Promise<SqlTarget> {
  const dir = mkdtempSync(join(tmpdir(), 'oubli-sql-'));
  const filename = join(dir, 'silo.db');
  const db = new Database(filename);
  db.pragma('journal_mode = WAL');
  return {
    dialect: 'sqlite',
    base: { driver: 'sqlite', filename },
    exec: async (sql) => void db.exec(sql),
    count: async (sql, params = []) => Number((db.prepare(sql).get(...params) as { n: number }).n),
    drop: async () => {
      db.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export const PG = { host: process.env.PGHOST ?? '127.0.0.1', port: Number(process.env.PGPORT ?? 5432), user: process.env.PGUSER ?? 'postgres', database: process.env.PGDATABASE ?? 'test' };
export const MY = { host: process.env.MYSQL_HOST ?? '127.0.0.1', port: Number(process.env.MYSQL_PORT ?? 3306), user: process.env.MYSQL_USER ?? 'root', password: process.env.MYSQL_PASSWORD ?? '' };

export async function postgresTarget(): Promise<SqlTarget | { skip: string }> {
  const schema = unique();
  const admin = new pg.Client({ ...PG, connectionTimeoutMillis: 3000 });
  try {
    await admin.connect();
  } catch (err) {
    return unreachable(`PostgreSQL at ${PG.host}:${PG.port}`, err);
  }
  await admin.query(`CREATE SCHEMA ${schema}`);
  await admin.query(`SET search_path TO ${schema}`);
  const connection = { ...PG, options: `-c search_path=${schema}` };
  return {
    dialect: 'postgres',
    base: { driver: 'postgres', connection },
    exec: async (sql) => void (await admin.query(sql)),
    count: async (sql, params = []) => Number((await admin.query(sql.replace(/\?/g, (_, i) => `$${sql.slice(0, i).split('?').length}`), params)).rows[0].n),
    sessions: async (id) => Number((await admin.query('SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = $1', [`oubli:${id}`])).rows[0].n),
    lockRow: async (table, id) => {
      const c = new pg.Client(connection);
      await c.connect();
      await c.query('BEGIN');
      await c.query(`SELECT 1 FROM ${table} WHERE id = $1 FOR UPDATE`, [id]);
      return {
        release: async () => {
          await c.query('ROLLBACK');
          await c.end();
        },
      };
    },
    drop: async () => {
      await admin.query(`DROP SCHEMA ${schema} CASCADE`);
      await admin.end();
    },
  };
}

export async function mysqlTarget(): Promise<SqlTarget | { skip: string }> {
  const database = unique();
  let admin: mysql.Connection;
  try {
    admin = await mysql.createConnection({ ...MY, connectTimeout: 3000, multipleStatements: true });
  } catch (err) {
    return unreachable(`MariaDB/MySQL at ${MY.host}:${MY.port}`, err);
  }
  await admin.query(`CREATE DATABASE ${database}`);
  await admin.query(`USE ${database}`);
  const connection = { ...MY, database };
  return {
    dialect: 'mysql',
    base: { driver: 'mysql', connection },
    exec: async (sql) => void (await admin.query(sql)),
    count: async (sql, params = []) => Number(((await admin.query(sql, params))[0] as { n: number }[])[0]!.n),
    // The database is unique to this run: every other session in it is a connector's.
    sessions: async () =>
      Number((((await admin.query('SELECT count(*) AS n FROM information_schema.processlist WHERE db = ? AND id <> CONNECTION_ID()', [database]))[0]) as { n: number }[])[0]!.n),
    lockRow: async (table, id) => {
      const c = await mysql.createConnection(connection);
      await c.query('START TRANSACTION');
      await c.query(`SELECT 1 FROM ${table} WHERE id = ? FOR UPDATE`, [id]);
      return {
        release: async () => {
          await c.query('ROLLBACK');
          await c.end();
        },
      };
    },
    drop: async () => {
      await admin.query(`DROP DATABASE ${database}`);
      await admin.end();
    },
  };
}

const DDL: Record<Dialect, string> = {
  sqlite: `
    CREATE TABLE customers (id INTEGER PRIMARY KEY, email TEXT NOT NULL UNIQUE, phone TEXT, full_name TEXT NOT NULL,
      created_at TEXT, avatar BLOB, lifetime_cents INTEGER);
    CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id INTEGER NOT NULL REFERENCES customers(id), placed_at TEXT, total NUMERIC);
    CREATE TABLE invoices (id INTEGER PRIMARY KEY, customer_id INTEGER NOT NULL, number TEXT NOT NULL, customer_name TEXT,
      address TEXT, amount_cents INTEGER NOT NULL, issued_at TEXT NOT NULL);
    CREATE TABLE notes (id INTEGER PRIMARY KEY, customer_email TEXT, body TEXT NOT NULL);`,
  postgres: `
    CREATE TABLE customers (id integer PRIMARY KEY, email varchar(200) NOT NULL UNIQUE, phone varchar(32), full_name varchar(200) NOT NULL,
      created_at timestamptz, avatar bytea, lifetime_cents bigint);
    CREATE TABLE orders (id integer PRIMARY KEY, customer_id integer NOT NULL REFERENCES customers(id), placed_at timestamptz, total numeric(10,2));
    CREATE TABLE invoices (id integer PRIMARY KEY, customer_id integer NOT NULL, number varchar(20) NOT NULL, customer_name varchar(200),
      address varchar(200), amount_cents integer NOT NULL, issued_at date NOT NULL);
    CREATE TABLE notes (id integer PRIMARY KEY, customer_email varchar(200), body varchar(500) NOT NULL);`,
  mysql: `
    CREATE TABLE customers (id INT PRIMARY KEY, email VARCHAR(200) NOT NULL UNIQUE, phone VARCHAR(32), full_name VARCHAR(200) NOT NULL,
      created_at DATETIME(3), avatar VARBINARY(64), lifetime_cents BIGINT) ENGINE=InnoDB;
    CREATE TABLE orders (id INT PRIMARY KEY, customer_id INT NOT NULL, placed_at DATETIME(3), total DECIMAL(10,2),
      FOREIGN KEY (customer_id) REFERENCES customers(id)) ENGINE=InnoDB;
    CREATE TABLE invoices (id INT PRIMARY KEY, customer_id INT NOT NULL, number VARCHAR(20) NOT NULL, customer_name VARCHAR(200),
      address VARCHAR(200), amount_cents INT NOT NULL, issued_at DATE NOT NULL) ENGINE=InnoDB;
    CREATE TABLE notes (id INT PRIMARY KEY, customer_email VARCHAR(200), body VARCHAR(500) NOT NULL) ENGINE=InnoDB;`,
};

/** Creates the tables and seeds Alice and Bob (idempotent per target: drops rows first). */
export async function seedFixture(t: SqlTarget): Promise<void> {
  const hasTables = await t.count(
    t.dialect === 'sqlite'
      ? "SELECT count(*) AS n FROM sqlite_master WHERE type = 'table' AND name = 'customers'"
      : t.dialect === 'postgres'
        ? "SELECT count(*) AS n FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = 'customers'"
        : "SELECT count(*) AS n FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = 'customers'",
  );
  if (!hasTables) {
    for (const stmt of DDL[t.dialect].split(';').map((s) => s.trim()).filter(Boolean)) await t.exec(stmt);
  }
  for (const table of ['notes', 'invoices', 'orders', 'customers']) await t.exec(`DELETE FROM ${table}`);
  const hex = AVATAR.toString('hex');
  const blob = t.dialect === 'postgres' ? `'\\x${hex}'::bytea` : `X'${hex}'`;
  const ts = (iso: string) => (t.dialect === 'mysql' ? `'${iso.replace('T', ' ').replace('Z', '')}'` : `'${iso}'`);
  await t.exec(
    `INSERT INTO customers (id, email, phone, full_name, created_at, avatar, lifetime_cents) VALUES
      (1, '${ALICE.email}', '${ALICE.phone}', 'Alice Martin', ${ts('2024-05-01T10:00:00.000Z')}, ${blob}, 9007199254740993),
      (2, '${BOB.email}', '${BOB.phone}', 'Bob Durand', ${ts('2024-06-01T10:00:00.000Z')}, NULL, 10)`,
  );
  await t.exec(`INSERT INTO orders (id, customer_id, placed_at, total) VALUES (10, 1, ${ts('2025-01-02T10:00:00.000Z')}, 12.50), (11, 1, NULL, 99.99), (20, 2, NULL, 5.00)`);
  await t.exec(
    `INSERT INTO invoices (id, customer_id, number, customer_name, address, amount_cents, issued_at) VALUES
      (100, 1, 'F-100', 'Alice Martin', '1 rue de Paris', 1250, '2025-01-03'),
      (101, 1, 'F-101', 'Alice Martin', '1 rue de Paris', 9999, '2025-02-03'),
      (200, 2, 'F-200', 'Bob Durand', '2 rue de Lyon', 500, '2025-03-03')`,
  );
  await t.exec(`INSERT INTO notes (id, customer_email, body) VALUES (1000, '${ALICE.email}', 'called about order 10'), (2000, '${BOB.email}', 'asked for a catalogue')`);
}

export const INVOICE_BASIS = 'legal obligation: 10-year retention of accounting records';

/** The connector declaration over the fixture; `patch` replaces collections for bad-config tests. */
export function fixtureConfig(t: SqlTarget, patch: Partial<Record<string, unknown>> = {}): SqlConnectorConfig {
  return {
    id: 'fx',
    title: `Fixture silo (${t.dialect})`,
    ...t.base,
    hashKey: HASH_KEY,
    collections: {
      customers: {
        table: 'customers',
        key: 'id',
        match: { email: 'email', phone: 'phone' },
        discover: { customer_id: 'id', phone: { column: 'phone', reason: 'fx.customers.phone' } },
        portable: true,
        erase: { action: 'delete' },
      },
      orders: { table: 'orders', key: 'id', relations: { customer_id: 'customers.id' }, portable: true, erase: { action: 'delete' } },
      invoices: {
        table: 'invoices',
        key: 'id',
        match: { customer_id: 'customer_id' },
        relations: { customer_id: 'customers.id' },
        erase: { action: 'retain', basis: INVOICE_BASIS, keep: ['number', 'customer_id', 'amount_cents', 'issued_at'], mask: { customer_name: { value: '[erased]' }, address: null } },
      },
      notes: { table: 'notes', key: 'id', match: { email: 'customer_email' }, erase: { action: 'mask', fields: { customer_email: 'hash', body: { value: '[erased]' } } } },
      ...patch,
    },
  } as SqlConnectorConfig;
}

// ---------------------------------------------------------------------------------------------
// The matching silo (issue 13): people written as users typed them, each with one order.

const MATCHING_DDL: Record<Dialect, string> = {
  sqlite: `
    CREATE TABLE people (id INTEGER PRIMARY KEY, email TEXT, phone TEXT, customer_ref TEXT, card_no TEXT, full_name TEXT NOT NULL);
    CREATE TABLE people_orders (id INTEGER PRIMARY KEY, person_id INTEGER NOT NULL REFERENCES people(id), total_cents INTEGER NOT NULL)`,
  postgres: `
    CREATE TABLE people (id integer PRIMARY KEY, email varchar(200), phone varchar(40), customer_ref varchar(20), card_no varchar(40), full_name varchar(100) NOT NULL);
    CREATE TABLE people_orders (id integer PRIMARY KEY, person_id integer NOT NULL REFERENCES people(id), total_cents integer NOT NULL)`,
  mysql: `
    CREATE TABLE people (id INT PRIMARY KEY, email VARCHAR(200), phone VARCHAR(40), customer_ref VARCHAR(20), card_no VARCHAR(40), full_name VARCHAR(100) NOT NULL) ENGINE=InnoDB;
    CREATE TABLE people_orders (id INT PRIMARY KEY, person_id INT NOT NULL, total_cents INT NOT NULL, FOREIGN KEY (person_id) REFERENCES people(id)) ENGINE=InnoDB`,
};

/** Which column of `people` holds each identity type. */
export const MATCHING_COLUMNS: Record<string, string> = { email: 'email', phone: 'phone', customer_id: 'customer_ref', loyalty_card: 'card_no' };

/** Creates the (empty) matching tables; `prefix` keeps several silos apart in one database. */
export async function createMatchingTables(t: SqlTarget, prefix = ''): Promise<void> {
  for (const stmt of MATCHING_DDL[t.dialect].split(';').map((s) => s.trim()).filter(Boolean)) {
    await t.exec(stmt.replace(/\bpeople_orders\b/g, `${prefix}people_orders`).replace(/\bpeople\b(?!_)/g, `${prefix}people`));
  }
}

/** The declaration over the matching tables: every identity type with its default normaliser. */
export function matchingConfig(t: SqlTarget, prefix = '', match: Record<string, unknown> = MATCHING_COLUMNS): SqlConnectorConfig {
  return {
    id: `fx_match${prefix ? `_${prefix.replace(/_$/, '')}` : ''}`,
    title: `Matching silo (${t.dialect})`,
    ...t.base,
    collections: {
      people: { table: `${prefix}people`, key: 'id', match, portable: true, erase: { action: 'delete' } },
      orders: { table: `${prefix}people_orders`, key: 'id', relations: { person_id: 'people.id' }, portable: true, erase: { action: 'delete' } },
    },
  } as SqlConnectorConfig;
}

/** put / remaining over the matching tables, for describeMatchingConformance. */
export function matchingSilo(t: SqlTarget, prefix = '') {
  let next = 1;
  // Byte-for-byte: MariaDB's default collation would call 'Zoe' and 'zoe' (and 'zoé') equal.
  const eq = (col: string) => (t.dialect === 'mysql' ? `CAST(${col} AS BINARY) = CAST(? AS BINARY)` : `${col} = ?`);
  return {
    put: async (type: string, written: string) => {
      const id = next++;
      const col = MATCHING_COLUMNS[type]!;
      const lit = `'${written.replace(/'/g, "''")}'`;
      await t.exec(`INSERT INTO ${prefix}people (id, ${col}, full_name) VALUES (${id}, ${lit}, 'Person ${id}')`);
      await t.exec(`INSERT INTO ${prefix}people_orders (id, person_id, total_cents) VALUES (${id}, ${id}, ${100 + id})`);
    },
    remaining: (type: string, written: string) => t.count(`SELECT count(*) AS n FROM ${prefix}people WHERE ${eq(MATCHING_COLUMNS[type]!)}`, [written]),
  };
}
