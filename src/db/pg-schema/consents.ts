import { boolean, index, integer, pgTable, primaryKey, text } from 'drizzle-orm/pg-core';
import { DECISIONS, SOURCE_CHANNELS } from '../schema/consents.js';
import { int } from './types.js';

export const consentEvents = pgTable(
  'consent_events',
  {
    id: text('id').primaryKey(),
    subjectId: text('subject_id').notNull(),
    purposeId: text('purpose_id').notNull(),
    decision: text('decision', { enum: DECISIONS }).notNull(),
    occurredAt: int('occurred_at').notNull(),
    recordedAt: int('recorded_at').notNull(),
    channel: text('channel', { enum: SOURCE_CHANNELS }).notNull(),
    collectedBy: text('collected_by'),
    location: text('location'),
    method: text('method'),
    purposeVersion: integer('purpose_version').notNull(),
    evidence: text('evidence'),
    gpc: integer('gpc').notNull(),
    auditIdx: int('audit_idx').notNull(),
  },
  (t) => [
    index('consent_events_subject_idx').on(t.subjectId, t.occurredAt),
    index('consent_events_stats_idx').on(t.purposeId, t.occurredAt, t.decision),
  ],
);

export const consentStates = pgTable(
  'consent_states',
  {
    subjectId: text('subject_id').notNull(),
    purposeId: text('purpose_id').notNull(),
    decision: text('decision', { enum: DECISIONS }).notNull(),
    occurredAt: int('occurred_at').notNull(),
    channel: text('channel', { enum: SOURCE_CHANNELS }).notNull(),
    eventId: text('event_id').notNull(),
  },
  (t) => [primaryKey({ columns: [t.subjectId, t.purposeId] }), index('consent_states_purpose_idx').on(t.purposeId, t.decision, t.occurredAt)],
);
