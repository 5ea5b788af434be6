import { bigserial, index, integer, jsonb, pgTable, text, uniqueIndex } from 'drizzle-orm/pg-core';
import type { DeliveryStatus, EndpointStatus, WebhookEvent, WebhookScheme } from '../schema/webhooks.js';
import { bytea, int } from './types.js';

export const webhookEndpoints = pgTable('webhook_endpoints', {
  id: text('id').primaryKey(),
  url: text('url').notNull(),
  description: text('description').notNull(),
  events: jsonb('events').$type<WebhookEvent[]>().notNull(),
  scheme: text('scheme').$type<WebhookScheme>().notNull(),
  secret: bytea('secret').notNull(),
  previousSecret: bytea('previous_secret'),
  previousUntil: int('previous_until'),
  status: text('status').$type<EndpointStatus>().notNull(),
  disabledReason: text('disabled_reason'),
  disabledAt: int('disabled_at'),
  failingSince: int('failing_since'),
  createdAt: int('created_at').notNull(),
  updatedAt: int('updated_at').notNull(),
});

export const webhookDeliveries = pgTable(
  'webhook_deliveries',
  {
    seq: bigserial('seq', { mode: 'number' }).primaryKey(),
    id: text('id').notNull(),
    endpointId: text('endpoint_id').notNull(),
    type: text('type').$type<WebhookEvent>().notNull(),
    body: text('body').notNull(),
    seal: bytea('seal').notNull(),
    orderKey: text('order_key'),
    status: text('status').$type<DeliveryStatus>().notNull(),
    attempts: integer('attempts').notNull().default(0),
    nextAttemptAt: int('next_attempt_at').notNull(),
    leaseOwner: text('lease_owner'),
    leaseExpiresAt: int('lease_expires_at'),
    lastStatus: integer('last_status'),
    lastError: text('last_error'),
    lastResponse: text('last_response'),
    lastAttemptAt: int('last_attempt_at'),
    createdAt: int('created_at').notNull(),
    deliveredAt: int('delivered_at'),
  },
  (t) => [
    uniqueIndex('webhook_deliveries_id_idx').on(t.id),
    index('webhook_deliveries_due_idx').on(t.status, t.nextAttemptAt, t.seq),
    index('webhook_deliveries_endpoint_idx').on(t.endpointId, t.seq),
    index('webhook_deliveries_order_idx').on(t.endpointId, t.orderKey, t.status, t.seq),
  ],
);
