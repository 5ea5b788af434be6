import { sqliteTable, text, integer } from 'drizzle-orm/sqlite-core';

/**
 * Events for other systems (webhooks, polling silos), written in the same transaction as the
 * change they announce; `seq` orders them and is the cursor of GET /v1/consents/changes.
 * Payloads carry ids (`sub_…`), never identifiers in clear.
 */
export const outbox = sqliteTable('outbox', {
  seq: integer('seq').primaryKey({ autoIncrement: true }),
  type: text('type').notNull(),
  payload: text('payload').notNull(),
  createdAt: integer('created_at').notNull(),
});
export type OutboxRow = typeof outbox.$inferSelect;
