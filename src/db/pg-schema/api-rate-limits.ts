import { integer, pgTable, text } from 'drizzle-orm/pg-core';
import { int } from './types.js';

export const apiRateLimits = pgTable('api_rate_limits', {
  keyId: text('key_id').primaryKey(),
  windowStart: int('window_start').notNull(),
  count: integer('count').notNull(),
});
