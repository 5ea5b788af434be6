import { createPublicKey, verify } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';
import {
  generateKeyPair,
  generateSecret,
  publicJwk,
  publicKeyOf,
  ROTATION_OVERLAP_MS,
  signersAt,
  signerFromSecret,
  signWebhook,
  WebhookSigningError,
} from '../../src/webhooks/signing.js';
import { readJsonFixture } from '../helpers/fixtures.js';

interface Vectors {
  secret: string;
  cases: { id: string; timestamp: number; body: string; signature: string }[];
}
const V = readJsonFixture<Vectors>('conformance/standard-webhooks.json');

/** What a receiver does for v1a with nothing but node:crypto and the published key. */
function verifyV1a(headers: Record<string, string>, body: string, published: { kty: string; crv: string; x: string }): boolean {
  const key = createPublicKey({ key: published, format: 'jwk' });
  const content = Buffer.from(`${headers['webhook-id']}.${headers['webhook-timestamp']}.${body}`, 'utf8');
  return headers['webhook-signature']!.split(' ').some((s) => s.startsWith('v1a,') && verify(null, content, key, Buffer.from(s.slice(4), 'base64')));
}

describe('Standard Webhooks v1 (HMAC-SHA256)', () => {
  for (const c of V.cases) {
    it(`matches the spec's vector ${c.id}`, () => {
      const h = signWebhook({ id: c.id, timestamp: c.timestamp, body: c.body }, [signerFromSecret(V.secret)]);
      expect(h).toEqual({ 'webhook-id': c.id, 'webhook-timestamp': String(c.timestamp), 'webhook-signature': c.signature });
    });
  }

  it('signs what the official standardwebhooks package verifies, and nothing else', () => {
    const secret = generateSecret();
    const body = JSON.stringify({ type: 'erasure.requested', timestamp: new Date().toISOString(), data: { requestId: 'req_1', note: 'Élodie — ✓' } });
    const headers = signWebhook({ id: 'msg_01', timestamp: Math.floor(Date.now() / 1000), body }, [signerFromSecret(secret)]);
    expect(new Webhook(secret).verify(body, { ...headers })).toEqual(JSON.parse(body));
    expect(() => new Webhook(secret).verify(body.replace('req_1', 'req_2'), { ...headers })).toThrow();
    expect(() => new Webhook(generateSecret()).verify(body, { ...headers })).toThrow();
    // The id and the timestamp are signed too: a replay under another id or time fails.
    expect(() => new Webhook(secret).verify(body, { ...headers, 'webhook-id': 'msg_02' })).toThrow();
    expect(() => new Webhook(secret).verify(body, { ...headers, 'webhook-timestamp': String(Number(headers['webhook-timestamp']) + 1) })).toThrow();
  });

  it('signs bytes as sent: a Buffer body and its string give the same signature', () => {
    const s = signerFromSecret(V.secret);
    const c = V.cases[2]!;
    expect(signWebhook({ ...c, body: Buffer.from(c.body, 'utf8') }, [s])['webhook-signature']).toBe(c.signature);
  });

  it('rotation: the old secret signs beside the new one for 24 hours, and either verifies', () => {
    const oldSecret = generateSecret();
    const newSecret = generateSecret();
    const rotatedAt = 1_700_000_000_000;
    const secrets = [{ secret: newSecret }, { secret: oldSecret, expiresAt: rotatedAt + ROTATION_OVERLAP_MS }];
    const body = '{"type":"request.completed","data":{"requestId":"req_1"}}';
    const ts = Math.floor(Date.now() / 1000);
    const during = signWebhook({ id: 'msg_r', timestamp: ts, body }, signersAt(secrets, rotatedAt + ROTATION_OVERLAP_MS - 1));
    expect(during['webhook-signature'].split(' ')).toHaveLength(2);
    expect(() => new Webhook(oldSecret).verify(body, { ...during })).not.toThrow();
    expect(() => new Webhook(newSecret).verify(body, { ...during })).not.toThrow();
    const after = signWebhook({ id: 'msg_r', timestamp: ts, body }, signersAt(secrets, rotatedAt + ROTATION_OVERLAP_MS));
    expect(after['webhook-signature'].split(' ')).toHaveLength(1);
    expect(() => new Webhook(oldSecret).verify(body, { ...after })).toThrow();
    expect(() => new Webhook(newSecret).verify(body, { ...after })).not.toThrow();
  });

  it('refuses malformed secrets and ids that would make the signed content ambiguous', () => {
    expect(() => signerFromSecret('MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw')).toThrow(WebhookSigningError);
    expect(() => signerFromSecret('whsec_c2hvcnQ=')).toThrow(/24 to 64 bytes/);
    expect(() => signerFromSecret('whsec_not base64!')).toThrow(/base64/);
    const s = [signerFromSecret(V.secret)];
    expect(() => signWebhook({ id: 'msg.1', timestamp: 1, body: '' }, s)).toThrow(/webhook id/);
    expect(() => signWebhook({ id: 'msg 1', timestamp: 1, body: '' }, s)).toThrow(/webhook id/);
    expect(() => signWebhook({ id: 'msg_1', timestamp: 1.5, body: '' }, s)).toThrow(/timestamp/);
    expect(() => signWebhook({ id: 'msg_1', timestamp: 1, body: '' }, [])).toThrow(/at least one/);
  });

  it('a malformed secret is never quoted in the error', () => {
    const secret = 'whsec_c2hvcnQ=';
    try {
      signerFromSecret(secret);
      expect.unreachable();
    } catch (err) {
      expect((err as Error).message).not.toContain('c2hvcnQ');
    }
  });
});

describe('Standard Webhooks v1a (Ed25519)', () => {
  it('is verified with node:crypto from the published public key (JWK and whpk_)', () => {
    const { secretKey, publicKey } = generateKeyPair();
    expect(secretKey).toMatch(/^whsk_[A-Za-z0-9+/]{86}==$/);
    expect(publicKey).toMatch(/^whpk_[A-Za-z0-9+/]{43}=$/);
    expect(publicKeyOf(secretKey)).toBe(publicKey);
    const jwk = publicJwk(publicKey);
    expect(jwk).toMatchObject({ kty: 'OKP', crv: 'Ed25519', alg: 'EdDSA', use: 'sig' });
    expect(jwk.kid).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const body = '{"type":"erasure.requested","data":{"requestId":"req_1"}}';
    const headers = { ...signWebhook({ id: 'msg_a', timestamp: 1_700_000_000, body }, [signerFromSecret(secretKey)]) };
    expect(headers['webhook-signature']).toMatch(/^v1a,[A-Za-z0-9+/]{86}==$/);
    expect(verifyV1a(headers, body, jwk)).toBe(true);
    expect(verifyV1a(headers, body.replace('req_1', 'req_2'), jwk)).toBe(false);
    expect(verifyV1a({ ...headers, 'webhook-timestamp': '1700000001' }, body, jwk)).toBe(false);
    // The whpk_ form is the raw key: the same check from it.
    const raw = Buffer.from(publicKey.slice(5), 'base64');
    expect(verifyV1a(headers, body, { kty: 'OKP', crv: 'Ed25519', x: raw.toString('base64url') })).toBe(true);
    // Another endpoint's key does not verify it: one key pair per endpoint.
    expect(verifyV1a(headers, body, publicJwk(generateKeyPair().publicKey))).toBe(false);
  });

  it('signs v1 and v1a side by side (an endpoint moving between schemes)', () => {
    const hmac = generateSecret();
    const { secretKey, publicKey } = generateKeyPair();
    const body = '{"type":"consent.updated","data":{}}';
    const headers = { ...signWebhook({ id: 'msg_b', timestamp: Math.floor(Date.now() / 1000), body }, [signerFromSecret(secretKey), signerFromSecret(hmac)]) };
    expect(headers['webhook-signature'].split(' ').map((s) => s.split(',')[0])).toEqual(['v1a', 'v1']);
    expect(verifyV1a(headers, body, publicJwk(publicKey))).toBe(true);
    expect(() => new Webhook(hmac).verify(body, headers)).not.toThrow();
  });

  it('reads a bare 32-byte seed, and refuses a 64-byte key whose halves do not match', () => {
    const { secretKey, publicKey } = generateKeyPair();
    const raw = Buffer.from(secretKey.slice(5), 'base64');
    expect(publicKeyOf(`whsk_${raw.subarray(0, 32).toString('base64')}`)).toBe(publicKey);
    const other = Buffer.from(generateKeyPair().secretKey.slice(5), 'base64');
    const mixed = `whsk_${Buffer.concat([raw.subarray(0, 32), other.subarray(32)]).toString('base64')}`;
    expect(() => signerFromSecret(mixed)).toThrow(/public half/);
    expect(() => publicJwk('whsec_abc')).toThrow(WebhookSigningError);
  });
});
