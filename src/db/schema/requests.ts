import { sqliteTable, text, integer, index } from 'drizzle-orm/sqlite-core';

export const REQUEST_TYPES = ['access', 'portability', 'erasure'] as const;
export type RequestType = (typeof REQUEST_TYPES)[number];

export const REQUEST_STATUSES = [
  'pending_verification',
  'awaiting_approval',
  'running',
  'needs_review',
  'needs_attention',
  'completed',
  'failed',
  'denied',
  'cancelled',
  'expired',
] as const;
export type RequestStatus = (typeof REQUEST_STATUSES)[number];

export const CHANNELS = ['web', 'store', 'call_center', 'app', 'email', 'api'] as const;
export type Channel = (typeof CHANNELS)[number];

/** Where the engine is within a running request. */
export const REQUEST_STAGES = ['access', 'erase', 'verify', 'finalize', 'done'] as const;
export type RequestStage = (typeof REQUEST_STAGES)[number];

/**
 * A data-subject request (GDPR Art. 15, 17, 20). Times are epoch ms. `dueAt` is the last
 * millisecond of the due calendar day in the controller's time zone.
 */
export const requests = sqliteTable(
  'requests',
  {
    id: text('id').primaryKey(),
    type: text('type').$type<RequestType>().notNull(),
    status: text('status').$type<RequestStatus>().notNull(),
    /**
     * Why the request is denied / needs review / needs attention / failed. For a denial it is the
     * text the staff member typed (it may name the person): it stays in this row, never in the
     * audit log, and goes with the request.
     */
    statusReason: text('status_reason'),
    /** Machine-readable reason: `identity_conflict`, or a denial's Art. 12(4) code. */
    statusReasonCode: text('status_reason_code'),
    channel: text('channel').$type<Channel>().notNull(),
    locale: text('locale').$type<'fr' | 'en'>().notNull(),
    verified: integer('verified', { mode: 'boolean' }).notNull(),
    /** Consent-registry subject the request was opened for (audit pseudonym), if any. */
    subjectId: text('subject_id'),
    receivedAt: integer('received_at').notNull(),
    dueAt: integer('due_at').notNull(),
    extendedMonths: integer('extended_months').notNull().default(0),
    extensionReason: text('extension_reason'),
    stage: text('stage').$type<RequestStage>(),
    /** Current identity-expansion round of the access stage (1-based). */
    round: integer('round').notNull().default(0),
    /** Outcome of the erasure's verification pass: {ok, residual: [{connector, collection, records}]}. */
    verification: text('verification', { mode: 'json' }).$type<Verification>(),
    createdBy: text('created_by').notNull(),
    updatedAt: integer('updated_at').notNull(),
    completedAt: integer('completed_at'),
    exportPath: text('export_path'),
    exportExpiresAt: integer('export_expires_at'),
  },
  (t) => [
    index('requests_status_idx').on(t.status, t.id),
    index('requests_due_idx').on(t.dueAt),
    // A person's requests on the portal: those they opened, and those opened for them (src/portal/requests.ts).
    index('requests_created_by_idx').on(t.createdBy, t.id),
    index('requests_subject_idx').on(t.subjectId, t.id),
  ],
);
export type DsrRequest = typeof requests.$inferSelect;

export interface Verification {
  ok: boolean;
  residual: { connector: string; collection: string; records: number }[];
  retained: { connector: string; collection: string; records: number }[];
}
