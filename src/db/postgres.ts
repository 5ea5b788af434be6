/**
 * The PostgreSQL store, for high availability: several stateless oubli instances on one
 * database. What SQLite's single writer gave for free is kept explicitly:
 * - a transaction names what it must serialise (`locks`), taken as transaction-scoped advisory
 *   locks in sorted order (no lock-order deadlock between two of ours);
 * - a deadlock or serialization failure re-runs the whole transaction (its body touches nothing
 *   but the database), a few times, with jitter;
 * - `notify()` is NOTIFY, heard by every instance's `listen()` on one dedicated connection that
 *   reconnects by itself.
 * Migrations run under a session advisory lock, so instances starting together apply them once.
 */
import { randomInt } from 'node:crypto';
import pg from 'pg';
import { drizzle } from 'drizzle-orm/node-postgres';
import { migrate } from 'drizzle-orm/node-postgres/migrator';
import * as pgSchema from './pg-schema/index.js';
import type { Database, Handle, Preparable, Q, Schema, Statement, TxOptions } from './database.js';
import { runCommitHooks, Stores } from './handle.js';

/** What drizzle prepares for node-postgres. */
interface PgPrepared {
  execute(params?: object): Promise<unknown>;
}

export interface PostgresOptions {
  url: string;
  migrationsFolder: string;
  poolSize?: number;
  /** Names the connections in pg_stat_activity. */
  applicationName?: string;
  onError?: (err: Error) => void;
}

const RETRYABLE = new Set(['40P01', '40001']);
const MAX_TX_ATTEMPTS = 5;
const CHANNEL = /^[a-z][a-z0-9_]{0,62}$/;
/** Key of the session lock taken around migrations (any constant; "oubli" in ASCII). */
const MIGRATION_LOCK = 0x6f75626c69;

class PgHandle extends Stores {
  readonly inTx = true;
  constructor(
    readonly db: PostgresDatabase,
    readonly q: Q,
    readonly client: pg.PoolClient,
  ) {
    super();
  }
}

/** Rows of a drizzle execute(): an array for selects and `.returning()`, a QueryResult otherwise. */
function rowsOf<Row>(r: unknown): Row[] {
  return Array.isArray(r) ? (r as Row[]) : ((r as pg.QueryResult).rows as Row[]);
}

export class PostgresDatabase extends Stores implements Database {
  readonly dialect = 'postgres' as const;
  readonly tables = pgSchema as unknown as Schema;
  readonly q: Q;
  readonly inTx = false;
  readonly db = this;
  readonly pool: pg.Pool;
  private readonly cache = new Map<string, unknown>();
  /** Per pooled connection: its drizzle handle and the statements prepared on it. */
  private readonly perClient = new WeakMap<pg.PoolClient, { q: Q; stmts: Map<string, PgPrepared> }>();
  private listener: Listener | null = null;
  private savepoints = 0;

  private constructor(private readonly opts: PostgresOptions) {
    super();
    this.pool = new pg.Pool({
      connectionString: opts.url,
      max: opts.poolSize ?? 10,
      connectionTimeoutMillis: 10_000,
      idleTimeoutMillis: 30_000,
      application_name: opts.applicationName ?? 'oubli',
    });
    // An idle connection dropped by the server must not crash the process: the next query reconnects.
    this.pool.on('error', (err) => opts.onError?.(err));
    this.q = drizzle(this.pool, { schema: pgSchema }) as unknown as Q;
  }

  /** Connects, applies the migrations (once, whichever instance gets there first). */
  static async open(opts: PostgresOptions): Promise<PostgresDatabase> {
    const db = new PostgresDatabase(opts);
    const client = await db.pool.connect();
    try {
      await client.query('select pg_advisory_lock($1)', [MIGRATION_LOCK]);
      try {
        await migrate(drizzle(client), { migrationsFolder: opts.migrationsFolder });
      } finally {
        await client.query('select pg_advisory_unlock($1)', [MIGRATION_LOCK]);
      }
    } catch (err) {
      client.release(true);
      await db.pool.end();
      throw err;
    }
    client.release();
    return db;
  }

  private bound(client: pg.PoolClient) {
    let b = this.perClient.get(client);
    if (!b) {
      b = { q: drizzle(client, { schema: pgSchema }) as unknown as Q, stmts: new Map() };
      this.perClient.set(client, b);
    }
    return b;
  }

  async tx<T>(fn: (t: Stores) => Promise<T>, opts: TxOptions = {}): Promise<T> {
    const locks = [...new Set(opts.locks ?? [])].sort();
    for (let attempt = 1; ; attempt++) {
      const client = await this.pool.connect();
      let broken = false;
      try {
        await client.query('BEGIN');
        // All in one round trip; unnest() yields the names in (sorted) order, each locked in turn.
        if (locks.length) await client.query('select pg_advisory_xact_lock(hashtextextended(n, 0)) from unnest($1::text[]) as n', [locks]);
        const handle = new PgHandle(this, this.bound(client).q, client);
        const out = await fn(handle);
        await client.query('COMMIT');
        runCommitHooks(handle.takeCommitHooks());
        return out;
      } catch (err) {
        try {
          await client.query('ROLLBACK');
        } catch {
          broken = true;
        }
        // drizzle wraps a failed query's error: PostgreSQL's SQLSTATE is then on its cause.
        const code = (err as { code?: string }).code ?? (err as { cause?: { code?: string } }).cause?.code;
        if (!(code && RETRYABLE.has(code) && attempt < MAX_TX_ATTEMPTS)) throw err;
        await new Promise((r) => setTimeout(r, randomInt(5, 20 * attempt)));
      } finally {
        client.release(broken);
      }
    }
  }

  async lock(t: Handle, name: string | readonly string[]): Promise<void> {
    const client = (t as PgHandle).client;
    if (!client) throw new Error('lock() needs a transaction');
    if (typeof name === 'string') {
      await client.query('select pg_advisory_xact_lock(hashtextextended($1, 0))', [name]);
      return;
    }
    const names = [...new Set(name)].sort();
    if (names.length === 0) return;
    // unnest() yields the array in order and each row's lock is taken as it is produced.
    await client.query('select pg_advisory_xact_lock(hashtextextended(n, 0)) from unnest($1::text[]) as n', [names]);
  }

  async savepoint<T>(t: Handle, fn: () => Promise<T>): Promise<T> {
    const client = (t as PgHandle).client;
    if (!client) throw new Error('savepoint() needs a transaction');
    const name = `sp${++this.savepoints}`;
    await client.query(`SAVEPOINT ${name}`);
    try {
      const out = await fn();
      await client.query(`RELEASE SAVEPOINT ${name}`);
      return out;
    } catch (err) {
      await client.query(`ROLLBACK TO SAVEPOINT ${name}`);
      await client.query(`RELEASE SAVEPOINT ${name}`);
      throw err;
    }
  }

  statement<Row>(name: string, build: (q: Q) => Preparable): Statement<Row> {
    let onPool: PgPrepared | undefined;
    const pick = (h: Handle): PgPrepared => {
      if (!h.inTx) return (onPool ??= build(this.q).prepare(name) as PgPrepared);
      // A transaction's statements must run on its own connection.
      const b = this.bound((h as PgHandle).client);
      let s = b.stmts.get(name);
      if (!s) {
        s = build(b.q).prepare(name) as PgPrepared;
        b.stmts.set(name, s);
      }
      return s;
    };
    return {
      all: async (h, params) => rowsOf<Row>(await pick(h).execute(params)),
      first: async (h, params) => rowsOf<Row>(await pick(h).execute(params))[0],
      run: async (h, params) => {
        const r = await pick(h).execute(params);
        return Array.isArray(r) ? r.length : ((r as pg.QueryResult).rowCount ?? 0);
      },
    };
  }

  cached<T>(key: string, build: (db: Database) => T): T {
    let v = this.cache.get(key) as T | undefined;
    if (v === undefined) {
      v = build(this);
      this.cache.set(key, v);
    }
    return v;
  }

  async notify(channel: string): Promise<void> {
    if (!CHANNEL.test(channel)) throw new Error(`bad channel name ${channel}`);
    await this.pool.query('select pg_notify($1, $2)', [channel, '']);
  }

  async listen(channel: string, fn: () => void): Promise<() => Promise<void>> {
    if (!CHANNEL.test(channel)) throw new Error(`bad channel name ${channel}`);
    this.listener ??= new Listener(this.opts);
    return this.listener.add(channel, fn);
  }

  /** PostgreSQL manages its own WAL; dead rows go with (auto)vacuum. */
  async checkpoint(): Promise<void> {}

  async close(): Promise<void> {
    await this.listener?.close();
    await this.pool.end();
  }
}

/**
 * One connection doing LISTEN for every channel of this process. Dropped (server restart,
 * network), it reconnects with backoff and tells every subscriber once, since notifications
 * sent meanwhile are lost: subscribers then look for work themselves.
 */
class Listener {
  private client: pg.Client | null = null;
  private readonly subs = new Map<string, Set<() => void>>();
  private connecting: Promise<void> | null = null;
  private closed = false;
  private retryMs = 100;
  /** pg runs one query at a time per client: LISTEN / UNLISTEN of concurrent add()s wait here. */
  private queries: Promise<unknown> = Promise.resolve();

  constructor(private readonly opts: PostgresOptions) {}

  private send(sql: string): Promise<void> {
    const next = this.queries.then(async () => {
      await this.client?.query(sql);
    });
    this.queries = next.catch(() => {});
    return next;
  }

  async add(channel: string, fn: () => void): Promise<() => Promise<void>> {
    let set = this.subs.get(channel);
    const first = !set;
    if (!set) this.subs.set(channel, (set = new Set()));
    set.add(fn);
    await this.connect();
    if (first) await this.send(`LISTEN ${channel}`);
    return async () => {
      set.delete(fn);
      if (set.size === 0 && this.subs.get(channel) === set) {
        this.subs.delete(channel);
        await this.send(`UNLISTEN ${channel}`).catch(() => {});
      }
    };
  }

  private connect(): Promise<void> {
    if (this.client || this.closed) return Promise.resolve();
    this.connecting ??= (async () => {
      const client = new pg.Client({ connectionString: this.opts.url, application_name: `${this.opts.applicationName ?? 'oubli'}:listen` });
      client.on('notification', (n) => {
        for (const fn of this.subs.get(n.channel) ?? []) fn();
      });
      client.on('error', (err) => {
        this.opts.onError?.(err);
        this.dropped(client);
      });
      client.on('end', () => this.dropped(client));
      await client.connect();
      for (const channel of this.subs.keys()) await client.query(`LISTEN ${channel}`);
      this.client = client;
      this.retryMs = 100;
    })().finally(() => (this.connecting = null));
    return this.connecting;
  }

  private dropped(client: pg.Client): void {
    if (this.client !== client) return;
    this.client = null;
    if (this.closed) return;
    const retry = () => {
      this.connect().then(
        () => {
          for (const set of this.subs.values()) for (const fn of set) fn();
        },
        (err: Error) => {
          this.opts.onError?.(err);
          this.retryMs = Math.min(this.retryMs * 2, 10_000);
          setTimeout(retry, this.retryMs).unref();
        },
      );
    };
    setTimeout(retry, this.retryMs).unref();
  }

  async close(): Promise<void> {
    this.closed = true;
    const c = this.client;
    this.client = null;
    await c?.end().catch(() => {});
  }
}
