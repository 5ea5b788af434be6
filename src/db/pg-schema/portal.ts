import { index, integer, pgTable, text } from 'drizzle-orm/pg-core';
import { bytea, int } from './types.js';

export const portalCodes = pgTable(
  'portal_codes',
  {
    id: text('id').primaryKey(),
    emailRef: text('email_ref').notNull(),
    email: bytea('email').notNull(),
    codeMac: text('code_mac').notNull(),
    attempts: integer('attempts').notNull(),
    sentAt: int('sent_at').notNull(),
    expiresAt: int('expires_at').notNull(),
  },
  (t) => [index('portal_codes_expires_idx').on(t.expiresAt)],
);

export const portalSessions = pgTable(
  'portal_sessions',
  {
    id: text('id').primaryKey(),
    emailRef: text('email_ref').notNull(),
    email: bytea('email').notNull(),
    subjectId: text('subject_id'),
    createdAt: int('created_at').notNull(),
    lastSeenAt: int('last_seen_at').notNull(),
    expiresAt: int('expires_at').notNull(),
  },
  (t) => [index('portal_sessions_expires_idx').on(t.expiresAt), index('portal_sessions_email_idx').on(t.emailRef)],
);
