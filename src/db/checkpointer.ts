/**
 * WAL checkpoints of the embedded store, off the writer's thread.
 *
 * SQLite's automatic checkpoint runs inside the COMMIT that crosses its threshold: that commit
 * copies every page the WAL holds back into the database file and syncs it, on the event loop.
 * On a store of a million people a consent batch dirties tens of thousands of random pages, and
 * that copy was about 40 % of the batch (test/bench/consent-2-http.bench.ts). Here the writer
 * never checkpoints by itself (`wal_autocheckpoint = 0`); after a commit that left the WAL past
 * `POKE_BYTES` a worker thread with its own connection runs a PASSIVE checkpoint, which never
 * blocks the writer or the readers, while the event loop goes on.
 *
 * A PASSIVE checkpoint cannot finish while writes keep coming, and the WAL only starts over once
 * one has finished: so when the WAL passes `LIMIT_BYTES` the writer runs one RESTART checkpoint
 * itself, between two transactions (most pages are usually copied by then). That bounds the file
 * as the automatic checkpoint did; `journal_size_limit` shrinks it once it starts over. The
 * worker starts on the first checkpoint a store needs (a small store, a test, a CLI command
 * never starts one) and is stopped by close(); if it fails, the writer checkpoints inline again.
 */
import { statSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { bindingModule, type SqliteConnection } from '../../connectors/sql/sqlite-binding.js';

/** WAL size past which a commit asks the worker for a checkpoint (SQLite's own default: 1000 pages). */
export const POKE_BYTES = 4 * 1024 * 1024;
/** WAL size past which the writer checkpoints itself (RESTART) before its next transaction. */
export const LIMIT_BYTES = 256 * 1024 * 1024;

// Plain CommonJS, evaluated in the worker: it runs no TypeScript and loads the same binding.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.binding);
const db = new Database(workerData.path, { fileMustExist: true });
db.pragma('busy_timeout = 5000');
db.pragma('cache_size = -2048');
parentPort.on('message', (m) => {
  if (m === 'close') {
    db.close();
    parentPort.close();
    return;
  }
  try {
    db.pragma('wal_checkpoint(PASSIVE)');
    parentPort.postMessage({ ok: true });
  } catch (err) {
    parentPort.postMessage({ ok: false, message: String(err && err.message) });
  }
});
`;

/** The two WAL sizes above, smaller in tests. */
export interface CheckpointLimits {
  pokeBytes?: number;
  limitBytes?: number;
}

export class Checkpointer {
  private worker: Worker | undefined;
  private running = false;
  private again = false;
  /** Settles when the worker is not copying. */
  private idle: Promise<void> = Promise.resolve();
  private settle: () => void = () => {};
  private failed = false;
  private closed = false;
  private readonly walPath: string;

  private readonly pokeBytes: number;
  private readonly limitBytes: number;

  constructor(
    private readonly path: string,
    private readonly writer: SqliteConnection,
    limits: CheckpointLimits = {},
  ) {
    this.walPath = `${path}-wal`;
    this.pokeBytes = limits.pokeBytes ?? POKE_BYTES;
    this.limitBytes = limits.limitBytes ?? LIMIT_BYTES;
    writer.pragma('wal_autocheckpoint = 0');
    writer.pragma(`journal_size_limit = ${this.pokeBytes}`);
  }

  /**
   * After each commit (on the writer's turn, before the next transaction): asks the worker for a
   * checkpoint; past LIMIT_BYTES, waits for the worker's copy to end and starts the WAL over
   * itself — the back-pressure that bounds the file when writes outrun the worker.
   */
  async afterCommit(): Promise<void> {
    const size = this.walSize();
    if (size <= this.pokeBytes) return;
    if (!this.failed && size <= this.limitBytes) return this.poke();
    await this.settled();
    // The transaction has committed: a checkpoint that cannot run now (a reader in the way) is
    // tried again after the next commit, never reported as the transaction's failure.
    try {
      this.writer.pragma('wal_checkpoint(RESTART)');
    } catch {}
  }

  /**
   * Settles once the worker is not copying. A copy can chain another as it ends (commits came
   * meanwhile), so this waits until none runs; a new one starts only after a commit, which cannot
   * come before the caller's turn on the writer ends.
   */
  async settled(): Promise<void> {
    while (this.running) await this.idle;
  }

  /** Stops the worker (its copy in progress ends first); the writer's close then checkpoints what is left. */
  async close(): Promise<void> {
    this.closed = true;
    await this.settled();
    const w = this.worker;
    if (!w) return;
    this.worker = undefined;
    const exited = new Promise<void>((resolve) => w.once('exit', () => resolve()));
    w.ref();
    w.postMessage('close');
    await exited;
  }

  private walSize(): number {
    try {
      return statSync(this.walPath).size;
    } catch {
      return 0;
    }
  }

  private poke(): void {
    if (this.closed) return;
    if (this.running) {
      this.again = true;
      return;
    }
    try {
      this.worker ??= this.start();
    } catch {
      this.failed = true; // no worker threads here: the writer checkpoints inline
      return;
    }
    this.running = true;
    this.idle = new Promise((resolve) => (this.settle = resolve));
    // Referenced while it copies: whoever awaits the copy (close, checkpoint, the writer past
    // the limit) is not left with an event loop that has nothing to wait for.
    this.worker.ref();
    this.worker.postMessage('run');
  }

  private start(): Worker {
    const w = new Worker(WORKER_SOURCE, { eval: true, workerData: { binding: bindingModule, path: this.path } });
    w.unref();
    w.on('message', (m: { ok: boolean }) => {
      w.unref();
      this.running = false;
      this.settle();
      if (!m.ok) this.failed = true;
      // Commits came meanwhile: go on, unless the WAL is over the limit (the writer's turn).
      const more = this.again;
      this.again = false;
      if (more && !this.failed && this.walSize() <= this.limitBytes) this.poke();
    });
    // A worker that fails or ends unasked: the writer checkpoints inline from now on.
    const lost = () => {
      if (this.worker === w) this.failed = true;
      this.running = false;
      this.settle();
    };
    w.on('error', lost);
    w.on('exit', lost);
    return w;
  }
}
