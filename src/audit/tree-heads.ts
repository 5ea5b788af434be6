/**
 * Signed tree heads and checkpoints. A head is made at most once per second while the log grows
 * (the server's ticker) and on demand; `current` never hands out one more than a second behind
 * the log.
 *
 * One signer at a time: whatever instance (or CLI command) signs holds the `audit-signer` lease
 * (src/db/stores/leases.ts), renewed at every tick. Another instance that needs a head waits for
 * the holder's next one instead of signing itself; when the holder stops, it gives the lease up,
 * and when it dies, the lease runs out and the next one to ask takes it. Heads are thus stamped by
 * one clock at a time, in size order.
 *
 * Invariant: a head is signed only over a log that extends the newest head already signed —
 * checked with a consistency proof against that head's signed root, and against this data dir's
 * latest checkpoint file. Someone who edits the database (rewrites old entries and their nodes,
 * or deletes the last entries with their heads) thus cannot get the server to sign the result:
 * signing fails loudly instead.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Database } from '../db/database.js';
import type { TreeHeadRow } from '../db/schema/audit.js';
import { AppError } from '../errors.js';
import type { AuditLog } from './log.js';
import type { SigningKeys } from './keys.js';
import { formatCheckpoint, parseVerifierKey, verifyCheckpoint, type Checkpoint } from './note.js';
import { checkTreeHead, fromHex, toHex, TREE_HEAD_TYP, verifyConsistency, type TreeHead } from './verify.js';
import type { Stores } from '../db/handle.js';

export interface SignedTreeHead extends TreeHead {
  jws: string;
}

export const MAX_HEAD_LAG_MS = 1000;

/** The lease whose holder signs tree heads. */
export const SIGNER_LEASE = 'audit-signer';
/** How long a holder keeps the lease without renewing it (the ticker renews it every second). */
export const SIGNER_LEASE_MS = 5000;

export interface TreeHeadsOptions {
  /**
   * A file (outside the database) that keeps the newest checkpoint this data dir signed;
   * `oubli audit verify` checks the log still extends it.
   */
  checkpointFile?: string;
  /** Who this process is when it holds the signer lease (unique per process; random by default). */
  signer?: string;
  /** SIGNER_LEASE_MS unless a test says otherwise. */
  leaseMs?: number;
  /**
   * Called in the transaction that stores each new head, with its C2SP checkpoint: the
   * deployment announces it to audit.checkpoint subscribers (src/runtime.ts).
   */
  onNewHead?: (t: Stores, head: { size: number; root: string; timestamp: number; checkpoint: string }) => Promise<unknown>;
}

export class TreeHeads {
  private signing: Promise<SignedTreeHead> | null = null;
  /** The last checkpoint served: the public route re-signs only when the head or key changed. */
  private served?: { jws: string; kid: string; note: string };
  private readonly signer: string;
  /** The last head `follow` saved. */
  private followed?: string;
  private readonly leaseMs: number;

  constructor(
    private readonly db: Database,
    private readonly log: AuditLog,
    private readonly keys: SigningKeys,
    readonly logId: string,
    private readonly now: () => number,
    private readonly opts: TreeHeadsOptions = {},
  ) {
    this.signer = opts.signer ?? `signer_${randomBytes(8).toString('hex')}`;
    this.leaseMs = opts.leaseMs ?? SIGNER_LEASE_MS;
  }

  async latest(): Promise<SignedTreeHead | undefined> {
    return this.toHead(await this.db.audit.latestHead());
  }

  /**
   * A head over the log as it is now: signed here when this process holds (or can take) the
   * signer lease, else the one the holder signs next (it signs every second while the log grows).
   */
  async sign(): Promise<SignedTreeHead> {
    const wanted = await this.log.size();
    // Real time, not `now`: the wait is for another process, whatever clock this one is given.
    const deadline = Date.now() + 2 * this.leaseMs;
    for (;;) {
      if (await this.holdLease()) return this.signOnce();
      const latest = await this.latest();
      if (latest && latest.size >= wanted) return latest;
      if (Date.now() > deadline) {
        throw new AppError('AUDIT_SIGNER_UNAVAILABLE', `another instance holds the ${SIGNER_LEASE} lease but signed no tree head of size ${wanted}`);
      }
      await sleep(50);
    }
  }

  /** Concurrent callers share one signature instead of racing to insert the same size. */
  private signOnce(): Promise<SignedTreeHead> {
    this.signing ??= this.signNow().finally(() => (this.signing = null));
    return this.signing;
  }

  /** Takes or renews the signer lease; true while this process holds it. */
  private holdLease(): Promise<boolean> {
    const now = this.now();
    return this.db.tx((t) => t.leases.acquire(SIGNER_LEASE, this.signer, now, now + this.leaseMs));
  }

  /** Gives the signer lease up (at shutdown), so another instance signs at once. */
  async releaseLease(): Promise<void> {
    await this.db.tx((t) => t.leases.release(SIGNER_LEASE, this.signer));
  }

  private async signNow(): Promise<SignedTreeHead> {
    for (let attempt = 0; ; attempt++) {
      const { size, root } = await this.log.head();
      // Stamped when the size is read, so heads from several processes are dated in size order.
      const timestamp = this.now();
      const existing = this.toHead(await this.db.audit.headBySize(size));
      if (existing) return existing;
      if ((await this.checkExtends(size, root)) === 'overtaken') {
        // Another process appended and signed a larger head meanwhile: that one covers ours.
        if (attempt < 3) continue;
        return (await this.latest())!;
      }
      const head: TreeHead = { log: this.logId, size, root: toHex(root), timestamp };
      const jws = await this.keys.sign(head, TREE_HEAD_TYP);
      // Another process may have signed the same size meanwhile: same root, either head is valid.
      const row: TreeHeadRow = { size: head.size, root: head.root, timestamp: head.timestamp, kid: this.keys.activeKid(), jws };
      const announce = this.opts.onNewHead;
      const checkpoint = announce ? this.keys.signNote(formatCheckpoint({ origin: this.logId, size, root }), this.logId) : '';
      await this.db.tx(async (t) => {
        if ((await t.audit.insertHead(row)) && announce) await announce(t, { size, root: head.root, timestamp, checkpoint });
      });
      const stored = this.toHead(await this.db.audit.headBySize(size))!;
      this.saveCheckpoint({ origin: this.logId, size, root });
      return stored;
    }
  }

  /**
   * Refuses to sign a log that does not extend the newest signed head and the saved checkpoint.
   * A head or checkpoint larger than `size` is a truncation, unless the log has grown past it
   * since `size` was read (another process signed meanwhile): then 'overtaken'.
   */
  private async checkExtends(size: number, root: Uint8Array): Promise<'ok' | 'overtaken'> {
    const refuse = (why: string): never => {
      throw new AppError('AUDIT_LOG_TAMPERED', `refusing to sign a tree head of size ${size}: ${why}; run \`oubli audit verify\``);
    };
    const anchors: { size: number; root: Uint8Array; what: string }[] = [];
    const latest = await this.latest();
    if (latest) {
      const checked = await checkTreeHead(latest.jws, this.keys.jwks(), this.logId);
      if (!checked.ok) refuse(`the newest stored tree head (size ${latest.size}) ${checked.reason}`);
      else anchors.push({ size: checked.value.size, root: fromHex(checked.value.root)!, what: `the signed tree head of size ${checked.value.size}` });
    }
    const saved = this.savedCheckpoint();
    if (saved && 'error' in saved) refuse(`the data dir's checkpoint file does not verify (${saved.error})`);
    else if (saved) anchors.push({ size: saved.size, root: saved.root, what: `the data dir's saved checkpoint of size ${saved.size}` });
    for (const a of anchors) {
      if (a.size > size) {
        const now = await this.log.size();
        if (now >= a.size) return 'overtaken';
        refuse(`the log has ${now} entries but ${a.what} covers ${a.size}`);
      }
      if (a.size === 0) continue;
      if (!verifyConsistency(a.size, size, a.root, root, await this.log.consistencyProof(a.size, size))) {
        refuse(`the log does not extend ${a.what}`);
      }
    }
    return 'ok';
  }

  /** The newest checkpoint kept in the checkpoint file, checked with this log's keys. */
  savedCheckpoint(): Checkpoint | { error: string } | undefined {
    const file = this.opts.checkpointFile;
    if (!file || !existsSync(file)) return undefined;
    const known = this.keys.verifierKeys(this.logId).map((k) => parseVerifierKey(k)!);
    return verifyCheckpoint(readFileSync(file, 'utf8'), known, this.logId);
  }

  /** Keeps the newest checkpoint in the checkpoint file (atomic replace; never moves back). */
  private saveCheckpoint(c: Checkpoint): void {
    const file = this.opts.checkpointFile;
    if (!file) return;
    const saved = this.savedCheckpoint();
    if (saved && !('error' in saved) && saved.size >= c.size) return;
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    // Unique per process and host: the data dir may be on storage shared by several instances.
    const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
    writeFileSync(tmp, this.keys.signNote(formatCheckpoint(c), this.logId), { mode: 0o600 });
    renameSync(tmp, file);
  }

  /** A head at most MAX_HEAD_LAG_MS behind the log. */
  async current(): Promise<SignedTreeHead> {
    const latest = await this.latest();
    if (latest && (latest.size === (await this.log.size()) || this.now() - latest.timestamp < MAX_HEAD_LAG_MS)) return latest;
    return this.sign();
  }

  /**
   * The latest head as a C2SP tlog-checkpoint signed note. Its size and root come from the
   * head's verified signature, never from the row's columns: an edited row cannot make oubli
   * sign a checkpoint of a tree it never had.
   */
  async checkpoint(): Promise<string> {
    const head = await this.current();
    const kid = this.keys.activeKid();
    if (this.served?.jws === head.jws && this.served.kid === kid) return this.served.note;
    const checked = await checkTreeHead(head.jws, this.keys.jwks(), this.logId);
    if (!checked.ok) throw new AppError('AUDIT_LOG_TAMPERED', `the latest stored tree head ${checked.reason}; run \`oubli audit verify\``);
    const { size, root } = checked.value;
    const note = this.keys.signNote(formatCheckpoint({ origin: this.logId, size, root: fromHex(root)! }), this.logId);
    this.served = { jws: head.jws, kid, note };
    return note;
  }

  /** The active key's note verifier key (`name+hash+base64`), named after the log. */
  verifierKey(): string {
    return this.keys.verifierKey(this.logId);
  }

  /**
   * Called every second by the server. The lease holder signs when the log grew (and answers the
   * head); the others keep their data dir's checkpoint file up with the holder's heads.
   */
  async tick(): Promise<SignedTreeHead | undefined> {
    if (!(await this.holdLease())) {
      await this.follow();
      return undefined;
    }
    const latest = await this.latest();
    if (!latest || latest.size !== (await this.log.size())) return this.signOnce();
    return undefined;
  }

  /** Who this process is as a signer (the lease's owner). */
  get signerId(): string {
    return this.signer;
  }

  /**
   * Saves the newest head signed elsewhere into this data dir's checkpoint file, once it is
   * checked: its signature, and that it extends the head before it and the file.
   */
  private async follow(): Promise<void> {
    if (!this.opts.checkpointFile) return;
    const latest = await this.latest();
    if (!latest || this.followed === latest.jws) return;
    const saved = this.savedCheckpoint();
    if (saved && !('error' in saved) && saved.size >= latest.size) return;
    const checked = await checkTreeHead(latest.jws, this.keys.jwks(), this.logId);
    if (!checked.ok) throw new AppError('AUDIT_LOG_TAMPERED', `the latest stored tree head ${checked.reason}; run \`oubli audit verify\``);
    const root = fromHex(checked.value.root)!;
    await this.checkExtends(checked.value.size, root);
    this.saveCheckpoint({ origin: this.logId, size: checked.value.size, root });
    this.followed = latest.jws;
  }

  private toHead(r: TreeHeadRow | undefined): SignedTreeHead | undefined {
    if (!r) return undefined;
    return { log: this.logId, size: r.size, root: r.root, timestamp: r.timestamp, jws: r.jws };
  }
}
