import { sqliteTable, text, integer } from 'drizzle-orm/sqlite-core';

/**
 * Named leases: a job that exactly one instance may run at a time (signing tree heads, the
 * maintenance sweep) is done by the holder of its lease, renewed while it runs; a crashed
 * holder's lease runs out and another instance takes over.
 */
export const leases = sqliteTable('leases', {
  name: text('name').primaryKey(),
  owner: text('owner').notNull(),
  expiresAt: integer('expires_at').notNull(),
});
