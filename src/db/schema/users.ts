import { sqliteTable, text, integer } from 'drizzle-orm/sqlite-core';

export const ROLES = ['admin', 'dpo', 'viewer'] as const;
export type Role = (typeof ROLES)[number];

/** Staff accounts. Passwords are argon2id hashes; the email is never written to the audit log. */
export const users = sqliteTable('users', {
  id: text('id').primaryKey(),
  email: text('email').notNull().unique(),
  passwordHash: text('password_hash').notNull(),
  role: text('role', { enum: ROLES }).notNull(),
  createdAt: integer('created_at').notNull(),
  disabledAt: integer('disabled_at'),
});
export type User = typeof users.$inferSelect;
