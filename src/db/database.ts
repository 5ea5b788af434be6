/**
 * The one data layer's contract, shared by both stores: embedded SQLite (the default) and
 * PostgreSQL (several instances on one database). Nothing outside src/db knows which one runs.
 *
 * - A `Database` is opened once per process (src/db/open.ts) and held in Deps.
 * - Reads outside a transaction go through `db.q`; a change runs inside `db.tx(fn)`, whose `fn`
 *   receives the transaction's own handle. `fn` must not wait on the network (a silo, a webhook
 *   receiver, SMTP): it holds the single SQLite writer, or a PostgreSQL connection and its locks.
 * - On PostgreSQL a transaction may be re-run after a deadlock or a serialization failure, so
 *   `fn` must have no effect outside the database (it never has: see above).
 * - Queries are drizzle queries over `db.tables`, the dialect's tables. They are typed as the
 *   SQLite schema's; on PostgreSQL they are the pg-core mirror (same names, same row types,
 *   checked by test/db/schema-drift.test.ts). Only what both drivers share is used: `await` a
 *   query (never `.get()`, `.all()`, `.run()`), `.returning()` to learn what changed.
 */
import type { BetterSQLite3Database } from 'drizzle-orm/better-sqlite3';
import type * as schema from './schema/index.js';
import type { Stores } from './handle.js';

export type Schema = typeof schema;
export type Dialect = 'sqlite' | 'postgres';

/** A drizzle handle on a connection (see the header: await only). */
export type Q = BetterSQLite3Database<Schema>;

/** What a prepared statement is built from: any drizzle query with `sql.placeholder()`s. */
export interface Preparable {
  prepare(name?: string): unknown;
}

/**
 * A statement prepared once per connection (SQLite) or named and prepared once per connection by
 * the server (PostgreSQL): the hot paths' way to the database. `all` answers rows (a select, or
 * a write with `.returning()`); `run` answers the number of rows a write changed.
 */
export interface Statement<Row> {
  all(h: Handle, params?: object): Promise<Row[]>;
  first(h: Handle, params?: object): Promise<Row | undefined>;
  run(h: Handle, params?: object): Promise<number>;
}

/** A connection the store verbs run on: the database's reader, or one transaction. */
export interface Handle {
  readonly db: Database;
  readonly q: Q;
  /** True inside `db.tx()`. */
  readonly inTx: boolean;
}

export interface TxOptions {
  /**
   * Names serialised across every instance for the duration of the transaction (PostgreSQL:
   * transaction-scoped advisory locks, taken in sorted order; SQLite: implied by its single
   * writer). E.g. `request:<id>` when two instances may finish the last two tasks of a request.
   */
  locks?: string[];
}

export interface Database extends Stores {
  readonly dialect: Dialect;
  /** The dialect's tables (see the header). */
  readonly tables: Schema;
  /** Runs `fn` as one transaction; commits when it resolves, rolls back when it throws. */
  tx<T>(fn: (t: Stores) => Promise<T>, opts?: TxOptions): Promise<T>;
  /**
   * Takes, inside the transaction `t`, the lock `name` (as `TxOptions.locks`, when what must be
   * serialised is only known mid-transaction: the person a consent names, say). Two
   * transactions taking two such locks in opposite orders deadlock; PostgreSQL detects it and
   * `tx` re-runs the loser. Several names (the people of a consent batch) are taken in one
   * round trip, in sorted order, so that two such calls never deadlock each other.
   */
  lock(t: Handle, name: string | readonly string[]): Promise<void>;
  /** Runs `fn` in a savepoint of the transaction `t`: its failure undoes only its own changes. */
  savepoint<T>(t: Handle, fn: () => Promise<T>): Promise<T>;
  /** A statement for a hot path; `name` is unique per statement (it names it on PostgreSQL). */
  statement<Row>(name: string, build: (q: Q) => Preparable): Statement<Row>;
  /**
   * Per-database state a store builds once (its statements, say), kept on this object — never
   * in a module-level map, so two databases in one process (tests, a second instance) stay apart.
   */
  cached<T>(key: string, build: (db: Database) => T): T;
  /**
   * Tells every instance on this database that there is something new on `channel` (PostgreSQL
   * NOTIFY, delivered after the current transactions commit; SQLite: this process only — other
   * processes on the same file find the work by polling).
   */
  notify(channel: string): Promise<void>;
  /** Calls `fn` on every `notify(channel)`, from any instance; returns the unsubscribe. */
  listen(channel: string, fn: () => void): Promise<() => Promise<void>>;
  /** Flushes the write-ahead log into the database file and empties it (after an erasure). */
  checkpoint(): Promise<void>;
  close(): Promise<void>;
}
