/**
 * The append-only audit log (RFC 9162 Merkle tree), on either store.
 *
 * Invariants:
 * - entries are appended inside the caller's transaction, so a state change and its audit entry
 *   commit together or not at all;
 * - an append locks the log's sequencer row first (src/db/stores/audit.ts): the next index and
 *   the tree's right edge are read and written back under that lock, so any number of
 *   instances (or a CLI command beside the server) produce one gap-free log, and an append reads
 *   no other node;
 * - entries never hold personal data in clear: actors and people are ids or keyed pseudonyms.
 */
import type { Database } from '../db/database.js';
import type { Stores } from '../db/handle.js';
import type { EntryRow, NodeRow, Sequencer } from '../db/stores/audit.js';
import { consistencyPath, inclusionPath, rangeHash, type NodeReader } from './merkle.js';
import { fastLeafHash, fastNodeHash } from './hash.js';
import { canonicalJson } from './canonical.js';
import { AppError, ValidationError } from '../errors.js';
import { logIdOfHead } from './log-id.js';

export interface Actor {
  type: 'user' | 'api_key' | 'system' | 'cli' | 'subject';
  id: string;
}

export interface AuditInput {
  type: string;
  actor: Actor;
  subjectRef?: string;
  requestId?: string;
  data?: Record<string, unknown>;
}

export interface AuditEntry extends Required<Omit<AuditInput, 'subjectRef' | 'requestId'>> {
  index: number;
  at: string;
  subjectRef?: string;
  requestId?: string;
}

export interface AppendedEntry {
  index: number;
  leafHash: Uint8Array;
}

/** Serialises an entry exactly as it is hashed (RFC 8785). */
export function canonicalEntry(entry: AuditEntry): string {
  return canonicalJson(entry);
}

export const EMPTY_ROOT = new Uint8Array(Buffer.from('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855', 'hex'));
const ZERO = new Uint8Array(32);

/** The perfect subtrees of a tree of `size` leaves, largest first: their levels. */
function frontierLevels(size: number): number[] {
  const levels: number[] = [];
  for (let level = 52; level >= 0; level--) if (Math.floor(size / 2 ** level) % 2 === 1) levels.push(level);
  return levels;
}

function decodeFrontier(size: number, frontier: Buffer | null): Uint8Array[] {
  const n = frontierLevels(size).length;
  if (n === 0) return [];
  if (!frontier || frontier.length !== n * 32) {
    throw new AppError('AUDIT_LOG_CORRUPT', `the audit log's sequencer does not match its size ${size}; run \`oubli audit verify\``);
  }
  return Array.from({ length: n }, (_, i) => new Uint8Array(frontier.subarray(i * 32, i * 32 + 32)));
}

/** RFC 9162 root of the subtrees (largest first), folded right to left. */
function foldRoot(frontier: Uint8Array[]): Uint8Array {
  if (frontier.length === 0) return EMPTY_ROOT;
  let h = frontier[frontier.length - 1]!;
  for (let i = frontier.length - 2; i >= 0; i--) h = fastNodeHash(frontier[i]!, h);
  return h;
}

export class AuditLog {
  constructor(
    private readonly db: Database,
    private readonly now: () => number,
  ) {}

  /**
   * Makes sure the log's row exists and its sequencer agrees with the stored entries: a log
   * written before the sequencer existed gets its right edge from the stored nodes (O(log n)
   * reads). Called once at start, before anything appends. Returns the log id: the one stored,
   * else — for a log whose heads were signed before ids were stored — the one its newest head
   * carries, else `candidateLogId`. Concurrent first starts agree: the first insert wins.
   */
  async open(candidateLogId: string): Promise<string> {
    return this.db.tx(async (t) => {
      let row = await t.audit.log();
      if (!row) {
        const newest = await t.audit.latestHead();
        row = await t.audit.createLog((newest && logIdOfHead(newest.jws)) ?? candidateLogId, this.now());
      }
      const seq = (await t.audit.lockSequencer())!;
      const count = await t.audit.countEntries();
      if (seq.size !== count) {
        const frontier: Uint8Array[] = [];
        let start = 0;
        for (const level of frontierLevels(count)) {
          const hash = await t.audit.node(level, start / 2 ** level);
          if (!hash) throw new AppError('AUDIT_NODE_MISSING', `audit tree node ${level}/${start / 2 ** level} is missing; run \`oubli audit verify\``);
          frontier.push(new Uint8Array(hash));
          start += 2 ** level;
        }
        await t.audit.setSequencer({
          size: count,
          frontier: frontier.length ? Buffer.concat(frontier) : null,
          root: count ? Buffer.from(foldRoot(frontier)) : null,
        });
      }
      return row.logId;
    });
  }

  /** Appends one entry, in the transaction `t` (or its own when `t` is not one). */
  async append(t: Stores, input: AuditInput): Promise<AppendedEntry> {
    return (await this.appendMany(t, [input]))[0]!;
  }

  /** Appends entries in order, in the transaction `t` (or its own when `t` is not one). */
  async appendMany(t: Stores, inputs: AuditInput[]): Promise<AppendedEntry[]> {
    if (!t.inTx) return this.db.tx((tx) => this.appendMany(tx, inputs));
    if (inputs.length === 0) return [];
    const seq = await t.audit.lockSequencer();
    if (!seq) throw new AppError('AUDIT_LOG_MISSING', 'the audit log was not opened');
    let index = seq.size;
    const frontier = decodeFrontier(seq.size, seq.frontier);
    const at = new Date(this.now()).toISOString();
    const out: AppendedEntry[] = new Array(inputs.length);
    const entries: EntryRow[] = new Array(inputs.length);
    const nodes: NodeRow[] = [];
    for (let i = 0; i < inputs.length; i++) {
      const input = inputs[i]!;
      const entry: AuditEntry = { index, at, type: input.type, actor: input.actor, data: input.data ?? {} };
      if (input.subjectRef !== undefined) entry.subjectRef = input.subjectRef;
      if (input.requestId !== undefined) entry.requestId = input.requestId;
      const text = canonicalEntry(entry);
      const leaf = fastLeafHash(text);
      entries[i] = { idx: index, type: input.type, requestId: input.requestId ?? null, entry: text, leafHash: Buffer.from(leaf) };
      // A binary counter: leaf `index` completes one perfect subtree per trailing 1-bit of index.
      let hash = leaf;
      let level = 0;
      let idx = index;
      while (idx % 2 === 1) {
        hash = fastNodeHash(frontier.pop()!, hash);
        level++;
        idx = (idx - 1) / 2;
        nodes.push({ level, idx, hash: Buffer.from(hash) });
      }
      frontier.push(hash);
      out[i] = { index, leafHash: leaf };
      index++;
    }
    await t.audit.writeAppend(entries, nodes, { size: index, frontier: Buffer.concat(frontier), root: Buffer.from(foldRoot(frontier)) });
    return out;
  }

  private async sequencer(): Promise<Sequencer> {
    const seq = await this.db.audit.sequencer();
    if (!seq) throw new AppError('AUDIT_LOG_MISSING', 'the audit log was not opened');
    return seq;
  }

  /** Size and root as committed, read together. */
  async head(): Promise<{ size: number; root: Uint8Array }> {
    const seq = await this.sequencer();
    return { size: seq.size, root: seq.root ? new Uint8Array(seq.root) : EMPTY_ROOT };
  }

  /** Number of entries in the log right now. */
  async size(): Promise<number> {
    return (await this.sequencer()).size;
  }

  /**
   * Runs a pure tree computation over stored nodes: straight on the store's immediate reader
   * when it has one, else in two passes — first to learn which nodes it reads (their coordinates
   * do not depend on the hashes), then with them all fetched at once (one round trip).
   */
  private async withNodes<T>(compute: (read: NodeReader) => T): Promise<T> {
    const immediate = this.db.audit.immediateReader();
    if (immediate) {
      return compute((level, idx) => {
        const hash = immediate(level, idx);
        if (!hash) throw new AppError('AUDIT_NODE_MISSING', `audit tree node ${level}/${idx} is missing`);
        return new Uint8Array(hash);
      });
    }
    const need: { level: number; idx: number }[] = [];
    compute((level, idx) => {
      need.push({ level, idx });
      return ZERO;
    });
    const got = await this.db.audit.nodes(need);
    return compute((level, idx) => {
      const hash = got.get(`${level}:${idx}`);
      if (!hash) throw new AppError('AUDIT_NODE_MISSING', `audit tree node ${level}/${idx} is missing`);
      return new Uint8Array(hash);
    });
  }

  /** Root of the tree made of the first `size` entries. */
  async root(size: number): Promise<Uint8Array> {
    const head = await this.head();
    if (size === head.size) return head.root;
    await this.checkSize(size);
    return size === 0 ? EMPTY_ROOT : this.withNodes((read) => rangeHash(read, 0, size));
  }

  async inclusionProof(index: number, size: number): Promise<Uint8Array[]> {
    await this.checkSize(size);
    if (!(index >= 0 && index < size)) throw new ValidationError('INDEX_OUT_OF_RANGE', `index must be below size (${size})`);
    return this.withNodes((read) => inclusionPath(read, index, 0, size));
  }

  async consistencyProof(from: number, to: number): Promise<Uint8Array[]> {
    await this.checkSize(to);
    if (!(from >= 1 && from <= to)) throw new ValidationError('INVALID_RANGE', 'from must be between 1 and to');
    return this.withNodes((read) => consistencyPath(read, from, to));
  }

  async leafHashAt(index: number): Promise<Uint8Array> {
    const hash = await this.db.audit.node(0, index);
    if (!hash) throw new AppError('AUDIT_NODE_MISSING', `audit entry ${index} is missing`);
    return new Uint8Array(hash);
  }

  async entries(from: number, limit: number): Promise<{ index: number; entry: string; leafHash: Uint8Array }[]> {
    const rows = await this.db.audit.entries(from, limit);
    return rows.map((r) => ({ index: r.idx, entry: r.entry, leafHash: new Uint8Array(r.leafHash) }));
  }

  private async checkSize(size: number): Promise<void> {
    const current = await this.size();
    if (size > current) throw new ValidationError('SIZE_BEYOND_TREE', `size must be at most ${current}`);
  }
}
