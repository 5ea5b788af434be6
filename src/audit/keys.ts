/**
 * The Ed25519 keys that sign tree heads, checkpoints, receipts and export manifests.
 *
 * Each key is a JWK in `<data dir>/keys/<kid>.json` (mode 0600). The newest key holding its
 * private half is the active one. A rotation retires every older key: its private half is
 * overwritten and only the public JWK stays, with `notAfter` (ms since the epoch) — the moment it
 * stopped signing — so old signatures keep verifying from /.well-known/jwks.json while a
 * signature it makes later (the old key leaked) is rejected by every verifier.
 *
 * A key given by env (OUBLI_SIGNING_KEY) is used instead of the files for signing; rotating it is
 * the operator's job. The directory is re-read when its files change, so `oubli keys rotate` run
 * beside a live server takes effect without a restart.
 */
import { createHash, createPrivateKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { closeSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { CompactSign, type JWK } from 'jose';
import { AppError } from '../errors.js';
import { formatVerifierKey, rawEd25519PublicKey, signNote } from './note.js';

interface StoredKey {
  kid: string;
  createdAt: number;
  /** Set once retired: the key signs nothing after this instant. */
  notAfter?: number;
  publicJwk: JWK;
  /** Absent for a retired key. */
  key?: KeyObject;
  privateJwk?: JWK;
}

/** What a key file holds. Retired keys keep `jwk` public-only. */
interface KeyFile {
  createdAt: number;
  notAfter?: number;
  jwk: JWK;
}

/** RFC 7638 thumbprint of an OKP public key, base64url. */
function thumbprint(jwk: JWK): string {
  const canonical = JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x });
  return createHash('sha256').update(canonical).digest('base64url');
}

function fromJwk(jwk: JWK, createdAt: number, notAfter?: number): StoredKey {
  if (jwk.kty !== 'OKP' || jwk.crv !== 'Ed25519' || !jwk.x || (notAfter === undefined && !jwk.d)) {
    throw new Error('signing key must be an Ed25519 private JWK (kty OKP, crv Ed25519, with d and x)');
  }
  const kid = jwk.kid ?? thumbprint(jwk);
  const publicJwk: JWK = { kty: 'OKP', crv: 'Ed25519', x: jwk.x, kid, alg: 'EdDSA', use: 'sig', ...(notAfter !== undefined ? { notAfter } : {}) };
  if (notAfter !== undefined) return { kid, createdAt, notAfter, publicJwk };
  const key = createPrivateKey({ key: { kty: 'OKP', crv: 'Ed25519', d: jwk.d!, x: jwk.x }, format: 'jwk' });
  return { kid, createdAt, publicJwk, key, privateJwk: { ...jwk, kid } };
}

function generate(now: number): StoredKey {
  const { privateKey } = generateKeyPairSync('ed25519');
  const jwk = privateKey.export({ format: 'jwk' }) as JWK;
  return fromJwk({ ...jwk, kid: thumbprint(jwk) }, now);
}

/** Writes a file atomically (temp file + rename), 0600. */
function writeAtomic(file: string, content: string): void {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, content, { mode: 0o600 });
  renameSync(tmp, file);
}

/**
 * Overwrites a file's bytes in place before it is replaced: the private key should not survive
 * in the freed blocks. Best effort — a copy-on-write or journaling filesystem may keep old data.
 */
function scrub(file: string): void {
  const size = statSync(file).size;
  const fd = openSync(file, 'r+');
  try {
    writeSync(fd, Buffer.alloc(size), 0, size, 0);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

export class SigningKeys {
  private keys: StoredKey[] = [];
  private dirState = '';
  private readonly envKey?: StoredKey;

  private constructor(
    private readonly dir: string | null,
    envJwk: string | undefined,
    private readonly now: () => number,
  ) {
    if (envJwk) {
      let parsed: JWK;
      try {
        parsed = JSON.parse(envJwk) as JWK;
      } catch {
        throw new Error('OUBLI_SIGNING_KEY is not valid JSON (expected an Ed25519 private JWK)');
      }
      this.envKey = fromJwk(parsed, 0);
    }
  }

  /** Opens the key directory, creating the first key when there is none (and none from env). */
  static open(dir: string, envJwk: string | undefined, now: () => number = Date.now): SigningKeys {
    const ks = new SigningKeys(dir, envJwk, now);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    ks.reload(true);
    ks.retireSuperseded();
    if (!ks.keys.some((k) => k.key) && !ks.envKey) ks.rotate();
    return ks;
  }

  /** In-memory keys for tests: nothing touches disk. */
  static ephemeral(now: () => number = Date.now): SigningKeys {
    const ks = new SigningKeys(null, undefined, now);
    ks.keys.push(generate(now()));
    return ks;
  }

  /** Re-reads the directory when its files changed (a rotation by another process). */
  reload(force = false): void {
    if (!this.dir) return;
    const names = readdirSync(this.dir).filter((n) => n.endsWith('.json')).sort();
    const state = names.map((n) => {
      const s = statSync(join(this.dir!, n));
      return `${n}:${s.size}:${s.mtimeMs}`;
    }).join('\n');
    if (!force && state === this.dirState) return;
    this.dirState = state;
    const loaded: StoredKey[] = [];
    for (const name of names) {
      const raw = JSON.parse(readFileSync(join(this.dir, name), 'utf8')) as KeyFile;
      loaded.push(fromJwk(raw.jwk, raw.createdAt, raw.notAfter));
    }
    loaded.sort((a, b) => a.createdAt - b.createdAt || a.kid.localeCompare(b.kid));
    this.keys = loaded;
  }

  /**
   * Key directories written before keys were retired hold several private keys: every one but
   * the newest is retired now, as of the moment its successor was made (when it stopped signing).
   */
  private retireSuperseded(): void {
    const live = this.keys.filter((k) => k.key);
    for (let i = 0; i < live.length - 1; i++) this.retire(live[i]!, live[i + 1]!.createdAt);
    if (live.length > 1) this.reload(true);
  }

  private retire(key: StoredKey, notAfter: number): void {
    if (!this.dir) {
      this.keys[this.keys.indexOf(key)] = { kid: key.kid, createdAt: key.createdAt, notAfter, publicJwk: { ...key.publicJwk, notAfter } as JWK };
      return;
    }
    const file = join(this.dir, `${key.kid}.json`);
    scrub(file);
    writeAtomic(file, JSON.stringify({ createdAt: key.createdAt, notAfter, jwk: key.publicJwk } satisfies KeyFile));
  }

  /**
   * Adds a new key, makes it the active one and retires the ones before it; returns its kid.
   * The new key is written before the old ones are retired, and `notAfter` is taken after that
   * write: a process that still signs with the old key (it has not re-read the directory yet)
   * stamps its heads before `notAfter`.
   */
  rotate(): string {
    if (this.envKey) throw new AppError('SIGNING_KEY_FROM_ENV', 'the active signing key comes from OUBLI_SIGNING_KEY: rotate it there');
    this.reload();
    const previous = this.keys.filter((k) => k.key);
    const key = generate(Math.max(this.now(), (this.keys.at(-1)?.createdAt ?? 0) + 1));
    if (this.dir) {
      writeAtomic(join(this.dir, `${key.kid}.json`), JSON.stringify({ createdAt: key.createdAt, jwk: key.privateJwk! } satisfies KeyFile));
    } else {
      this.keys.push(key);
    }
    const notAfter = this.now();
    for (const old of previous) this.retire(old, notAfter);
    this.reload(true);
    return key.kid;
  }

  private active(): StoredKey {
    this.reload();
    const key = this.envKey ?? this.keys.filter((k) => k.key).at(-1);
    if (!key?.key) throw new Error('no signing key');
    return key;
  }

  activeKid(): string {
    return this.active().kid;
  }

  /** Public keys, old and new, for /.well-known/jwks.json; retired ones carry `notAfter`. */
  jwks(): { keys: JWK[] } {
    this.reload();
    const all = this.envKey ? [...this.keys, this.envKey] : this.keys;
    const seen = new Set<string>();
    return { keys: all.filter((k) => !seen.has(k.kid) && seen.add(k.kid)).map((k) => ({ ...k.publicJwk })) };
  }

  /** Compact JWS (EdDSA) over the JSON of `payload`, `kid` in the header. */
  async sign(payload: unknown, typ?: string): Promise<string> {
    const key = this.active();
    return new CompactSign(new TextEncoder().encode(JSON.stringify(payload)))
      .setProtectedHeader({ alg: 'EdDSA', kid: key.kid, ...(typ ? { typ } : {}) })
      .sign(key.key!);
  }

  /** Signs note text (C2SP signed-note, Ed25519) as key name `name` with the active key. */
  signNote(text: string, name: string): string {
    return signNote(text, name, this.active().key!);
  }

  /** The active key's verifier key in the note format (`name+hash+base64`). */
  verifierKey(name: string): string {
    return formatVerifierKey(name, rawEd25519PublicKey(this.active().key!));
  }

  /** Note verifier keys for every key, retired ones included (old checkpoints stay checkable). */
  verifierKeys(name: string): string[] {
    return this.jwks().keys.map((k) => formatVerifierKey(name, new Uint8Array(Buffer.from(k.x!, 'base64url'))));
  }
}
