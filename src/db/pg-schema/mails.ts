import { index, integer, pgTable, text } from 'drizzle-orm/pg-core';
import type { RequestMailKind, RequestMailStatus } from '../schema/mails.js';
import { bytea, int } from './types.js';

export const requestMails = pgTable(
  'request_mails',
  {
    id: text('id').primaryKey(),
    requestId: text('request_id').notNull(),
    kind: text('kind').$type<RequestMailKind>().notNull(),
    lang: text('lang').$type<'fr' | 'en'>().notNull(),
    recipient: bytea('recipient'),
    status: text('status').$type<RequestMailStatus>().notNull(),
    attempts: integer('attempts').notNull().default(0),
    nextAttemptAt: int('next_attempt_at').notNull(),
    leaseOwner: text('lease_owner'),
    leaseExpiresAt: int('lease_expires_at'),
    lastError: text('last_error'),
    createdAt: int('created_at').notNull(),
    sentAt: int('sent_at'),
  },
  (t) => [index('request_mails_due_idx').on(t.status, t.nextAttemptAt), index('request_mails_request_idx').on(t.requestId)],
);
