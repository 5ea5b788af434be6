import { sqliteTable, text, integer } from 'drizzle-orm/sqlite-core';

export const SCOPES = [
  'audit:read',
  'consents:read',
  'consents:write',
  'requests:read',
  'requests:write',
  'requests:verify',
  /** The DPO's authority: approve, deny, extend a request, decide identity conflicts. */
  'requests:approve',
  /** Webhook endpoints and their deliveries: read them; register, change, redeliver. */
  'webhooks:read',
  'webhooks:write',
  /** GET /metrics: counts and latencies of the whole deployment, no personal data (a Prometheus scraper's key). */
  'metrics:read',
  'admin',
] as const;
export type Scope = (typeof SCOPES)[number];

/** Machine credentials. Only the SHA-256 of the key is stored; `prefix` helps people recognise one. */
export const apiKeys = sqliteTable('api_keys', {
  id: text('id').primaryKey(),
  name: text('name').notNull(),
  prefix: text('prefix').notNull(),
  hash: text('hash').notNull().unique(),
  scopes: text('scopes', { mode: 'json' }).$type<Scope[]>().notNull(),
  createdAt: integer('created_at').notNull(),
  createdBy: text('created_by').notNull(),
  revokedAt: integer('revoked_at'),
});
export type ApiKey = typeof apiKeys.$inferSelect;
