import { boolean, index, integer, jsonb, pgTable, text } from 'drizzle-orm/pg-core';
import type { Channel, RequestStage, RequestStatus, RequestType, Verification } from '../schema/requests.js';
import { int } from './types.js';

export const requests = pgTable(
  'requests',
  {
    id: text('id').primaryKey(),
    type: text('type').$type<RequestType>().notNull(),
    status: text('status').$type<RequestStatus>().notNull(),
    statusReason: text('status_reason'),
    statusReasonCode: text('status_reason_code'),
    channel: text('channel').$type<Channel>().notNull(),
    locale: text('locale').$type<'fr' | 'en'>().notNull(),
    verified: boolean('verified').notNull(),
    subjectId: text('subject_id'),
    receivedAt: int('received_at').notNull(),
    dueAt: int('due_at').notNull(),
    extendedMonths: integer('extended_months').notNull().default(0),
    extensionReason: text('extension_reason'),
    stage: text('stage').$type<RequestStage>(),
    round: integer('round').notNull().default(0),
    verification: jsonb('verification').$type<Verification>(),
    createdBy: text('created_by').notNull(),
    updatedAt: int('updated_at').notNull(),
    completedAt: int('completed_at'),
    exportPath: text('export_path'),
    exportExpiresAt: int('export_expires_at'),
  },
  (t) => [
    index('requests_status_idx').on(t.status, t.id),
    index('requests_due_idx').on(t.dueAt),
    // A person's requests on the portal: those they opened, and those opened for them (src/portal/requests.ts).
    index('requests_created_by_idx').on(t.createdBy, t.id),
    index('requests_subject_idx').on(t.subjectId, t.id),
  ],
);
