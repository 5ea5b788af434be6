import { index, pgTable, primaryKey, text } from 'drizzle-orm/pg-core';
import { bytea, int } from './types.js';

export const subjects = pgTable('subjects', {
  id: text('id').primaryKey(),
  createdAt: int('created_at').notNull(),
  erasedAt: int('erased_at'),
});

export const subjectIdentifiers = pgTable(
  'subject_identifiers',
  {
    type: text('type').notNull(),
    value: text('value').notNull(),
    subjectId: text('subject_id')
      .notNull()
      .references(() => subjects.id),
    createdAt: int('created_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.type, t.value] }), index('subject_identifiers_subject_idx').on(t.subjectId)],
);

export const subjectKeys = pgTable('subject_keys', {
  subjectId: text('subject_id')
    .primaryKey()
    .references(() => subjects.id),
  key: bytea('key').notNull(),
});
