/**
 * An endpoint's signing secrets, sealed in its row under the master key (src/secrets/seal.ts)
 * with the endpoint id as context: a database dump holds no usable secret, and a secret copied
 * onto another endpoint's row does not open there. Opening fails loudly (WEBHOOK_SECRET_UNREADABLE):
 * a delivery is never signed with anything else.
 */
import type { WebhookEndpoint } from '../db/schema/webhooks.js';
import { AppError } from '../errors.js';
import { seal, unseal } from '../secrets/seal.js';
import { signersAt, type EndpointSecret, type WebhookSigner } from './signing.js';

const context = (endpointId: string) => `oubli/webhook-secret/v1\0${endpointId}`;

export function sealSecret(masterKey: Buffer, endpointId: string, secret: string): Buffer {
  return seal(masterKey, context(endpointId), Buffer.from(secret, 'utf8'));
}

export function openSecret(masterKey: Buffer, endpointId: string, sealed: Buffer): string {
  const plain = unseal(masterKey, context(endpointId), sealed);
  if (plain === null) throw new AppError('WEBHOOK_SECRET_UNREADABLE', `the signing secret of webhook endpoint ${endpointId} does not open with this master key`);
  return plain.toString('utf8');
}

/** Who signs for the endpoint at `now`: its secret, and the previous one during a rotation's overlap. */
export function endpointSigners(masterKey: Buffer, e: Pick<WebhookEndpoint, 'id' | 'secret' | 'previousSecret' | 'previousUntil'>, now: number): WebhookSigner[] {
  const secrets: EndpointSecret[] = [{ secret: openSecret(masterKey, e.id, e.secret) }];
  if (e.previousSecret && e.previousUntil !== null && now < e.previousUntil) {
    secrets.push({ secret: openSecret(masterKey, e.id, e.previousSecret), expiresAt: e.previousUntil });
  }
  return signersAt(secrets, now);
}
