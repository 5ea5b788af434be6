import { sqliteTable, text, integer, primaryKey, index } from 'drizzle-orm/sqlite-core';

export const DECISIONS = ['granted', 'refused', 'withdrawn'] as const;
export type Decision = (typeof DECISIONS)[number];

export const SOURCE_CHANNELS = ['web', 'store', 'call_center', 'app', 'email', 'import', 'api'] as const;
export type SourceChannel = (typeof SOURCE_CHANNELS)[number];

/**
 * The consent ledger: append-only. Rows are only ever inserted, and deleted only when the
 * person is erased. No foreign key to subjects: the erasure deletes them explicitly.
 */
export const consentEvents = sqliteTable(
  'consent_events',
  {
    id: text('id').primaryKey(),
    subjectId: text('subject_id').notNull(),
    purposeId: text('purpose_id').notNull(),
    decision: text('decision', { enum: DECISIONS }).notNull(),
    occurredAt: integer('occurred_at').notNull(),
    recordedAt: integer('recorded_at').notNull(),
    channel: text('channel', { enum: SOURCE_CHANNELS }).notNull(),
    collectedBy: text('collected_by'),
    location: text('location'),
    method: text('method'),
    purposeVersion: integer('purpose_version').notNull(),
    evidence: text('evidence'),
    gpc: integer('gpc').notNull(),
    auditIdx: integer('audit_idx').notNull(),
  },
  (t) => [
    index('consent_events_subject_idx').on(t.subjectId, t.occurredAt),
    index('consent_events_stats_idx').on(t.purposeId, t.occurredAt, t.decision),
  ],
);
export type ConsentEvent = typeof consentEvents.$inferSelect;

/**
 * Current state per (person, purpose): the event with the latest effective time wins. The state's
 * `occurredAt` is that effective time, min(event occurredAt, event recordedAt): an event dated in
 * the future takes effect when recorded (src/consent/ledger.ts). It is the state's `since`, and
 * where a grant's validity is counted from.
 */
export const consentStates = sqliteTable(
  'consent_states',
  {
    subjectId: text('subject_id').notNull(),
    purposeId: text('purpose_id').notNull(),
    decision: text('decision', { enum: DECISIONS }).notNull(),
    occurredAt: integer('occurred_at').notNull(),
    channel: text('channel', { enum: SOURCE_CHANNELS }).notNull(),
    eventId: text('event_id').notNull(),
  },
  (t) => [primaryKey({ columns: [t.subjectId, t.purposeId] }), index('consent_states_purpose_idx').on(t.purposeId, t.decision, t.occurredAt)],
);
export type ConsentState = typeof consentStates.$inferSelect;
