/**
 * Group commit: writes submitted in the same turn of the event loop (up to `max`) share ONE
 * transaction — one commit, one WAL write of the pages they share, one audit append of their
 * entries — instead of one each. Each caller's promise settles after its group committed, so a
 * resolved submit still means "durable".
 *
 * If the group fails (one item's guard no longer holds, a constraint), it is replayed in one
 * transaction with a savepoint per item: each caller gets its own outcome and one bad item never
 * takes the others down (every item is a self-contained, guarded change, so replaying is safe).
 * An error `fatal` recognises (a store still locked by another process) fails the whole group at
 * once instead: replaying would only wait again, once per item.
 */
import type { Database } from './database.js';
import type { Stores } from './handle.js';

export interface GroupCommitOptions<I, R> {
  /** Most items in one transaction. */
  max: number;
  /** Writes `items` in the transaction `t`, answering one result per item, in order. */
  run: (t: Stores, items: I[]) => Promise<R[]>;
  fatal?: (err: unknown) => boolean;
  /** Names to lock for a group (`TxOptions.locks`), taken before `run`, in sorted order. */
  locks?: (items: I[]) => string[];
}

interface Waiting<I, R> {
  item: I;
  resolve: (r: R) => void;
  reject: (e: unknown) => void;
}

export class GroupCommit<I, R> {
  private queue: Waiting<I, R>[] = [];
  private flushing = false;

  constructor(
    private readonly db: Database,
    private readonly opts: GroupCommitOptions<I, R>,
  ) {}

  submit(item: I): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      if (this.queue.length === 1 && !this.flushing) setImmediate(() => void this.flush());
    });
  }

  /** Commits groups until the queue is empty; what arrives meanwhile forms the next group. */
  private async flush(): Promise<void> {
    if (this.flushing) return;
    this.flushing = true;
    try {
      while (this.queue.length > 0) await this.commit(this.queue.splice(0, this.opts.max));
    } finally {
      this.flushing = false;
    }
  }

  private async commit(group: Waiting<I, R>[]): Promise<void> {
    const items = group.map((w) => w.item);
    const tx = { locks: this.opts.locks?.(items) };
    let results: ({ ok: true; v: R } | { ok: false; e: unknown })[];
    try {
      const out = await this.db.tx((t) => this.opts.run(t, items), tx);
      results = out.map((v) => ({ ok: true as const, v }));
    } catch (err) {
      if (this.opts.fatal?.(err)) {
        for (const w of group) w.reject(err);
        return;
      }
      try {
        results = await this.db.tx(async (t) => {
          const one: ({ ok: true; v: R } | { ok: false; e: unknown })[] = [];
          for (const item of items) {
            try {
              const [v] = await this.db.savepoint(t, () => this.opts.run(t, [item]));
              one.push({ ok: true, v: v! });
            } catch (e) {
              one.push({ ok: false, e });
            }
          }
          return one;
        }, tx);
      } catch (e) {
        for (const w of group) w.reject(e);
        return;
      }
    }
    group.forEach((w, i) => {
      const r = results[i]!;
      if (r.ok) w.resolve(r.v);
      else w.reject(r.e);
    });
  }
}
