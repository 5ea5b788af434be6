/**
 * C2SP signed notes (c2sp.org/signed-note) with Ed25519 signatures, and transparency-log
 * checkpoints (c2sp.org/tlog-checkpoint): the format Go's golang.org/x/mod/sumdb/note, the
 * sumdb and transparency-log witnesses read and write.
 *
 * Deliberately self-contained — nothing but node:crypto — so anyone holding a saved checkpoint
 * and the log's verifier key can check it without oubli's code. Parsing follows the Go
 * package's rules exactly (what it rejects as "malformed note", this rejects too); nothing here
 * throws on bad input: parsers answer null, `openNote` answers `{ error }`.
 */
import { createHash, createPublicKey, sign as edSign, verify as edVerify, type KeyObject } from 'node:crypto';

/** Signature type byte for Ed25519 (signed-note §Signature types). */
const ALG_ED25519 = 0x01;
const MAX_SIGNATURES = 100;

/** Unicode spaces as Go's unicode.IsSpace sees them (key names must hold none, nor '+'). */
const SPACE = /[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]/u;

export function isValidKeyName(name: string): boolean {
  return name.length > 0 && !SPACE.test(name) && !name.includes('+') && isWellFormed(name);
}

function isWellFormed(s: string): boolean {
  // A lone surrogate cannot be encoded as UTF-8.
  return !/[\ud800-\udfff]/u.test(s.replace(/[\ud800-\udbff][\udc00-\udfff]/g, ''));
}

/** Standard base64 (RFC 4648 §4) with padding, in its one canonical spelling; else null. */
function strictBase64(s: string): Buffer | null {
  if (s.length === 0 || s.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(s)) return null;
  const bytes = Buffer.from(s, 'base64');
  return bytes.toString('base64') === s ? bytes : null;
}

/** key ID = SHA-256(key name ‖ 0x0A ‖ 0x01 ‖ 32-byte Ed25519 public key)[:4], big-endian. */
export function noteKeyHash(name: string, publicKey: Uint8Array): number {
  const h = createHash('sha256').update(name, 'utf8').update('\n').update(Uint8Array.of(ALG_ED25519)).update(publicKey).digest();
  return h.readUInt32BE(0);
}

/** Verifier key in the `name+hash+base64(0x01 ‖ key)` form of Go's note.NewVerifier. */
export function formatVerifierKey(name: string, publicKey: Uint8Array): string {
  if (!isValidKeyName(name) || publicKey.length !== 32) throw new Error('invalid key name or Ed25519 public key');
  const hash = noteKeyHash(name, publicKey).toString(16).padStart(8, '0');
  return `${name}+${hash}+${Buffer.concat([Uint8Array.of(ALG_ED25519), publicKey]).toString('base64')}`;
}

export interface NoteVerifier {
  name: string;
  hash: number;
  /** Raw 32-byte Ed25519 public key. */
  publicKey: Uint8Array;
}

/** Parses a verifier key (`name+hash+base64`); null unless it is well formed and its hash matches. */
export function parseVerifierKey(vkey: string): NoteVerifier | null {
  if (typeof vkey !== 'string') return null;
  const first = vkey.indexOf('+');
  const second = first < 0 ? -1 : vkey.indexOf('+', first + 1);
  if (second < 0) return null;
  const name = vkey.slice(0, first);
  const hash16 = vkey.slice(first + 1, second);
  const key = strictBase64(vkey.slice(second + 1));
  if (!isValidKeyName(name) || !/^[0-9a-f]{8}$/i.test(hash16) || !key) return null;
  if (key.length !== 33 || key[0] !== ALG_ED25519) return null;
  const publicKey = new Uint8Array(key.subarray(1));
  const hash = parseInt(hash16, 16);
  return hash === noteKeyHash(name, publicKey) ? { name, hash, publicKey } : null;
}

/** Raw 32-byte public key of an Ed25519 KeyObject (private or public). */
export function rawEd25519PublicKey(key: KeyObject): Uint8Array {
  const jwk = createPublicKey(key).export({ format: 'jwk' }) as { crv?: string; x?: string };
  if (jwk.crv !== 'Ed25519' || !jwk.x) throw new Error('not an Ed25519 key');
  return new Uint8Array(Buffer.from(jwk.x, 'base64url'));
}

/**
 * Signs `text` (which must end in a newline) as a note with one Ed25519 signature line by
 * `name`. Ed25519 is deterministic: the same text and key always give the same note.
 */
export function signNote(text: string, name: string, privateKey: KeyObject): string {
  if (!text.endsWith('\n') || !isValidKeyName(name) || !isValidNoteText(text)) throw new Error('malformed note');
  const hash = noteKeyHash(name, rawEd25519PublicKey(privateKey));
  const prefix = Buffer.alloc(4);
  prefix.writeUInt32BE(hash, 0);
  const signature = edSign(null, Buffer.from(text, 'utf8'), privateKey);
  return `${text}\n— ${name} ${Buffer.concat([prefix, signature]).toString('base64')}\n`;
}

/** Valid UTF-8 with no ASCII control character other than newline. */
function isValidNoteText(s: string): boolean {
  return isWellFormed(s) && !/[\u0000-\u0009\u000b-\u001f]/.test(s);
}

export interface NoteSignature {
  name: string;
  hash: number;
  base64: string;
}

export interface OpenedNote {
  text: string;
  /** Signatures by the given verifiers, each checked. */
  sigs: NoteSignature[];
  /** Signatures by keys not given (ignored, as the spec requires). */
  unverified: NoteSignature[];
}

/**
 * Parses `msg` and checks its signatures against `known`, as Go's note.Open does: signatures by
 * unknown keys are ignored, a bad signature by a known key rejects the note, and a note with no
 * good signature by a known key is rejected.
 */
export function openNote(msg: string, known: NoteVerifier[]): OpenedNote | { error: string } {
  if (typeof msg !== 'string' || !isValidNoteText(msg)) return { error: 'malformed note' };
  const split = msg.lastIndexOf('\n\n');
  if (split < 0) return { error: 'malformed note' };
  const text = msg.slice(0, split + 1);
  let rest = msg.slice(split + 2);
  if (rest.length === 0 || !rest.endsWith('\n')) return { error: 'malformed note' };
  const out: OpenedNote = { text, sigs: [], unverified: [] };
  const seen = new Set<string>();
  const seenUnverified = new Set<string>();
  let count = 0;
  while (rest.length > 0) {
    const nl = rest.indexOf('\n');
    let line = rest.slice(0, nl);
    rest = rest.slice(nl + 1);
    if (!line.startsWith('— ')) return { error: 'malformed note' };
    line = line.slice(2);
    const space = line.indexOf(' ');
    const name = space < 0 ? line : line.slice(0, space);
    const b64 = space < 0 ? '' : line.slice(space + 1);
    const raw = strictBase64(b64);
    if (!raw || !isValidKeyName(name) || raw.length < 5) return { error: 'malformed note' };
    if (++count > MAX_SIGNATURES) return { error: 'malformed note' };
    const hash = raw.readUInt32BE(0);
    const matches = known.filter((k) => k.name === name && k.hash === hash);
    if (matches.length === 0) {
      if (!seenUnverified.has(line)) out.unverified.push({ name, hash, base64: b64 });
      seenUnverified.add(line);
      continue;
    }
    if (matches.length > 1) return { error: `ambiguous key ${name}+${hex8(hash)}` };
    const id = `${name}+${hash}`;
    if (seen.has(id)) continue;
    seen.add(id);
    if (!verifyEd25519(matches[0]!.publicKey, Buffer.from(text, 'utf8'), raw.subarray(4))) {
      return { error: `invalid signature for key ${name}+${hex8(hash)}` };
    }
    out.sigs.push({ name, hash, base64: b64 });
  }
  return out.sigs.length > 0 ? out : { error: 'note has no verifiable signatures' };
}

const hex8 = (n: number) => n.toString(16).padStart(8, '0');

function verifyEd25519(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  try {
    const key = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(publicKey).toString('base64url') }, format: 'jwk' });
    return signature.length === 64 && edVerify(null, message, key, signature);
  } catch {
    return false;
  }
}

/** The three mandatory lines of a tlog-checkpoint. */
export interface Checkpoint {
  origin: string;
  size: number;
  /** 32-byte RFC 6962 root hash. */
  root: Uint8Array;
}

/** Note text of a checkpoint: origin, tree size, base64 root hash, each ending in a newline. */
export function formatCheckpoint(c: Checkpoint): string {
  return `${c.origin}\n${c.size}\n${Buffer.from(c.root).toString('base64')}\n`;
}

/** Parses checkpoint note text; extension lines are allowed (and ignored). Null when malformed. */
export function parseCheckpoint(text: string): Checkpoint | null {
  if (typeof text !== 'string' || !text.endsWith('\n')) return null;
  const lines = text.slice(0, -1).split('\n');
  if (lines.length < 3 || lines.some((l) => l.length === 0)) return null;
  const [origin, size, root] = lines as [string, string, string];
  if (!/^(0|[1-9][0-9]*)$/.test(size) || !Number.isSafeInteger(Number(size))) return null;
  const hash = strictBase64(root);
  if (!hash || hash.length !== 32) return null;
  return { origin, size: Number(size), root: new Uint8Array(hash) };
}

/**
 * Opens a signed checkpoint with the log's verifier key(s) and parses it. The origin must equal
 * `origin` (the log's identity): a checkpoint of another log proves nothing about this one.
 */
export function verifyCheckpoint(msg: string, known: NoteVerifier[], origin: string): Checkpoint | { error: string } {
  const opened = openNote(msg, known);
  if ('error' in opened) return opened;
  const checkpoint = parseCheckpoint(opened.text);
  if (!checkpoint) return { error: 'not a tlog-checkpoint (origin, size, root hash)' };
  if (checkpoint.origin !== origin) return { error: `checkpoint of log "${checkpoint.origin}", not of this log ("${origin}")` };
  return checkpoint;
}
