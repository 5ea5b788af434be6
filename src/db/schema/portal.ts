import { sqliteTable, text, integer, blob, index } from 'drizzle-orm/sqlite-core';

/**
 * The privacy portal's sign-in codes (src/portal/codes.ts). `id` is the SHA-256 of the
 * challenge token held in the person's cookie; `emailRef` a keyed pseudonym of the email (for
 * the per-email limits); the email itself only sealed under the master key (context: the row
 * id), so a copy of the database yields neither addresses nor live codes. `codeMac` is an HMAC
 * of the code: never the code in clear. Rows die when used, or are pruned once expired.
 */
export const portalCodes = sqliteTable(
  'portal_codes',
  {
    id: text('id').primaryKey(),
    emailRef: text('email_ref').notNull(),
    email: blob('email', { mode: 'buffer' }).notNull(),
    codeMac: text('code_mac').notNull(),
    attempts: integer('attempts').notNull(),
    sentAt: integer('sent_at').notNull(),
    expiresAt: integer('expires_at').notNull(),
  },
  (t) => [index('portal_codes_expires_idx').on(t.expiresAt)],
);
export type PortalCode = typeof portalCodes.$inferSelect;

/**
 * Signed-in people of the portal (src/portal/sessions.ts). `id` is the SHA-256 of the cookie
 * token; the session is scoped to `subjectId` (the person that email found, or null while none
 * exists: the first consent creates them) and to the sealed email. An idle session (no request
 * for 30 minutes after `lastSeenAt`) is dead, whatever `expiresAt` says.
 */
export const portalSessions = sqliteTable(
  'portal_sessions',
  {
    id: text('id').primaryKey(),
    emailRef: text('email_ref').notNull(),
    email: blob('email', { mode: 'buffer' }).notNull(),
    subjectId: text('subject_id'),
    createdAt: integer('created_at').notNull(),
    lastSeenAt: integer('last_seen_at').notNull(),
    expiresAt: integer('expires_at').notNull(),
  },
  (t) => [index('portal_sessions_expires_idx').on(t.expiresAt), index('portal_sessions_email_idx').on(t.emailRef)],
);
export type PortalSession = typeof portalSessions.$inferSelect;
