import { bigserial, pgTable, text } from 'drizzle-orm/pg-core';
import { int } from './types.js';

export const outbox = pgTable('outbox', {
  seq: bigserial('seq', { mode: 'number' }).primaryKey(),
  type: text('type').notNull(),
  payload: text('payload').notNull(),
  createdAt: int('created_at').notNull(),
});
