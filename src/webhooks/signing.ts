/**
 * Standard Webhooks signatures (https://www.standardwebhooks.com, spec v1.0.0): the headers
 * `webhook-id`, `webhook-timestamp` and `webhook-signature`, over the signed content
 * `${id}.${timestamp}.${body}` — the body exactly as sent, byte for byte.
 *
 * Two schemes, chosen per endpoint:
 * - `v1`: HMAC-SHA256 with a shared secret `whsec_<base64>` (the key is the base64 part's bytes).
 *   What every Standard Webhooks library verifies (the official `standardwebhooks` package).
 * - `v1a`: Ed25519. oubli keeps the secret key `whsk_<base64 of seed ‖ public key>` (64 bytes,
 *   libsodium's layout; a bare 32-byte seed is read too), the receiver gets only the public key
 *   `whpk_<base64 of the 32 raw bytes>` — also served as a JWK (`publicJwk`), in a webhook key
 *   set of its own, never in the audit keys' /.well-known/jwks.json: a key signs one kind of
 *   thing, so no webhook signature can ever be presented as a signed tree head or receipt, and
 *   the two rotate on their own schedules. As the spec advises, each endpoint has its own key
 *   pair (like its own HMAC secret): a receiver cannot replay to another receiver what was
 *   signed for it. No peer library verifies `v1a` yet; a receiver does it with its platform's
 *   Ed25519 (node:crypto's `verify(null, content, publicKey, signature)`).
 *
 * Rotation: `webhook-signature` is a space-separated list; while a rotated-out secret is in its
 * overlap (24 hours) both it and the new one sign every message, so a receiver holding either
 * verifies without downtime (`signersAt`).
 *
 * Pure functions over node:crypto: no I/O, no clock but the one passed in.
 */
import { createHash, createHmac, createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';

export const SECRET_PREFIX = 'whsec_';
export const SECRET_KEY_PREFIX = 'whsk_';
export const PUBLIC_KEY_PREFIX = 'whpk_';

/** How long a rotated-out secret keeps signing beside its successor. */
export const ROTATION_OVERLAP_MS = 24 * 60 * 60 * 1000;

/** The spec: a symmetric secret holds 24 to 64 bytes. */
const MIN_SECRET_BYTES = 24;
const MAX_SECRET_BYTES = 64;

export type WebhookScheme = 'v1' | 'v1a';

/** A parsed signing secret, ready to sign. */
export type WebhookSigner = { scheme: 'v1'; key: Buffer } | { scheme: 'v1a'; key: KeyObject };

export interface WebhookMessage {
  /** `webhook-id`: the same for every attempt of one message (receivers deduplicate by it). */
  id: string;
  /** `webhook-timestamp`: this attempt's time, seconds since the epoch. */
  timestamp: number;
  /** The body exactly as sent. */
  body: string | Uint8Array;
}

export interface WebhookHeaders {
  'webhook-id': string;
  'webhook-timestamp': string;
  'webhook-signature': string;
}

/** A malformed secret or message; the message never quotes the secret. */
export class WebhookSigningError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WebhookSigningError';
  }
}

/** Ids are ours (`msg_…`): no `.`, which would make the signed content ambiguous, nor spaces. */
const MESSAGE_ID = /^[A-Za-z0-9_-]{1,128}$/;

// DER prefixes of an Ed25519 PKCS#8 private key and SPKI public key (RFC 8410), before the raw 32 bytes.
const PKCS8_ED25519 = Buffer.from('302e020100300506032b657004220420', 'hex');
const SPKI_ED25519 = Buffer.from('302a300506032b6570032100', 'hex');

function base64Part(secret: string, prefix: string): Buffer {
  const b64 = secret.slice(prefix.length);
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64)) throw new WebhookSigningError(`a ${prefix}… key must be base64 after its prefix`);
  return Buffer.from(b64, 'base64');
}

/** A new `whsec_` secret: 32 random bytes. */
export function generateSecret(): string {
  return SECRET_PREFIX + randomBytes(32).toString('base64');
}

/** A new Ed25519 pair: `whsk_` secret key (kept by oubli), `whpk_` public key (given to the receiver). */
export function generateKeyPair(): { secretKey: string; publicKey: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const seed = privateKey.export({ format: 'der', type: 'pkcs8' }).subarray(PKCS8_ED25519.length);
  const pub = publicKey.export({ format: 'der', type: 'spki' }).subarray(SPKI_ED25519.length);
  return { secretKey: SECRET_KEY_PREFIX + Buffer.concat([seed, pub]).toString('base64'), publicKey: PUBLIC_KEY_PREFIX + pub.toString('base64') };
}

function ed25519Private(secretKey: string): KeyObject {
  const raw = base64Part(secretKey, SECRET_KEY_PREFIX);
  if (raw.length !== 32 && raw.length !== 64) throw new WebhookSigningError('a whsk_ key holds a 32-byte seed or 64 bytes (seed and public key)');
  const key = createPrivateKey({ key: Buffer.concat([PKCS8_ED25519, raw.subarray(0, 32)]), format: 'der', type: 'pkcs8' });
  if (raw.length === 64 && !rawPublic(createPublicKey(key)).equals(raw.subarray(32))) {
    throw new WebhookSigningError('the whsk_ key\'s public half does not belong to its seed');
  }
  return key;
}

function rawPublic(key: KeyObject): Buffer {
  return key.export({ format: 'der', type: 'spki' }).subarray(SPKI_ED25519.length);
}

/** Reads a `whsec_` (v1) or `whsk_` (v1a) secret. */
export function signerFromSecret(secret: string): WebhookSigner {
  if (secret.startsWith(SECRET_PREFIX)) {
    const key = base64Part(secret, SECRET_PREFIX);
    if (key.length < MIN_SECRET_BYTES || key.length > MAX_SECRET_BYTES) {
      throw new WebhookSigningError(`a whsec_ secret holds ${MIN_SECRET_BYTES} to ${MAX_SECRET_BYTES} bytes`);
    }
    return { scheme: 'v1', key };
  }
  if (secret.startsWith(SECRET_KEY_PREFIX)) return { scheme: 'v1a', key: ed25519Private(secret) };
  throw new WebhookSigningError('a signing secret starts with whsec_ (HMAC) or whsk_ (Ed25519)');
}

/** The `whpk_` public key of a `whsk_` secret key. */
export function publicKeyOf(secretKey: string): string {
  return PUBLIC_KEY_PREFIX + rawPublic(createPublicKey(ed25519Private(secretKey))).toString('base64');
}

/** A `whpk_` public key as a JWK (OKP/Ed25519, `kid` = its RFC 7638 thumbprint), for a JWKS. */
export function publicJwk(publicKey: string): { kty: 'OKP'; crv: 'Ed25519'; x: string; kid: string; alg: 'EdDSA'; use: 'sig' } {
  if (!publicKey.startsWith(PUBLIC_KEY_PREFIX)) throw new WebhookSigningError('a public key starts with whpk_');
  const raw = base64Part(publicKey, PUBLIC_KEY_PREFIX);
  if (raw.length !== 32) throw new WebhookSigningError('a whpk_ key holds 32 bytes');
  const x = raw.toString('base64url');
  const kid = createHash('sha256').update(JSON.stringify({ crv: 'Ed25519', kty: 'OKP', x })).digest('base64url');
  return { kty: 'OKP', crv: 'Ed25519', x, kid, alg: 'EdDSA', use: 'sig' };
}

function signedContent(msg: WebhookMessage): Buffer {
  if (!MESSAGE_ID.test(msg.id)) throw new WebhookSigningError('a webhook id is 1–128 characters of [A-Za-z0-9_-]');
  if (!Number.isSafeInteger(msg.timestamp) || msg.timestamp < 0) throw new WebhookSigningError('a webhook timestamp is whole seconds since the epoch');
  const body = typeof msg.body === 'string' ? Buffer.from(msg.body, 'utf8') : msg.body;
  return Buffer.concat([Buffer.from(`${msg.id}.${msg.timestamp}.`, 'utf8'), body]);
}

/** One signature, `v1,<base64>` or `v1a,<base64>`. */
function signatureOf(content: Buffer, signer: WebhookSigner): string {
  if (signer.scheme === 'v1') return `v1,${createHmac('sha256', signer.key).update(content).digest('base64')}`;
  return `v1a,${sign(null, content, signer.key).toString('base64')}`;
}

/** The three headers for one attempt, signed by every signer given (current, then rotated-out). */
export function signWebhook(msg: WebhookMessage, signers: readonly WebhookSigner[]): WebhookHeaders {
  if (signers.length === 0) throw new WebhookSigningError('at least one signing secret is needed');
  const content = signedContent(msg);
  return {
    'webhook-id': msg.id,
    'webhook-timestamp': String(msg.timestamp),
    'webhook-signature': signers.map((s) => signatureOf(content, s)).join(' '),
  };
}

/** An endpoint's secret and, once rotated out, when it stops signing (ms since the epoch). */
export interface EndpointSecret {
  secret: string;
  expiresAt?: number | null;
}

/**
 * The signers of an endpoint at `now`: every secret not yet expired, in the order given (the
 * current one first). A rotation keeps the old secret with `expiresAt = rotatedAt +
 * ROTATION_OVERLAP_MS`.
 */
export function signersAt(secrets: readonly EndpointSecret[], now: number): WebhookSigner[] {
  return secrets.filter((s) => s.expiresAt === undefined || s.expiresAt === null || now < s.expiresAt).map((s) => signerFromSecret(s.secret));
}
