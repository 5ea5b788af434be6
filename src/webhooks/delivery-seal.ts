/**
 * Each delivery row carries a MAC of what it will send (id, endpoint, type, body) under a key
 * derived from the master key, which the database does not hold. The deliverer signs nothing
 * whose seal does not check: someone who can edit or insert rows (a DB administrator, a stolen
 * backup restored elsewhere) cannot get oubli to sign a message of their making for a receiver.
 */
import { createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';
import type { WebhookDelivery } from '../db/schema/webhooks.js';

type Sealed = Pick<WebhookDelivery, 'id' | 'endpointId' | 'type' | 'body'>;

/** The sealing key (derive it once per batch of rows, not per row). */
export function deliverySealKey(masterKey: Buffer): Buffer {
  return Buffer.from(hkdfSync('sha256', masterKey, Buffer.alloc(0), 'oubli/webhook-delivery/v1', 32));
}

export function deliverySeal(key: Buffer, d: Sealed): Buffer {
  return createHmac('sha256', key).update(`${d.id}\0${d.endpointId}\0${d.type}\0`).update(d.body).digest();
}

export function sealHolds(key: Buffer, d: Sealed & { seal: Buffer }): boolean {
  const want = deliverySeal(key, d);
  return d.seal.length === want.length && timingSafeEqual(d.seal, want);
}
