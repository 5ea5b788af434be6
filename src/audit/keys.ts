/**
 * The Ed25519 keys that sign tree heads, receipts and export manifests.
 *
 * Each key is a private JWK in `<data dir>/keys/<kid>.json` (mode 0600). The newest file is the
 * active key; older ones stay so their public halves remain in /.well-known/jwks.json and old
 * signatures keep verifying. A key given by env (OUBLI_SIGNING_KEY) is used instead of the files
 * for signing. The directory is re-read when it changes, so `oubli keys rotate` run beside a
 * live server takes effect without a restart.
 */
import { createHash, createPrivateKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { chmodSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CompactSign, type JWK } from 'jose';

interface StoredKey {
  kid: string;
  createdAt: number;
  privateJwk: JWK;
  publicJwk: JWK;
  key: KeyObject;
}

/** RFC 7638 thumbprint of an OKP public key, base64url. */
function thumbprint(jwk: JWK): string {
  const canonical = JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x });
  return createHash('sha256').update(canonical).digest('base64url');
}

function fromPrivateJwk(jwk: JWK, createdAt: number): StoredKey {
  if (jwk.kty !== 'OKP' || jwk.crv !== 'Ed25519' || !jwk.d || !jwk.x) {
    throw new Error('signing key must be an Ed25519 private JWK (kty OKP, crv Ed25519, with d and x)');
  }
  const kid = jwk.kid ?? thumbprint(jwk);
  const key = createPrivateKey({ key: { kty: 'OKP', crv: 'Ed25519', d: jwk.d, x: jwk.x }, format: 'jwk' });
  const publicJwk: JWK = { kty: 'OKP', crv: 'Ed25519', x: jwk.x, kid, alg: 'EdDSA', use: 'sig' };
  return { kid, createdAt, privateJwk: { ...jwk, kid }, publicJwk, key };
}

function generate(now: number): StoredKey {
  const { privateKey } = generateKeyPairSync('ed25519');
  const jwk = privateKey.export({ format: 'jwk' }) as JWK;
  return fromPrivateJwk({ ...jwk, kid: thumbprint(jwk) }, now);
}

export class SigningKeys {
  private keys: StoredKey[] = [];
  private dirMtime = -1;
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
      this.envKey = fromPrivateJwk(parsed, 0);
    }
  }

  /** Opens the key directory, creating the first key when there is none (and none from env). */
  static open(dir: string, envJwk: string | undefined, now: () => number = Date.now): SigningKeys {
    const ks = new SigningKeys(dir, envJwk, now);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    ks.reload(true);
    if (ks.keys.length === 0 && !ks.envKey) ks.rotate();
    return ks;
  }

  /** In-memory keys for tests: nothing touches disk. */
  static ephemeral(now: () => number = Date.now): SigningKeys {
    const ks = new SigningKeys(null, undefined, now);
    ks.keys.push(generate(now()));
    return ks;
  }

  /** Re-reads the directory when its mtime changed (a rotation by another process). */
  reload(force = false): void {
    if (!this.dir) return;
    const mtime = statSync(this.dir).mtimeMs;
    if (!force && mtime === this.dirMtime) return;
    this.dirMtime = mtime;
    const loaded: StoredKey[] = [];
    for (const name of readdirSync(this.dir)) {
      if (!name.endsWith('.json')) continue;
      const raw = JSON.parse(readFileSync(join(this.dir, name), 'utf8')) as { createdAt: number; jwk: JWK };
      loaded.push(fromPrivateJwk(raw.jwk, raw.createdAt));
    }
    loaded.sort((a, b) => a.createdAt - b.createdAt || a.kid.localeCompare(b.kid));
    this.keys = loaded;
  }

  /** Adds a new key and makes it the active one; returns its kid. */
  rotate(): string {
    const key = generate(Math.max(this.now(), (this.keys.at(-1)?.createdAt ?? 0) + 1));
    if (this.dir) {
      const file = join(this.dir, `${key.kid}.json`);
      writeFileSync(file, JSON.stringify({ createdAt: key.createdAt, jwk: key.privateJwk }), { mode: 0o600 });
      chmodSync(file, 0o600);
      this.reload(true);
    } else {
      this.keys.push(key);
    }
    return key.kid;
  }

  private active(): StoredKey {
    this.reload();
    const key = this.envKey ?? this.keys.at(-1);
    if (!key) throw new Error('no signing key');
    return key;
  }

  activeKid(): string {
    return this.active().kid;
  }

  /** Public keys, old and new, for /.well-known/jwks.json. */
  jwks(): { keys: JWK[] } {
    this.reload();
    const all = this.envKey ? [...this.keys, this.envKey] : this.keys;
    const seen = new Set<string>();
    return { keys: all.filter((k) => !seen.has(k.kid) && seen.add(k.kid)).map((k) => k.publicJwk) };
  }

  /** Compact JWS (EdDSA) over the JSON of `payload`, `kid` in the header. */
  async sign(payload: unknown, typ?: string): Promise<string> {
    const key = this.active();
    return new CompactSign(new TextEncoder().encode(JSON.stringify(payload)))
      .setProtectedHeader({ alg: 'EdDSA', kid: key.kid, ...(typ ? { typ } : {}) })
      .sign(key.key);
  }
}
