import { bigserial, index, pgTable, text } from 'drizzle-orm/pg-core';
import { int } from './types.js';

export const loginFailures = pgTable(
  'login_failures',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    accountRef: text('account_ref').notNull(),
    clientRef: text('client_ref').notNull(),
    at: int('at').notNull(),
  },
  (t) => [index('login_failures_account_idx').on(t.accountRef, t.at), index('login_failures_client_idx').on(t.clientRef, t.at)],
);
