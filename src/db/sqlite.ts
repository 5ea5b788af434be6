/**
 * The embedded store: one SQLite file (WAL), two connections. The writer runs every transaction,
 * one at a time (`Serial`), each as BEGIN IMMEDIATE so that a CLI command and the server sharing
 * the file queue instead of failing a read→write upgrade. The reader (read-only) answers reads
 * outside transactions: it sees committed data only, so a read never observes a transaction
 * that is still running (its body awaits) or that will roll back.
 */
import { EventEmitter } from 'node:events';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database, { type SqliteConnection } from '../../connectors/sql/sqlite-binding.js';
import { drizzle } from 'drizzle-orm/better-sqlite3';
import { migrate } from 'drizzle-orm/better-sqlite3/migrator';
import * as schema from './schema/index.js';
import type { Database as Db, Handle, Preparable, Q, Statement, TxOptions } from './database.js';
import { runCommitHooks, Stores } from './handle.js';
import { Serial } from './serial.js';
import { Checkpointer, type CheckpointLimits } from './checkpointer.js';

/** The statements drizzle prepares for SQLite (synchronous execution). */
interface SqlitePrepared {
  all(params?: object): unknown[];
  get(params?: object): unknown;
  run(params?: object): { changes: number };
}

export interface SqliteOptions {
  migrationsFolder: string;
  /** Page cache per connection, KiB. */
  cacheKib?: number;
  /** When the WAL is checkpointed (src/db/checkpointer.ts); the defaults outside tests. */
  checkpoints?: CheckpointLimits;
}

function configure(conn: SqliteConnection, cacheKib: number): void {
  conn.pragma('busy_timeout = 5000');
  conn.pragma('foreign_keys = ON');
  // Page cache: the 2 MB default thrashes on a store of a million people (every consent read or
  // write touches random leaves of several multi-hundred-MB indexes); pages are allocated only as
  // they are used, so a small store stays small. Temp b-trees (sorts, statement journals of
  // savepoints) in memory rather than temp files.
  conn.pragma(`cache_size = -${cacheKib}`);
  conn.pragma('temp_store = MEMORY');
}

class SqliteHandle extends Stores {
  constructor(
    readonly db: SqliteDatabase,
    readonly q: Q,
    readonly inTx: boolean,
  ) {
    super();
  }
}

export class SqliteDatabase extends Stores implements Db {
  readonly dialect = 'sqlite' as const;
  readonly tables = schema;
  readonly q: Q;
  readonly inTx = false;
  readonly db = this;
  readonly writer: SqliteConnection;
  readonly reader: SqliteConnection;
  private readonly writerQ: Q;
  private readonly txHandle: SqliteHandle;
  private readonly serial = new Serial();
  private readonly events = new EventEmitter();
  private readonly cache = new Map<string, unknown>();
  private readonly checkpoints: Checkpointer;
  private savepoints = 0;

  private constructor(path: string, opts: SqliteOptions) {
    super();
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    const cacheKib = opts.cacheKib ?? 262_144;
    this.writer = new Database(path);
    this.writer.pragma('journal_mode = WAL');
    this.writer.pragma('synchronous = NORMAL');
    // Deleted content is overwritten, not left in free pages: an erased person's rows (and a
    // destroyed pseudonym key) must not be recoverable from the file.
    this.writer.pragma('secure_delete = ON');
    configure(this.writer, cacheKib);
    this.checkpoints = new Checkpointer(path, this.writer, opts.checkpoints);
    migrate(drizzle(this.writer, { schema }), { migrationsFolder: opts.migrationsFolder });
    this.reader = new Database(path, { readonly: true, fileMustExist: true });
    configure(this.reader, cacheKib);
    this.writerQ = drizzle(this.writer, { schema }) as unknown as Q;
    this.q = drizzle(this.reader, { schema }) as unknown as Q;
    this.txHandle = new SqliteHandle(this, this.writerQ, true);
    this.events.setMaxListeners(0);
  }

  /** Opens (creating when missing) and migrates the database file. */
  static open(path: string, opts: SqliteOptions): SqliteDatabase {
    return new SqliteDatabase(path, opts);
  }

  tx<T>(fn: (t: Stores) => Promise<T>, _opts?: TxOptions): Promise<T> {
    // Locks by name are implied: the writer runs one transaction at a time, in every process.
    return this.serial.run(async () => {
      this.writer.exec('BEGIN IMMEDIATE');
      this.txHandle.takeCommitHooks();
      try {
        const out = await fn(this.txHandle);
        this.writer.exec('COMMIT');
        await this.checkpoints.afterCommit();
        runCommitHooks(this.txHandle.takeCommitHooks());
        return out;
      } catch (err) {
        if (this.writer.inTransaction) this.writer.exec('ROLLBACK');
        this.txHandle.takeCommitHooks();
        throw err;
      }
    });
  }

  /** The writer already runs one transaction at a time, in every process. */
  async lock(t: Handle, _name: string | readonly string[]): Promise<void> {
    if (!t.inTx) throw new Error('lock() needs a transaction');
  }

  async savepoint<T>(t: Handle, fn: () => Promise<T>): Promise<T> {
    if (!t.inTx) throw new Error('savepoint() needs a transaction');
    const name = `sp${++this.savepoints}`;
    this.writer.exec(`SAVEPOINT ${name}`);
    try {
      const out = await fn();
      this.writer.exec(`RELEASE ${name}`);
      return out;
    } catch (err) {
      this.writer.exec(`ROLLBACK TO ${name}`);
      this.writer.exec(`RELEASE ${name}`);
      throw err;
    }
  }

  statement<Row>(_name: string, build: (q: Q) => Preparable): Statement<Row> {
    let onReader: SqlitePrepared | undefined;
    let onWriter: SqlitePrepared | undefined;
    const pick = (h: Handle): SqlitePrepared =>
      h.inTx ? (onWriter ??= build(this.writerQ).prepare() as SqlitePrepared) : (onReader ??= build(this.q).prepare() as SqlitePrepared);
    return {
      all: async (h, params) => pick(h).all(params) as Row[],
      first: async (h, params) => pick(h).get(params) as Row | undefined,
      run: async (h, params) => pick(h).run(params).changes,
    };
  }

  cached<T>(key: string, build: (db: Db) => T): T {
    let v = this.cache.get(key) as T | undefined;
    if (v === undefined) {
      v = build(this);
      this.cache.set(key, v);
    }
    return v;
  }

  async notify(channel: string): Promise<void> {
    this.events.emit(channel);
  }

  async listen(channel: string, fn: () => void): Promise<() => Promise<void>> {
    this.events.on(channel, fn);
    return async () => void this.events.off(channel, fn);
  }

  checkpoint(): Promise<void> {
    return this.serial.run(async () => {
      // The worker's copy is waited for here, off the event loop, rather than in SQLite's busy
      // handler, which would hold the event loop until the truncation (what an erasure relies
      // on: src/subjects/service.ts) can run.
      await this.checkpoints.settled();
      this.writer.pragma('wal_checkpoint(TRUNCATE)');
    });
  }

  async close(): Promise<void> {
    await this.serial.run(async () => {
      await this.checkpoints.close();
      this.reader.close();
      this.writer.close();
    });
  }
}
