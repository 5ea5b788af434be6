/**
 * Signing keys on disk: a rotation overwrites the old private key and keeps only its public JWK
 * with notAfter; a key directory from before retirement existed (several private keys) is
 * retired at open; a second process sees a rotation without a restart.
 */
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { JWK } from 'jose';
import { describe, expect, it } from 'vitest';
import { SigningKeys } from '../../src/audit/keys.js';
import { testClock } from '../helpers/deps.js';

const files = (dir: string) => readdirSync(dir).map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')) as { createdAt: number; notAfter?: number; jwk: JWK });

describe('SigningKeys on disk', () => {
  it('rotate retires the old key: no private part left, notAfter set, published in the JWKS; a second process follows', async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'oubli-keys-')), 'keys');
    const clock = testClock();
    const server = SigningKeys.open(dir, undefined, clock.now);
    const oldKid = server.activeKid();
    const cli = SigningKeys.open(dir, undefined, clock.now);
    clock.advance(5000);
    const newKid = cli.rotate();
    const [old, fresh] = files(dir).sort((a, b) => a.createdAt - b.createdAt);
    expect(old!.jwk.d).toBeUndefined();
    expect(old!.notAfter).toBe(clock.now());
    expect(fresh!.jwk.d).toBeTruthy();
    expect(readdirSync(dir).every((f) => !f.endsWith('.tmp'))).toBe(true);
    // the other process signs with the new key at once, and publishes notAfter
    expect(server.activeKid()).toBe(newKid);
    expect(server.jwks().keys).toEqual(
      expect.arrayContaining([expect.objectContaining({ kid: oldKid, notAfter: clock.now() }), expect.not.objectContaining({ notAfter: expect.anything() })]),
    );
    expect(JSON.stringify(server.jwks())).not.toMatch(/"d"/);
  });

  it('a key dir holding several private keys (written before keys were retired) is retired at open', () => {
    const dir = mkdtempSync(join(tmpdir(), 'oubli-keys-old-'));
    for (const createdAt of [1000, 2000, 3000]) {
      const jwk = generateKeyPairSync('ed25519').privateKey.export({ format: 'jwk' }) as JWK;
      writeFileSync(join(dir, `k${createdAt}.json`), JSON.stringify({ createdAt, jwk: { ...jwk, kid: `k${createdAt}` } }), { mode: 0o600 });
    }
    const keys = SigningKeys.open(dir, undefined, () => 9000);
    expect(keys.activeKid()).toBe('k3000');
    const byKid = Object.fromEntries(files(dir).map((f) => [f.jwk.kid, f]));
    expect(byKid.k1000).toMatchObject({ notAfter: 2000, jwk: expect.not.objectContaining({ d: expect.anything() }) });
    expect(byKid.k2000).toMatchObject({ notAfter: 3000, jwk: expect.not.objectContaining({ d: expect.anything() }) });
    expect(byKid.k3000!.notAfter).toBeUndefined();
    expect(byKid.k3000!.jwk.d).toBeTruthy();
  });

  it('a key from OUBLI_SIGNING_KEY is not rotated by oubli', () => {
    const jwk = generateKeyPairSync('ed25519').privateKey.export({ format: 'jwk' });
    const keys = SigningKeys.open(mkdtempSync(join(tmpdir(), 'oubli-keys-env-')), JSON.stringify(jwk));
    expect(() => keys.rotate()).toThrow(/comes from OUBLI_SIGNING_KEY/);
  });
});
