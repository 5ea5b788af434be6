import { sqliteTable, text, integer } from 'drizzle-orm/sqlite-core';

/**
 * The API rate limiter's counters (OUBLI_API_RATE_LIMIT), one row per API key: requests counted
 * in the current fixed one-minute window. Kept in the database so that every instance behind a
 * load balancer counts against the same limit; one row per key, overwritten each window.
 */
export const apiRateLimits = sqliteTable('api_rate_limits', {
  keyId: text('key_id').primaryKey(),
  windowStart: integer('window_start').notNull(),
  count: integer('count').notNull(),
});
