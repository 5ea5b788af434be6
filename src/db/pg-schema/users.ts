import { pgTable, text } from 'drizzle-orm/pg-core';
import { ROLES } from '../schema/users.js';
import { int } from './types.js';

export const users = pgTable('users', {
  id: text('id').primaryKey(),
  email: text('email').notNull().unique(),
  passwordHash: text('password_hash').notNull(),
  role: text('role', { enum: ROLES }).notNull(),
  createdAt: int('created_at').notNull(),
  disabledAt: int('disabled_at'),
});
