import { sqliteTable, text, integer } from 'drizzle-orm/sqlite-core';

/**
 * Events for other systems (webhooks, polling silos), written in the same transaction as the
 * change they announce; `seq` orders them and is the cursor of GET /v1/consents/changes.
 * Payloads carry ids (`sub_…`), never identifiers in clear.
 *
 * `seq` is assigned from `outboxSequencer` (src/db/stores/outbox.ts), never by the database:
 * a row's seq is only handed out once every lower seq has committed, so a reader that moves its
 * cursor past a row can never miss one that commits later.
 */
export const outbox = sqliteTable('outbox', {
  seq: integer('seq').primaryKey({ autoIncrement: true }),
  type: text('type').notNull(),
  payload: text('payload').notNull(),
  createdAt: integer('created_at').notNull(),
});
export type OutboxRow = typeof outbox.$inferSelect;

/** One row (id 1): the last outbox seq handed out, locked by every transaction that writes the outbox. */
export const outboxSequencer = sqliteTable('outbox_sequencer', {
  id: integer('id').primaryKey(),
  seq: integer('seq').notNull(),
});
