import { pgTable, text } from 'drizzle-orm/pg-core';
import { int } from './types.js';

export const leases = pgTable('leases', {
  name: text('name').primaryKey(),
  owner: text('owner').notNull(),
  expiresAt: int('expires_at').notNull(),
});
