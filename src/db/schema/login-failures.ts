import { sqliteTable, text, integer, index } from 'drizzle-orm/sqlite-core';

/**
 * Failed staff logins, for throttling. Account and client address are stored as keyed hashes
 * (never the email or IP in clear); rows older than the window are pruned on write.
 */
export const loginFailures = sqliteTable(
  'login_failures',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    accountRef: text('account_ref').notNull(),
    clientRef: text('client_ref').notNull(),
    at: integer('at').notNull(),
  },
  (t) => [index('login_failures_account_idx').on(t.accountRef, t.at), index('login_failures_client_idx').on(t.clientRef, t.at)],
);
