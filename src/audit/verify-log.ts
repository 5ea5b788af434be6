/**
 * `oubli audit verify`: recomputes the whole log from the stored entry texts and checks it
 * against everything stored beside it — leaf hashes, subtree nodes, and every signed tree head
 * (signature, typ, log id, key not retired, root, sizes and timestamps increasing, consistency
 * with the previous head) — and against anchors kept outside the database (saved checkpoints,
 * heads, receipts), which catch what the database alone cannot: the last entries deleted with
 * their heads, or everything rewritten. Reports the first bad entry by index. Reads everything
 * through the audit store (streams in index order), so it runs the same on either store.
 */
import type { JSONWebKeySet } from 'jose';
import type { Database } from '../db/database.js';
import type { NodeReader } from './merkle.js';
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
 * The stored subtree nodes, for comparison with the nodes the rebuild makes: one stream per
 * level, each read in index order in chunks through the store (a point read per node costs a
 * third of the run time on a million entries). The rebuild asks for each level's nodes in
 * increasing index order, so each stream only moves forward; a stored node the rebuild never
 * asks for (a stray) changes no root and is skipped. `get` answers at once while the level's
 * chunk lasts, and a promise when it must read the next one.
 */
class StoredNodes {
  private readonly levels = new Map<number, { rows: { idx: number; hash: Buffer }[]; pos: number; done: boolean }>();

  constructor(private readonly db: Database) {}

  get(level: number, idx: number): Buffer | undefined | Promise<Buffer | undefined> {
    let s = this.levels.get(level);
    if (!s) this.levels.set(level, (s = { rows: [], pos: 0, done: false }));
    while (s.pos < s.rows.length && s.rows[s.pos]!.idx < idx) s.pos++;
    if (s.pos < s.rows.length || s.done) return this.take(s, idx);
    return this.db.audit.nodesOfLevel(level, idx, CHUNK).then((rows) => {
      s.rows = rows;
      s.pos = 0;
      s.done = rows.length < CHUNK;
      return this.take(s, idx);
    });
  }

  private take(s: { rows: { idx: number; hash: Buffer }[]; pos: number }, idx: number): Buffer | undefined {
    const row = s.rows[s.pos];
    if (row?.idx !== idx) return undefined;
    s.pos++;
    return row.hash;
  }
}

/**
 * Runs pure tree computations over stored nodes in two passes: first to learn which nodes they
 * read (coordinates do not depend on hashes), then with all of them fetched in a few queries. A
 * node that is not stored reads as zeros: the proof built from it fails.
 */
async function withStoredNodes<T>(db: Database, computations: ((read: NodeReader) => T)[]): Promise<T[]> {
  const ZERO = new Uint8Array(32);
  const need: { level: number; idx: number }[] = [];
  for (const compute of computations) {
    compute((level, idx) => {
      need.push({ level, idx });
      return ZERO;
    });
  }
  const got = await db.audit.nodes(need);
  const read: NodeReader = (level, idx) => {
    const hash = got.get(`${level}:${idx}`);
    return hash ? new Uint8Array(hash) : ZERO;
  };
  return computations.map((compute) => compute(read));
}

/** Proof checks run in groups, so a log with very many heads never fetches all their nodes at once. */
const PROOF_GROUP = 512;

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
  /** Called after each chunk of entries with how many are checked so far (a progress bar). */
  onProgress?: (checked: number) => void | Promise<void>;
}

const iso = (ms: number) => new Date(ms).toISOString();

/**
 * How far a head may be dated before the previous one: heads are stamped by the system clock of
 * whichever process signs them, and a clock stepped back (NTP) must not brick the log. A head
 * backdated to pass for one signed before its key's retirement is dated much further back.
 */
export const CLOCK_STEP_MS = 60_000;

export async function verifyAuditLog(db: Database, jwks: JSONWebKeySet, opts: VerifyOptions): Promise<VerifyReport> {
  const heads = await db.audit.heads();
  const anchors = [...(opts.anchors ?? [])].sort((a, b) => a.size - b.size);
  const stored = new StoredNodes(db);

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
  // The next chunk of entries is requested before the current one is checked: on PostgreSQL the
  // read overlaps the hashing.
  let pending = db.audit.entryTexts(0, CHUNK);
  for (;;) {
    const rows = await pending;
    if (rows.length === CHUNK) pending = db.audit.entryTexts(rows[rows.length - 1]!.idx + 1, CHUNK);
    for (const { idx, entry: text, leafHash: storedLeaf } of rows) {
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
        const nodeIdx = Math.floor(idx / 2 ** level);
        let node = stored.get(level, nodeIdx);
        if (node instanceof Promise) node = await node;
        if (!node || !same(node, hash)) {
          return report(idx, `entry ${idx}: stored tree node ${level}/${nodeIdx} is missing or wrong`);
        }
        stack.push({ level, hash });
      }
      expected = idx + 1;
      if (boundaryAt(expected)) {
        problem = await checkAt(expected);
        if (problem) return report(expected, problem);
      }
    }
    await opts.onProgress?.(expected);
    if (rows.length < CHUNK) break;
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
  const now = rootOfStack();
  const checks: { from: number; to: number; fromRoot: Uint8Array; toRoot: Uint8Array; problem: string }[] = [];
  const signedRoots = new Map(heads.map((h) => [h.size, h.root]));
  const sizes = [...rootsAtHeads.keys()].filter((s) => s > 0);
  for (let i = 1; i < sizes.length; i++) {
    const [a, b] = [sizes[i - 1]!, sizes[i]!];
    checks.push({ from: a, to: b, fromRoot: fromHex(signedRoots.get(a)!)!, toRoot: rootsAtHeads.get(b)!, problem: `entry ${a}: tree heads of sizes ${a} and ${b} are not consistent` });
  }
  for (const a of anchors) {
    if (a.size === 0) continue;
    checks.push({ from: a.size, to: expected, fromRoot: a.root, toRoot: now, problem: `entry ${a.size}: the log of ${expected} entries is not consistent with ${a.label}` });
  }
  for (let g = 0; g < checks.length; g += PROOF_GROUP) {
    const group = checks.slice(g, g + PROOF_GROUP);
    const proofs = await withStoredNodes(db, group.map((c) => (read: NodeReader) => consistencyPath(read, c.from, c.to)));
    for (let i = 0; i < group.length; i++) {
      const c = group[i]!;
      if (!verifyConsistency(c.from, c.to, c.fromRoot, c.toRoot, proofs[i]!)) return report(expected, c.problem);
    }
  }
  return report(expected);
}
