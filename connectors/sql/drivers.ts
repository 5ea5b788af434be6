/**
 * One small interface over SQLite (better-sqlite3), PostgreSQL (pg) and MySQL/MariaDB (mysql2):
 * parameterized queries, identifier quoting, live column lists, transactions that honour an
 * AbortSignal, and driver errors mapped to ConnectorError (retryable or not).
 */
import Database, { type SqliteConnection, type SqliteStatement } from './sqlite-binding.js';
import pg from 'pg';
import mysql from 'mysql2/promise';
import { ConnectorError } from '../types.js';
import type { ParsedSqlConfig } from './config.js';

export type Row = Record<string, unknown>;
export type Param = string | number | bigint | null | Buffer;

export interface SqlRunner {
  all(sql: string, params: Param[]): Promise<Row[]>;
  /** Runs a write; resolves to the number of rows changed. */
  run(sql: string, params: Param[]): Promise<number>;
}

export interface ColumnInfo {
  name: string;
  /** Lower-cased declared type ("integer", "text", "character varying"…). */
  type: string;
  /** Maximum length in characters, where the silo declares one (MySQL/MariaDB). */
  length?: number;
  /** An INVISIBLE column (MySQL/MariaDB), e.g. a generated lookup key: not part of the default output. */
  hidden?: boolean;
}

export interface Driver {
  readonly dialect: 'sqlite' | 'postgres' | 'mysql';
  quote(identifier: string): string;
  /** Placeholder for the i-th parameter (1-based). */
  param(i: number): string;
  /** The table's columns, or null when the table does not exist. */
  columns(table: string): Promise<ColumnInfo[] | null>;
  /** Runs `fn` in one transaction of the silo; rolls back on error or abort. */
  transaction<T>(fn: (tx: SqlRunner) => Promise<T>, opts: { write: boolean; signal: AbortSignal }): Promise<T>;
  ping(signal: AbortSignal): Promise<void>;
  close(): Promise<void>;
}

/** Largest number of values bound in one IN (…) list; longer lists are chunked. */
export const MAX_PARAMS = 900;

export function abortError(signal: AbortSignal): ConnectorError {
  return new ConnectorError('ABORTED', 'the operation was aborted', true, { cause: signal.reason });
}

/** Resolves with `p`, or rejects as soon as `signal` aborts (the caller then rolls back). */
function raceAbort<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) {
    p.catch(() => {});
    return Promise.reject(abortError(signal));
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(abortError(signal));
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}

/** Waits for `p` at most `ms` (best-effort clean-up must not hold up a rejection). */
async function atMost(p: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([p.catch(() => {}), new Promise<void>((r) => (timer = setTimeout(r, ms)))]);
  clearTimeout(timer);
}

const RETRYABLE_NODE = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE', 'EAI_AGAIN', 'ENOTFOUND']);

/**
 * Maps a driver error to a ConnectorError. Messages carry the driver's code and, for schema and
 * connection errors (which never contain row values), its text; other errors (constraint
 * violations can quote values) keep only the code, so no personal value reaches logs.
 */
export function mapDriverError(connectorId: string, dialect: Driver['dialect'], err: unknown): ConnectorError {
  if (err instanceof ConnectorError) return err;
  const e = err as { code?: unknown; errno?: unknown; message?: unknown };
  const code = typeof e?.code === 'string' ? e.code : '';
  const text = typeof e?.message === 'string' ? e.message : String(err);
  const mk = (c: string, retryable: boolean, withText: boolean) =>
    new ConnectorError(c, `${connectorId}: ${dialect} ${code || 'error'}${withText ? `: ${text}` : ''}`, retryable, { cause: err });

  if (RETRYABLE_NODE.has(code) || /connect(ion)? (terminated|timeout|refused)|timeout exceeded when trying to connect|Connection lost/i.test(text)) {
    return mk('SILO_UNAVAILABLE', true, true);
  }
  if (dialect === 'postgres') {
    if (code === '40P01' || code === '40001' || code === '55P03') return mk('SILO_CONFLICT', true, false);
    if (code === '57014') return mk('SILO_TIMEOUT', true, false);
    if (code.startsWith('08') || code === '57P01' || code === '57P02' || code === '57P03' || code === '53300') return mk('SILO_UNAVAILABLE', true, true);
    if (code === '42P01' || code === '42703' || code === '3F000' || code === '3D000') return mk('SILO_SCHEMA', false, true);
    if (code.startsWith('42')) return mk('SILO_QUERY_FAILED', false, true);
    if (code === '28P01' || code === '28000') return mk('SILO_AUTH', false, true);
    return mk('SILO_QUERY_FAILED', false, false);
  }
  if (dialect === 'mysql') {
    if (code === 'ER_LOCK_DEADLOCK' || code === 'ER_LOCK_WAIT_TIMEOUT') return mk('SILO_CONFLICT', true, false);
    if (code === 'PROTOCOL_SEQUENCE_TIMEOUT' || code === 'ER_QUERY_TIMEOUT' || code === 'ER_STATEMENT_TIMEOUT') return mk('SILO_TIMEOUT', true, false);
    if (code === 'PROTOCOL_CONNECTION_LOST' || code === 'ER_CON_COUNT_ERROR' || code === 'ER_SERVER_SHUTDOWN')
      return mk('SILO_UNAVAILABLE', true, true);
    if (code === 'ER_NO_SUCH_TABLE' || code === 'ER_BAD_FIELD_ERROR' || code === 'ER_BAD_DB_ERROR') return mk('SILO_SCHEMA', false, true);
    if (code === 'ER_PARSE_ERROR') return mk('SILO_QUERY_FAILED', false, true);
    if (code === 'ER_ACCESS_DENIED_ERROR' || code === 'ER_DBACCESS_DENIED_ERROR') return mk('SILO_AUTH', false, true);
    return mk('SILO_QUERY_FAILED', false, false);
  }
  if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) return mk('SILO_CONFLICT', true, false);
  // A missing or unreadable file may be a mount not there yet: retry (init() reports it clearly at start-up).
  if (code === 'SQLITE_CANTOPEN') return mk('SILO_UNAVAILABLE', true, true);
  if (code.startsWith('SQLITE_IOERR')) return mk('SILO_UNAVAILABLE', true, true);
  if (code === 'SQLITE_ERROR') return mk('SILO_QUERY_FAILED', false, true);
  return mk('SILO_QUERY_FAILED', false, false);
}

export function createDriver(cfg: ParsedSqlConfig): Driver {
  switch (cfg.driver) {
    case 'sqlite':
      return new SqliteDriver(cfg.id, cfg.filename);
    case 'postgres':
      return new PostgresDriver(cfg.id, cfg.connection, cfg.poolSize, cfg.queryTimeoutMs);
    case 'mysql':
      return new MysqlDriver(cfg.id, cfg.connection, cfg.poolSize, cfg.queryTimeoutMs);
  }
}

// ---------------------------------------------------------------------------------------------
// SQLite: one synchronous connection; calls are serialized by a promise lock so that concurrent
// requests never interleave statements inside each other's transaction.

class SqliteDriver implements Driver {
  readonly dialect = 'sqlite' as const;
  private db: SqliteConnection | null = null;
  private readonly stmts = new Map<string, SqliteStatement>();
  private tail: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly id: string,
    private readonly filename: string,
  ) {}

  quote(identifier: string): string {
    return `"${identifier}"`;
  }
  param(): string {
    return '?';
  }

  private open(): SqliteConnection {
    if (this.db) return this.db;
    try {
      const db = new Database(this.filename, { fileMustExist: true });
      db.pragma('busy_timeout = 5000');
      db.pragma('foreign_keys = ON');
      this.db = db;
      return db;
    } catch (err) {
      // Missing directory or file, permissions: the silo is not there (yet); init() says so at start-up.
      throw new ConnectorError('SILO_UNAVAILABLE', `${this.id}: cannot open SQLite file ${this.filename}: ${(err as Error).message}`, true, { cause: err });
    }
  }

  private stmt(sql: string): SqliteStatement {
    let s = this.stmts.get(sql);
    if (!s) {
      if (this.stmts.size > 500) this.stmts.clear();
      s = this.open().prepare(sql);
      this.stmts.set(sql, s);
    }
    return s;
  }

  private locked<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.tail.then(fn, fn);
    this.tail = run.catch(() => {});
    return run;
  }

  private runner(signal?: AbortSignal): SqlRunner {
    const check = () => {
      if (signal?.aborted) throw abortError(signal);
    };
    return {
      all: async (sql, params) => {
        check();
        try {
          return this.stmt(sql).all(...params) as Row[];
        } catch (err) {
          throw mapDriverError(this.id, 'sqlite', err);
        }
      },
      run: async (sql, params) => {
        check();
        try {
          return this.stmt(sql).run(...params).changes;
        } catch (err) {
          throw mapDriverError(this.id, 'sqlite', err);
        }
      },
    };
  }

  columns(table: string): Promise<ColumnInfo[] | null> {
    return this.locked(async () => {
      const rows = this.open().prepare('SELECT name, type FROM pragma_table_info(?)').all(table) as { name: string; type: string }[];
      return rows.length ? rows.map((r) => ({ name: r.name, type: r.type.toLowerCase() })) : null;
    });
  }

  transaction<T>(fn: (tx: SqlRunner) => Promise<T>, opts: { write: boolean; signal: AbortSignal }): Promise<T> {
    return this.locked(async () => {
      if (opts.signal.aborted) throw abortError(opts.signal);
      const db = this.open();
      try {
        db.exec(opts.write ? 'BEGIN IMMEDIATE' : 'BEGIN');
      } catch (err) {
        throw mapDriverError(this.id, 'sqlite', err);
      }
      try {
        const result = await fn(this.runner(opts.signal));
        if (opts.signal.aborted) throw abortError(opts.signal);
        db.exec('COMMIT');
        return result;
      } catch (err) {
        if (db.inTransaction) db.exec('ROLLBACK');
        throw mapDriverError(this.id, 'sqlite', err);
      }
    });
  }

  async ping(): Promise<void> {
    await this.locked(async () => {
      try {
        this.open().prepare('SELECT 1').get();
      } catch (err) {
        throw mapDriverError(this.id, 'sqlite', err);
      }
    });
  }

  async close(): Promise<void> {
    await this.locked(async () => {
      this.stmts.clear();
      this.db?.close();
      this.db = null;
    });
  }
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL

const guarded = new WeakSet<object>();

class PostgresDriver implements Driver {
  readonly dialect = 'postgres' as const;
  private pool: pg.Pool | null = null;

  constructor(
    private readonly id: string,
    private readonly connection: string | Record<string, unknown>,
    private readonly poolSize: number,
    private readonly queryTimeoutMs: number,
  ) {}

  quote(identifier: string): string {
    return `"${identifier}"`;
  }
  param(i: number): string {
    return `$${i}`;
  }

  private getPool(): pg.Pool {
    if (this.pool) return this.pool;
    const base: pg.PoolConfig = typeof this.connection === 'string' ? { connectionString: this.connection } : (this.connection as pg.PoolConfig);
    const pool = new pg.Pool({
      connectionTimeoutMillis: 5_000,
      idleTimeoutMillis: 30_000,
      statement_timeout: this.queryTimeoutMs,
      max: this.poolSize,
      // Lets the silo's DBA see (and account for) oubli's sessions.
      application_name: `oubli:${this.id}`,
      ...base,
    });
    // An idle client dropped by the server must not crash the process; the next query reconnects.
    pool.on('error', () => {});
    this.pool = pool;
    return pool;
  }

  private async client(signal: AbortSignal): Promise<pg.PoolClient> {
    if (signal.aborted) throw abortError(signal);
    const connecting = this.getPool().connect();
    try {
      const client = await raceAbort(connecting, signal);
      // A checked-out client whose server goes away emits 'error'; without a listener that would
      // crash the process. The failure still reaches the caller through the query's rejection.
      if (!guarded.has(client)) {
        guarded.add(client);
        client.on('error', () => {});
      }
      return client;
    } catch (err) {
      // Aborted while connecting: hand the connection back when it arrives, or the pool leaks it.
      connecting.then((c) => c.release(), () => {});
      throw mapDriverError(this.id, 'postgres', err);
    }
  }

  private runner(client: pg.PoolClient, signal: AbortSignal): SqlRunner {
    const q = async (sql: string, params: Param[]) => {
      if (signal.aborted) throw abortError(signal);
      try {
        return await raceAbort(client.query(sql, params as unknown[]), signal);
      } catch (err) {
        throw mapDriverError(this.id, 'postgres', err);
      }
    };
    return {
      all: async (sql, params) => (await q(sql, params)).rows as Row[],
      run: async (sql, params) => (await q(sql, params)).rowCount ?? 0,
    };
  }

  async columns(table: string): Promise<ColumnInfo[] | null> {
    // Start-up introspection: not bounded by the (possibly short) per-query limit.
    const signal = AbortSignal.timeout(Math.max(this.queryTimeoutMs, 15_000));
    const client = await this.client(signal);
    try {
      const rows = await this.runner(client, signal).all(
        'SELECT column_name AS name, data_type AS type FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position',
        [table],
      );
      return rows.length ? rows.map((r) => ({ name: String(r.name), type: String(r.type).toLowerCase() })) : null;
    } finally {
      client.release();
    }
  }

  async transaction<T>(fn: (tx: SqlRunner) => Promise<T>, opts: { write: boolean; signal: AbortSignal }): Promise<T> {
    const client = await this.client(opts.signal);
    let broken = false;
    try {
      await client.query(opts.write ? 'BEGIN' : 'BEGIN READ ONLY');
      const result = await fn(this.runner(client, opts.signal));
      if (opts.signal.aborted) throw abortError(opts.signal);
      await client.query('COMMIT');
      return result;
    } catch (err) {
      // After an abort a statement may still be running (e.g. waiting on a lock): terminate that
      // backend from another session, so its transaction rolls back and its locks go now, and
      // drop the connection instead of queueing a ROLLBACK behind the statement.
      if (opts.signal.aborted) {
        broken = true;
        await atMost(this.terminate(client), 2_000);
      } else {
        try {
          await client.query('ROLLBACK');
        } catch {
          broken = true;
        }
      }
      throw mapDriverError(this.id, 'postgres', err);
    } finally {
      client.release(broken);
    }
  }

  private async terminate(client: pg.PoolClient): Promise<void> {
    const pid = (client as unknown as { processID?: number }).processID;
    if (!pid) return;
    const base: pg.ClientConfig = typeof this.connection === 'string' ? { connectionString: this.connection } : (this.connection as pg.ClientConfig);
    const killer = new pg.Client({ connectionTimeoutMillis: 2_000, ...base });
    try {
      await killer.connect();
      await killer.query('SELECT pg_terminate_backend($1)', [pid]);
    } finally {
      await killer.end().catch(() => {});
    }
  }

  async ping(signal: AbortSignal): Promise<void> {
    const client = await this.client(signal);
    try {
      await this.runner(client, signal).all('SELECT 1', []);
    } finally {
      client.release(signal.aborted);
    }
  }

  async close(): Promise<void> {
    const pool = this.pool;
    this.pool = null;
    await pool?.end();
  }
}

// ---------------------------------------------------------------------------------------------
// MySQL / MariaDB

class MysqlDriver implements Driver {
  readonly dialect = 'mysql' as const;
  private pool: mysql.Pool | null = null;

  constructor(
    private readonly id: string,
    private readonly connection: string | Record<string, unknown>,
    private readonly poolSize: number,
    private readonly queryTimeoutMs: number,
  ) {}

  quote(identifier: string): string {
    return `\`${identifier}\``;
  }
  param(): string {
    return '?';
  }

  private getPool(): mysql.Pool {
    if (this.pool) return this.pool;
    const base: mysql.PoolOptions = typeof this.connection === 'string' ? { uri: this.connection } : (this.connection as mysql.PoolOptions);
    this.pool = mysql.createPool({ connectTimeout: 5_000, connectionLimit: this.poolSize, supportBigNumbers: true, bigNumberStrings: true, ...base });
    return this.pool;
  }

  private async conn(signal: AbortSignal): Promise<mysql.PoolConnection> {
    if (signal.aborted) throw abortError(signal);
    const connecting = this.getPool().getConnection();
    try {
      return await raceAbort(connecting, signal);
    } catch (err) {
      connecting.then((c) => c.release(), () => {});
      throw mapDriverError(this.id, 'mysql', err);
    }
  }

  private runner(conn: mysql.PoolConnection, signal: AbortSignal): SqlRunner {
    const q = async (sql: string, params: Param[]) => {
      if (signal.aborted) throw abortError(signal);
      try {
        const [res] = await raceAbort(conn.query({ sql, values: params, timeout: this.queryTimeoutMs }), signal);
        return res;
      } catch (err) {
        throw mapDriverError(this.id, 'mysql', err);
      }
    };
    return {
      all: async (sql, params) => (await q(sql, params)) as Row[],
      run: async (sql, params) => ((await q(sql, params)) as mysql.ResultSetHeader).affectedRows,
    };
  }

  async columns(table: string): Promise<ColumnInfo[] | null> {
    // Start-up introspection: not bounded by the (possibly short) per-query limit.
    const signal = AbortSignal.timeout(Math.max(this.queryTimeoutMs, 15_000));
    const conn = await this.conn(signal);
    try {
      const rows = await this.runner(conn, signal).all(
        'SELECT COLUMN_NAME AS name, DATA_TYPE AS type, CHARACTER_MAXIMUM_LENGTH AS len, EXTRA AS extra FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = ? ORDER BY ORDINAL_POSITION',
        [table],
      );
      return rows.length
        ? rows.map((r) => ({
            name: String(r.name),
            type: String(r.type).toLowerCase(),
            ...(r.len === null || r.len === undefined ? {} : { length: Number(r.len) }),
            ...(/INVISIBLE/i.test(String(r.extra ?? '')) ? { hidden: true } : {}),
          }))
        : null;
    } finally {
      conn.release();
    }
  }

  async transaction<T>(fn: (tx: SqlRunner) => Promise<T>, opts: { write: boolean; signal: AbortSignal }): Promise<T> {
    const conn = await this.conn(opts.signal);
    let broken = false;
    try {
      await conn.query(opts.write ? 'START TRANSACTION' : 'START TRANSACTION READ ONLY');
      const result = await fn(this.runner(conn, opts.signal));
      if (opts.signal.aborted) throw abortError(opts.signal);
      await conn.query('COMMIT');
      return result;
    } catch (err) {
      const mapped = mapDriverError(this.id, 'mysql', err);
      // Aborted, or the client-side query timeout fired: the statement still runs on the server
      // (holding its locks); kill that connection from another one so the transaction rolls back.
      if (opts.signal.aborted || mapped.code === 'SILO_TIMEOUT') {
        broken = true;
        await atMost(this.kill(conn.threadId), 2_000);
      } else {
        try {
          await conn.query('ROLLBACK');
        } catch {
          broken = true;
        }
      }
      throw mapped;
    } finally {
      if (broken) conn.destroy();
      else conn.release();
    }
  }

  private async kill(threadId: number | null | undefined): Promise<void> {
    if (!threadId) return;
    const base: mysql.ConnectionOptions = typeof this.connection === 'string' ? { uri: this.connection } : (this.connection as mysql.ConnectionOptions);
    const killer = await mysql.createConnection({ connectTimeout: 2_000, ...base });
    try {
      await killer.query(`KILL CONNECTION ${Number(threadId)}`);
    } finally {
      killer.destroy();
    }
  }

  async ping(signal: AbortSignal): Promise<void> {
    const conn = await this.conn(signal);
    try {
      await this.runner(conn, signal).all('SELECT 1', []);
    } finally {
      if (signal.aborted) conn.destroy();
      else conn.release();
    }
  }

  async close(): Promise<void> {
    const pool = this.pool;
    this.pool = null;
    await pool?.end();
  }
}
