/**
 * `oubli audit verify`: recomputes the whole log from the stored entry texts and checks it
 * against everything stored beside it — leaf hashes, subtree nodes, and every signed tree head
 * (signature, typ, log id, key not retired, root, sizes and timestamps increasing, consistency
 * with the previous head) — and against anchors kept outside the database (saved checkpoints,
 * heads, receipts), which catch what the database alone cannot: the last entries deleted with
 * their heads, or everything rewritten. Reports the first bad entry by index.
 */
import type { JSONWebKeySet } from 'jose';
import type { Sqlite } from '../db/client.js';
import { consistencyPath } from './merkle.js';
import { checkTreeHead, fromHex, nodeHash, toHex, verifyConsistency, type TreeHead } from './verify.js';
import { fastLeafHash, fastNodeHash } from './hash.js';

export interface VerifyReport {
  ok: boolean;
  entries: number;
  treeHeads: number;
  /** "entry 17: …" for the first problem found, when not ok. */
  problem?: string;
  root: string;
  /** Size of the newest signed tree head (0 when there is none). */
  newestHead: number;
  /** Entries after the newest signed head: not yet covered by any signature. */
  unsignedTail: number;
}

interface HeadRow {
  size: number;
  root: string;
  timestamp: number;
  jws: string;
}

const same = (a: Uint8Array, b: Uint8Array) => Buffer.compare(a, b) === 0;

/** Every object's keys in RFC 8785 order (UTF-16 code units, which is how JS compares strings). */
function keysSorted(v: unknown): boolean {
  if (v === null || typeof v !== 'object') return true;
  if (Array.isArray(v)) return v.every(keysSorted);
  const keys = Object.keys(v);
  for (let i = 1; i < keys.length; i++) if (!(keys[i - 1]! < keys[i]!)) return false;
  return keys.every((k) => keysSorted((v as Record<string, unknown>)[k]));
}

/**
 * RFC 8785 form, checked without re-serialising through a JCS library (a quarter of the run time
 * on a million entries): JSON.stringify already writes ES number forms and JCS string escapes,
 * and keeps the parsed key order, so text is canonical iff it round-trips and keys are sorted.
 */
function isCanonical(parsed: unknown, text: string): boolean {
  return JSON.stringify(parsed) === text && keysSorted(parsed);
}

/** Why an entry failed the fast check, in words. */
function diagnose(idx: number, text: string): string {
  let parsed: { index?: unknown };
  try {
    parsed = JSON.parse(text) as { index?: unknown };
  } catch {
    return 'not valid JSON';
  }
  if (parsed.index !== idx) return `its content says index ${String(parsed.index)} (reordered?)`;
  if (!isCanonical(parsed, text)) return 'not in canonical (RFC 8785) form';
  return 'content does not match its stored leaf hash';
}

const CHUNK = 8192;

/**
 * Streams the stored nodes for comparison with the nodes the rebuild makes, in the order the log
 * made them: rowid order, a plain table scan in chunks (reading them by their (level, idx) key
 * costs an index lookup per node, a third of the run time on a million entries). A node found
 * out of that order (re-inserted, say) is read by its key instead; the stream skips it later.
 */
function storedNodes(sqlite: Sqlite) {
  const scan = sqlite.prepare('select rowid, level, idx, hash from audit_nodes where rowid > ? order by rowid limit ?').raw();
  const point = sqlite.prepare('select hash from audit_nodes where level = ? and idx = ?').pluck();
  // Position in creation order: the leaf that completed the node, then its level.
  const key = (level: number, idx: number) => ((idx + 1) * 2 ** level - 1) * 64 + level;
  let rows: [number, number, number, Buffer][] = [];
  let pos = 0;
  let lastRowid = 0;
  let done = false;
  const peek = (): [number, number, number, Buffer] | undefined => {
    if (pos >= rows.length) {
      if (done) return undefined;
      rows = scan.all(lastRowid, CHUNK) as [number, number, number, Buffer][];
      pos = 0;
      done = rows.length < CHUNK;
      if (rows.length === 0) return undefined;
      lastRowid = rows[rows.length - 1]![0];
    }
    return rows[pos];
  };
  return (level: number, idx: number): Buffer | undefined => {
    const want = key(level, idx);
    for (;;) {
      const row = peek();
      if (!row) return point.get(level, idx) as Buffer | undefined;
      const [, l, i, hash] = row;
      if (l === level && i === idx) {
        pos++;
        return hash;
      }
      const got = key(l, i);
      if (got < want) {
        pos++; // made out of order (or a stray): already read by key, or changes no root
        continue;
      }
      return point.get(level, idx) as Buffer | undefined; // not here in order: read it by key
    }
  };
}

/** Entries in index order, read in chunks. */
function* storedEntries(sqlite: Sqlite): Generator<[number, string, Buffer]> {
  const stmt = sqlite.prepare('select idx, entry, leaf_hash from audit_entries where idx >= ? order by idx limit ?').raw();
  let from = 0;
  for (;;) {
    const rows = stmt.all(from, CHUNK) as [number, string, Buffer][];
    yield* rows;
    if (rows.length < CHUNK) return;
    from = rows[rows.length - 1]![0] + 1;
  }
}

/**
 * A tree state known from outside the database — a saved checkpoint, a tree head or a receipt's
 * head — that the log must still extend.
 */
export interface Anchor {
  size: number;
  root: Uint8Array;
  /** Names it in a problem, e.g. "the checkpoint in saved.txt". */
  label: string;
}

export interface VerifyOptions {
  /** The deployment's log id: every head must carry it. */
  logId: string;
  anchors?: Anchor[];
}

const iso = (ms: number) => new Date(ms).toISOString();

/**
 * How far a head may be dated before the previous one: heads are stamped by the system clock of
 * whichever process signs them, and a clock stepped back (NTP) must not brick the log. A head
 * backdated to pass for one signed before its key's retirement is dated much further back.
 */
export const CLOCK_STEP_MS = 60_000;

export async function verifyAuditLog(sqlite: Sqlite, jwks: JSONWebKeySet, opts: VerifyOptions): Promise<VerifyReport> {
  const heads = sqlite.prepare('select size, root, timestamp, jws from audit_tree_heads order by size').all() as HeadRow[];
  const anchors = [...(opts.anchors ?? [])].sort((a, b) => a.size - b.size);
  const nodeStmt = sqlite.prepare('select hash from audit_nodes where level = ? and idx = ?').pluck();
  const leafStmt = sqlite.prepare('select leaf_hash from audit_entries where idx = ?').pluck();
  const nextStored = storedNodes(sqlite);
  const rows = storedEntries(sqlite);

  // Compact range of the rebuilt tree: perfect subtrees, left to right, strictly decreasing levels.
  const stack: { level: number; hash: Uint8Array }[] = [];
  const rootOfStack = () => {
    if (stack.length === 0) return new Uint8Array(Buffer.from('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855', 'hex'));
    let h = stack[stack.length - 1]!.hash;
    for (let i = stack.length - 2; i >= 0; i--) h = nodeHash(stack[i]!.hash, h);
    return h;
  };
  let expected = 0;
  const report = (entries: number, problem?: string): VerifyReport => {
    const newestHead = heads.at(-1)?.size ?? 0;
    return {
      ok: !problem,
      entries,
      treeHeads: heads.length,
      problem,
      root: toHex(rootOfStack()),
      newestHead,
      unsignedTail: Math.max(0, entries - newestHead),
    };
  };

  let headPos = 0;
  let anchorPos = 0;
  // Entries below goodSize are covered by a head or anchor that checked out.
  let goodSize = 0;
  let previous: TreeHead | undefined;
  const rootsAtHeads = new Map<number, Uint8Array>();
  const checkAt = async (size: number): Promise<string | undefined> => {
    const at = `entry ${Math.max(0, size - 1)}`;
    while (headPos < heads.length && heads[headPos]!.size === size) {
      const head = heads[headPos]!;
      const checked = await checkTreeHead(head.jws, jwks, opts.logId);
      if (!checked.ok) return `${at}: tree head of size ${size} ${checked.reason}`;
      const signed = checked.value;
      if (signed.size !== head.size || signed.root !== head.root || signed.timestamp !== head.timestamp) {
        return `${at}: stored tree head of size ${size} differs from what was signed`;
      }
      if (previous && signed.timestamp < previous.timestamp - CLOCK_STEP_MS) {
        return `${at}: tree head of size ${size} is dated ${iso(signed.timestamp)}, before the head of size ${previous.size} (${iso(previous.timestamp)})`;
      }
      const root = rootOfStack();
      if (toHex(root) !== signed.root) {
        return `entry ${goodSize}: entries ${goodSize}–${size - 1} do not match the signed tree head of size ${size}`;
      }
      rootsAtHeads.set(size, root);
      previous = signed;
      goodSize = size;
      headPos++;
    }
    while (anchorPos < anchors.length && anchors[anchorPos]!.size === size) {
      const anchor = anchors[anchorPos]!;
      if (!same(rootOfStack(), anchor.root)) {
        return `entry ${Math.min(goodSize, size)}: the log was rewritten — its first ${size} entries do not match ${anchor.label}`;
      }
      goodSize = Math.max(goodSize, size);
      anchorPos++;
    }
    return undefined;
  };
  const boundaryAt = (size: number) =>
    (headPos < heads.length && heads[headPos]!.size === size) || (anchorPos < anchors.length && anchors[anchorPos]!.size === size);

  let problem = await checkAt(0);
  if (problem) return report(0, problem);
  for (const [idx, text, storedLeaf] of rows) {
    if (idx !== expected) {
      return report(expected, `entry ${expected}: missing (the next stored entry is ${idx})`);
    }
    // Fast path: the index the entry claims (its last `,"index":` — only string-valued keys sort
    // after it) and its leaf hash. Entries are only parsed when something is off, to say what.
    const leaf = fastLeafHash(text);
    const at = text.lastIndexOf(',"index":');
    if ((at < 0 ? NaN : parseInt(text.slice(at + 9, at + 25), 10)) !== idx || !same(leaf, storedLeaf)) {
      return report(idx, `entry ${idx}: ${diagnose(idx, text)}`);
    }

    stack.push({ level: 0, hash: leaf });
    while (stack.length >= 2 && stack[stack.length - 1]!.level === stack[stack.length - 2]!.level) {
      const right = stack.pop()!;
      const left = stack.pop()!;
      const level = left.level + 1;
      const hash = fastNodeHash(left.hash, right.hash);
      const stored = nextStored(level, Math.floor(idx / 2 ** level));
      if (!stored || !same(stored, hash)) {
        return report(idx, `entry ${idx}: stored tree node ${level}/${Math.floor(idx / 2 ** level)} is missing or wrong`);
      }
      stack.push({ level, hash });
    }
    expected = idx + 1;
    if (boundaryAt(expected)) {
      problem = await checkAt(expected);
      if (problem) return report(expected, problem);
    }
  }
  if (headPos < heads.length) {
    return report(expected, `entry ${expected}: missing (a signed tree head covers ${heads[headPos]!.size} entries)`);
  }
  if (anchorPos < anchors.length) {
    const a = anchors[anchorPos]!;
    return report(expected, `entry ${expected}: missing — the log was truncated to ${expected} entries, but ${a.label} covers ${a.size}`);
  }
  if (expected > 0 && heads.length === 0) {
    return report(expected, `entry 0: entries 0–${expected - 1} are covered by no signed tree head (were the heads deleted?)`);
  }

  // Successive heads must be consistent (each log state extends the previous one), and the log
  // as it is now must extend every anchor: RFC 9162 consistency proofs from the stored nodes.
  const read = (level: number, idx: number): Uint8Array => {
    if (level === 0) {
      return new Uint8Array(leafStmt.get(idx) as Buffer);
    }
    return new Uint8Array(nodeStmt.get(level, idx) as Buffer);
  };
  const sizes = [...rootsAtHeads.keys()].filter((s) => s > 0);
  for (let i = 1; i < sizes.length; i++) {
    const [a, b] = [sizes[i - 1]!, sizes[i]!];
    const ok = verifyConsistency(a, b, fromHex(heads.find((h) => h.size === a)!.root)!, rootsAtHeads.get(b)!, consistencyPath(read, a, b));
    if (!ok) return report(expected, `entry ${a}: tree heads of sizes ${a} and ${b} are not consistent`);
  }
  const now = rootOfStack();
  for (const a of anchors) {
    if (a.size === 0) continue;
    if (!verifyConsistency(a.size, expected, a.root, now, consistencyPath(read, a.size, expected))) {
      return report(expected, `entry ${a.size}: the log of ${expected} entries is not consistent with ${a.label}`);
    }
  }
  return report(expected);
}
