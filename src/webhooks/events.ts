/**
 * What subscribers are told, and when: each event becomes one delivery row per subscribed
 * endpoint, written in the transaction of the change it announces (so a change never commits
 * without its messages, nor a message without its change), then sent by ./deliverer.ts.
 *
 * Thin payloads: ids, types, statuses, counts — never an email, a phone or a name. A receiver
 * that needs the identity asks oubli for it with its own key (audited).
 *
 * When each event is sent:
 * - request.received         a request was opened (any channel);
 * - request.verified         the person's identity was verified;
 * - erasure.requested        an erasure request reached its erase stage (the silos are being erased);
 * - request.completed        the request was carried out;
 * - request.needs_attention  it stopped on a failure the DPO must look at;
 * - request.failed           it closed without being carried out: denied, cancelled, or never
 *                            verified before its deadline (`data.status` says which);
 * - consent.updated          a person's current consent to a purpose changed;
 * - audit.checkpoint         a new checkpoint of the audit log was signed (its C2SP signed note:
 *                            every subscriber can witness the log).
 */
import type { Stores } from '../db/handle.js';
import type { Deps } from '../deps.js';
import type { WebhookEvent } from '../db/schema/webhooks.js';
import type { NewDelivery, Subscriber } from '../db/stores/webhooks.js';
import { deliverySeal, deliverySealKey } from './delivery-seal.js';

/** The channel the deliverers listen on for new messages. */
export const WEBHOOK_CHANNEL = 'webhooks';

export interface WebhookMessageInput {
  type: WebhookEvent;
  data: Record<string, unknown>;
  /** Messages of one endpoint with the same key are delivered in order (a request id, a subject id). */
  orderKey?: string | null;
  /** When the change happened (ms); the body's `timestamp`. */
  at: number;
}

/** What writing messages needs: ids, the clock, and the master key (each row's seal: ./delivery-seal.ts). */
export type Emitter = Pick<Deps, 'db' | 'ids' | 'now' | 'secrets'>;

/** The audit entry types of a request that are announced, and as what. */
const REQUEST_EVENTS: Record<string, WebhookEvent> = {
  'request.received': 'request.received',
  'request.identity_verified': 'request.verified',
  'request.completed': 'request.completed',
  'request.needs_attention': 'request.needs_attention',
  'request.denied': 'request.failed',
  'request.cancelled': 'request.failed',
  'request.expired': 'request.failed',
};

/** The webhook event a request's audit entry announces, if any. */
export function requestEvent(auditType: string, data: Record<string, unknown>): WebhookEvent | undefined {
  if (auditType === 'request.stage') return data.stage === 'erase' ? 'erasure.requested' : undefined;
  return REQUEST_EVENTS[auditType];
}

/** audit.checkpoint: a new signed tree head, as its C2SP checkpoint (the subscriber can witness the log). */
export function announceCheckpoint(ctx: Emitter, t: Stores, head: { size: number; root: string; timestamp: number; checkpoint: string }): Promise<number> {
  return emitWebhooks(ctx, t, [{ type: 'audit.checkpoint', at: head.timestamp, data: { size: head.size, root: head.root, checkpoint: head.checkpoint } }]);
}

/** The body of a message, exactly as it is signed and sent. */
export function messageBody(m: WebhookMessageInput): string {
  return JSON.stringify({ type: m.type, timestamp: new Date(m.at).toISOString(), data: m.data });
}

/**
 * Writes, in the transaction `t`, one delivery per endpoint subscribed to each message. An
 * endpoint that is disabled gets its deliveries as `failed` (ENDPOINT_DISABLED): nothing is
 * sent, and `POST /v1/webhooks/{id}/recover` can still send them once it is enabled again.
 * The deliverers are woken once the transaction commits.
 */
export async function emitWebhooks(
  ctx: Emitter,
  t: Stores,
  messages: readonly WebhookMessageInput[],
  /** The endpoints as read earlier in `t` (a writer holding a serialising lock reads them before it). */
  known?: Subscriber[],
): Promise<number> {
  if (messages.length === 0) return 0;
  const subscribers = known ?? (await t.webhooks.subscribers());
  if (subscribers.length === 0) return 0;
  const now = ctx.now();
  const key = deliverySealKey(ctx.secrets.masterKey);
  const rows: NewDelivery[] = [];
  for (const m of messages) {
    let body: string | undefined;
    for (const s of subscribers) {
      if (!s.events.includes(m.type)) continue;
      body ??= messageBody(m);
      const enabled = s.status === 'enabled';
      const id = ctx.ids('msg');
      rows.push({
        id,
        endpointId: s.id,
        type: m.type,
        body,
        seal: deliverySeal(key, { id, endpointId: s.id, type: m.type, body }),
        orderKey: m.orderKey ?? null,
        status: enabled ? 'pending' : 'failed',
        lastError: enabled ? null : 'ENDPOINT_DISABLED',
        nextAttemptAt: now,
        createdAt: now,
      });
    }
  }
  if (rows.length === 0) return 0;
  await t.webhooks.insertDeliveries(rows);
  t.afterCommit(() => void ctx.db.notify(WEBHOOK_CHANNEL).catch(() => {}));
  return rows.length;
}
