import { jsonb, pgTable, text } from 'drizzle-orm/pg-core';
import type { Scope } from '../schema/api-keys.js';
import { int } from './types.js';

export const apiKeys = pgTable('api_keys', {
  id: text('id').primaryKey(),
  name: text('name').notNull(),
  prefix: text('prefix').notNull(),
  hash: text('hash').notNull().unique(),
  scopes: jsonb('scopes').$type<Scope[]>().notNull(),
  createdAt: int('created_at').notNull(),
  createdBy: text('created_by').notNull(),
  revokedAt: int('revoked_at'),
});
