/**
 * Signed tree heads. A head is made at most once per second while the log grows (the server's
 * ticker) and on demand; `currentTreeHead` never hands out one more than a second behind the log.
 */
import type { Sqlite } from '../db/client.js';
import type { AuditLog } from './log.js';
import type { SigningKeys } from './keys.js';
import { toHex, type TreeHead } from './verify.js';

export interface SignedTreeHead extends TreeHead {
  jws: string;
}

export const MAX_HEAD_LAG_MS = 1000;

export class TreeHeads {
  private readonly stmt;
  private signing: Promise<SignedTreeHead> | null = null;

  constructor(
    sqlite: Sqlite,
    private readonly log: AuditLog,
    private readonly keys: SigningKeys,
    private readonly logId: string,
    private readonly now: () => number,
  ) {
    this.stmt = {
      latest: sqlite.prepare('select size, root, timestamp, jws from audit_tree_heads order by size desc limit 1'),
      insert: sqlite.prepare(
        'insert into audit_tree_heads (size, root, timestamp, kid, jws) values (?, ?, ?, ?, ?) on conflict(size) do nothing',
      ),
      bySize: sqlite.prepare('select size, root, timestamp, jws from audit_tree_heads where size = ?'),
    };
  }

  latest(): SignedTreeHead | undefined {
    return this.toHead(this.stmt.latest.get());
  }

  /** Signs a head over the log as it is now (or returns the stored one for that size). */
  async sign(): Promise<SignedTreeHead> {
    // Concurrent callers share one signature instead of racing to insert the same size.
    this.signing ??= this.signNow().finally(() => (this.signing = null));
    return this.signing;
  }

  private async signNow(): Promise<SignedTreeHead> {
    const { size, root } = this.log.head();
    const existing = this.toHead(this.stmt.bySize.get(size));
    if (existing) return existing;
    const head: TreeHead = { log: this.logId, size, root: toHex(root), timestamp: this.now() };
    const jws = await this.keys.sign(head, 'oubli-sth+jws');
    // Another process may have signed the same size meanwhile: same root, either head is valid.
    this.stmt.insert.run(head.size, head.root, head.timestamp, this.keys.activeKid(), jws);
    return this.toHead(this.stmt.bySize.get(size))!;
  }

  /** A head at most MAX_HEAD_LAG_MS behind the log. */
  async current(): Promise<SignedTreeHead> {
    const latest = this.latest();
    if (latest && (latest.size === this.log.size() || this.now() - latest.timestamp < MAX_HEAD_LAG_MS)) return latest;
    return this.sign();
  }

  /** Called every second by the server: sign only when the log grew. */
  async tick(): Promise<void> {
    const latest = this.latest();
    if (!latest || latest.size !== this.log.size()) await this.sign();
  }

  private toHead(row: unknown): SignedTreeHead | undefined {
    if (!row) return undefined;
    const r = row as { size: number; root: string; timestamp: number; jws: string };
    return { log: this.logId, size: r.size, root: r.root, timestamp: r.timestamp, jws: r.jws };
  }
}
