/**
 * The append-only audit log (RFC 9162 Merkle tree) stored in SQLite.
 *
 * Invariants:
 * - entries are appended inside the caller's write transaction, so a state change and its audit
 *   entry commit together or not at all;
 * - the next index is read inside that transaction (under SQLite's write lock), so a CLI command
 *   and the server appending to the same file still produce one gap-free log;
 * - entries never hold personal data in clear: actors and people are ids or keyed pseudonyms.
 */
import type { Sqlite } from '../db/client.js';
import { consistencyPath, inclusionPath, rangeHash, type NodeReader } from './merkle.js';
import { fastLeafHash, fastNodeHash } from './hash.js';
import { canonicalJson } from './canonical.js';
import { AppError, ValidationError } from '../errors.js';

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

interface Subtree {
  level: number;
  hash: Uint8Array;
}

export interface AppendedEntry {
  index: number;
  leafHash: Uint8Array;
}

/** Serialises an entry exactly as it is hashed (RFC 8785). */
export function canonicalEntry(entry: AuditEntry): string {
  return canonicalJson(entry);
}

const EMPTY_ROOT = new Uint8Array(Buffer.from('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855', 'hex'));

export class AuditLog {
  private readonly stmt;

  constructor(
    private readonly sqlite: Sqlite,
    private readonly now: () => number,
  ) {
    this.stmt = {
      size: sqlite.prepare('select coalesce(max(idx) + 1, 0) as n from audit_entries').pluck(),
      leaf: sqlite.prepare('select leaf_hash from audit_entries where idx = ?').pluck(),
      node: sqlite.prepare('select hash from audit_nodes where level = ? and idx = ?').pluck(),
      insertEntry: sqlite.prepare(
        'insert into audit_entries (idx, type, request_id, entry, leaf_hash) values (?, ?, ?, ?, ?)',
      ),
      insertNode: sqlite.prepare('insert into audit_nodes (level, idx, hash) values (?, ?, ?)'),
      entries: sqlite.prepare('select idx, entry, leaf_hash from audit_entries where idx >= ? order by idx limit ?'),
    };
  }

  /** Number of entries in the log right now. */
  size(): number {
    return this.stmt.size.get() as number;
  }

  /**
   * Appends one entry. Call it inside the write transaction of the change it records; outside
   * one it opens its own.
   */
  append(input: AuditInput): AppendedEntry {
    return this.appendMany([input])[0]!;
  }

  /** Appends entries in order, in one transaction (nested as a savepoint when already in one). */
  appendMany(inputs: AuditInput[]): AppendedEntry[] {
    const run = () => {
      let index = this.size();
      const at = new Date(this.now()).toISOString();
      const out: AppendedEntry[] = [];
      const edge: Subtree[] = [];
      for (const input of inputs) {
        const entry: AuditEntry = { index, at, type: input.type, actor: input.actor, data: input.data ?? {} };
        if (input.subjectRef !== undefined) entry.subjectRef = input.subjectRef;
        if (input.requestId !== undefined) entry.requestId = input.requestId;
        const text = canonicalEntry(entry);
        const leaf = fastLeafHash(text);
        this.stmt.insertEntry.run(index, input.type, input.requestId ?? null, text, leaf);
        this.addParents(index, leaf, edge);
        out.push({ index, leafHash: leaf });
        index++;
      }
      return out;
    };
    return this.sqlite.inTransaction ? run() : this.sqlite.transaction(run).immediate();
  }

  /**
   * Stores the hash of every perfect subtree that leaf `index` completes. `edge` holds the
   * subtrees this batch made along the right edge of the tree (a binary counter): a left sibling
   * made in the batch is taken from it, an older one is read from the store.
   */
  private addParents(index: number, leaf: Uint8Array, edge: Subtree[]): void {
    let level = 0;
    let idx = index;
    let hash = leaf;
    while (idx % 2 === 1) {
      const top = edge[edge.length - 1];
      const left = top !== undefined && top.level === level ? edge.pop()!.hash : this.node(level, idx - 1);
      hash = fastNodeHash(left, hash);
      level++;
      idx = (idx - 1) / 2;
      this.stmt.insertNode.run(level, idx, hash);
    }
    edge.push({ level, hash });
  }

  private readonly node: NodeReader = (level, idx) => {
    const row = (level === 0 ? this.stmt.leaf.get(idx) : this.stmt.node.get(level, idx)) as Buffer | undefined;
    if (!row) throw new AppError('AUDIT_NODE_MISSING', `audit tree node ${level}/${idx} is missing`);
    return new Uint8Array(row);
  };

  /** Root of the tree made of the first `size` entries. */
  root(size: number): Uint8Array {
    return size === 0 ? EMPTY_ROOT : rangeHash(this.node, 0, size);
  }

  /** Reads size and root together, consistently, even while another process appends. */
  head(): { size: number; root: Uint8Array } {
    return this.sqlite.transaction(() => {
      const size = this.size();
      return { size, root: this.root(size) };
    })();
  }

  inclusionProof(index: number, size: number): Uint8Array[] {
    this.checkSize(size);
    if (!(index >= 0 && index < size)) {
      throw new ValidationError('INDEX_OUT_OF_RANGE', `index must be below size (${size})`);
    }
    return inclusionPath(this.node, index, 0, size);
  }

  consistencyProof(from: number, to: number): Uint8Array[] {
    this.checkSize(to);
    if (!(from >= 1 && from <= to)) throw new ValidationError('INVALID_RANGE', 'from must be between 1 and to');
    return consistencyPath(this.node, from, to);
  }

  leafHashAt(index: number): Uint8Array {
    return this.node(0, index);
  }

  entries(from: number, limit: number): { index: number; entry: string; leafHash: Uint8Array }[] {
    return (this.stmt.entries.all(from, limit) as { idx: number; entry: string; leaf_hash: Buffer }[]).map((r) => ({
      index: r.idx,
      entry: r.entry,
      leafHash: new Uint8Array(r.leaf_hash),
    }));
  }

  private checkSize(size: number): void {
    const current = this.size();
    if (size > current) throw new ValidationError('SIZE_BEYOND_TREE', `size must be at most ${current}`);
  }
}
