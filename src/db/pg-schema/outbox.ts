import { pgTable, text } from 'drizzle-orm/pg-core';
import { int } from './types.js';

/** `seq` has no default: it comes from outbox_sequencer, under its lock (src/db/stores/outbox.ts). */
export const outbox = pgTable('outbox', {
  seq: int('seq').primaryKey(),
  type: text('type').notNull(),
  payload: text('payload').notNull(),
  createdAt: int('created_at').notNull(),
});

export const outboxSequencer = pgTable('outbox_sequencer', {
  id: int('id').primaryKey(),
  seq: int('seq').notNull(),
});
