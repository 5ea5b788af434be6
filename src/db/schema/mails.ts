import { sqliteTable, text, integer, blob, index } from 'drizzle-orm/sqlite-core';

/** What a person is told of their request by e-mail (src/mail/request-mails.ts says when). */
export const REQUEST_MAIL_KINDS = ['received', 'extended', 'completed', 'denied'] as const;
export type RequestMailKind = (typeof REQUEST_MAIL_KINDS)[number];
export type RequestMailStatus = 'pending' | 'sent' | 'failed';

/**
 * The durable outbox of the e-mails that tell a person about their request: a row is written in
 * the transaction of the change it announces (so a change never commits without its mail), then
 * sent by src/mail/sender.ts, retried until the SMTP server takes it.
 *
 * The row holds no text: the mail is rendered from the request when it is sent, in `lang`.
 * `recipient` is the address, SEALED under the master key (src/secrets/seal.ts) with the row's
 * id, request and kind as context: a copy of the database yields no address, and a DB
 * administrator who points a row at another request (to have someone's denial or archive link
 * mailed to them) breaks its seal. The address is destroyed once the mail is sent or has failed.
 */
export const requestMails = sqliteTable(
  'request_mails',
  {
    id: text('id').primaryKey(),
    requestId: text('request_id').notNull(),
    kind: text('kind').$type<RequestMailKind>().notNull(),
    lang: text('lang').$type<'fr' | 'en'>().notNull(),
    recipient: blob('recipient', { mode: 'buffer' }),
    status: text('status').$type<RequestMailStatus>().notNull(),
    attempts: integer('attempts').notNull().default(0),
    nextAttemptAt: integer('next_attempt_at').notNull(),
    leaseOwner: text('lease_owner'),
    leaseExpiresAt: integer('lease_expires_at'),
    /** Why the last attempt failed: an SMTP code, never an address. */
    lastError: text('last_error'),
    createdAt: integer('created_at').notNull(),
    sentAt: integer('sent_at'),
  },
  (t) => [index('request_mails_due_idx').on(t.status, t.nextAttemptAt), index('request_mails_request_idx').on(t.requestId)],
);
export type RequestMail = typeof requestMails.$inferSelect;
