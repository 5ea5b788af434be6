import { sqliteTable, text, integer, blob, index, uniqueIndex } from 'drizzle-orm/sqlite-core';

/** What a subscriber may receive (src/webhooks/events.ts says when each is sent). */
export const WEBHOOK_EVENTS = [
  'request.received',
  'request.verified',
  'request.completed',
  'request.failed',
  'request.needs_attention',
  'erasure.requested',
  'consent.updated',
  'audit.checkpoint',
] as const;
export type WebhookEvent = (typeof WEBHOOK_EVENTS)[number];

export type WebhookScheme = 'v1' | 'v1a';
export type EndpointStatus = 'enabled' | 'disabled';

/**
 * A subscriber: where to POST which events, and the secrets that sign them. Secrets are stored
 * SEALED under the deployment's master key (src/webhooks/secrets.ts), bound to the endpoint id:
 * a database dump yields no signing secret, and a sealed secret copied onto another endpoint's
 * row does not open there.
 *
 * Rotation keeps the previous secret signing beside the new one until `previousUntil`.
 * `failingSince`: the first failed attempt since the last success — an endpoint failing for
 * three days is disabled (`disabledReason`) and the DPO told.
 */
export const webhookEndpoints = sqliteTable('webhook_endpoints', {
  id: text('id').primaryKey(),
  url: text('url').notNull(),
  description: text('description').notNull(),
  events: text('events', { mode: 'json' }).$type<WebhookEvent[]>().notNull(),
  scheme: text('scheme').$type<WebhookScheme>().notNull(),
  secret: blob('secret', { mode: 'buffer' }).notNull(),
  previousSecret: blob('previous_secret', { mode: 'buffer' }),
  previousUntil: integer('previous_until'),
  status: text('status').$type<EndpointStatus>().notNull(),
  disabledReason: text('disabled_reason'),
  disabledAt: integer('disabled_at'),
  failingSince: integer('failing_since'),
  createdAt: integer('created_at').notNull(),
  updatedAt: integer('updated_at').notNull(),
});
export type WebhookEndpoint = typeof webhookEndpoints.$inferSelect;

export type DeliveryStatus = 'pending' | 'delivered' | 'failed';

/**
 * One message to one endpoint, written in the same transaction as the change it announces.
 * `id` is the Standard Webhooks `webhook-id`, the same for every attempt (receivers deduplicate
 * by it); `body` is the exact JSON sent. `orderKey` (a request id, a subject id): messages of one
 * endpoint with the same key are delivered in `seq` order, one at a time.
 *
 * `seq` may come from the database: the changes that share an order key are serialised by that
 * key's lock (a request's, a person's) until they commit, so one key's deliveries commit in seq
 * order. No foreign key to the endpoint: a transaction that announces a change must never fail
 * because an endpoint was deleted meanwhile; the delete removes the endpoint's deliveries and a
 * delivery of a missing endpoint is never claimed.
 */
export const webhookDeliveries = sqliteTable(
  'webhook_deliveries',
  {
    seq: integer('seq').primaryKey({ autoIncrement: true }),
    id: text('id').notNull(),
    endpointId: text('endpoint_id').notNull(),
    type: text('type').$type<WebhookEvent>().notNull(),
    body: text('body').notNull(),
    /** MAC of id, endpoint, type and body under a master-key-derived key (src/webhooks/delivery-seal.ts). */
    seal: blob('seal', { mode: 'buffer' }).notNull(),
    orderKey: text('order_key'),
    status: text('status').$type<DeliveryStatus>().notNull(),
    attempts: integer('attempts').notNull().default(0),
    nextAttemptAt: integer('next_attempt_at').notNull(),
    leaseOwner: text('lease_owner'),
    leaseExpiresAt: integer('lease_expires_at'),
    /** The receiver's HTTP status of the last attempt (null: no answer). */
    lastStatus: integer('last_status'),
    /** Why the last attempt failed, in words (an OutboundError code, "HTTP 500"…). */
    lastError: text('last_error'),
    /** The first bytes of the receiver's last answer, for the operator (never sent anywhere). */
    lastResponse: text('last_response'),
    lastAttemptAt: integer('last_attempt_at'),
    createdAt: integer('created_at').notNull(),
    deliveredAt: integer('delivered_at'),
  },
  (t) => [
    uniqueIndex('webhook_deliveries_id_idx').on(t.id),
    index('webhook_deliveries_due_idx').on(t.status, t.nextAttemptAt, t.seq),
    index('webhook_deliveries_endpoint_idx').on(t.endpointId, t.seq),
    index('webhook_deliveries_order_idx').on(t.endpointId, t.orderKey, t.status, t.seq),
  ],
);
export type WebhookDelivery = typeof webhookDeliveries.$inferSelect;
