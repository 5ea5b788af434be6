import { index, pgTable, text } from 'drizzle-orm/pg-core';
import { users } from './users.js';
import { int } from './types.js';

export const sessions = pgTable(
  'sessions',
  {
    id: text('id').primaryKey(),
    userId: text('user_id').notNull().references(() => users.id, { onDelete: 'cascade' }),
    createdAt: int('created_at').notNull(),
    expiresAt: int('expires_at').notNull(),
  },
  (t) => [index('sessions_user_idx').on(t.userId)],
);
