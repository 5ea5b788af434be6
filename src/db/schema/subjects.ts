import { sqliteTable, text, integer, blob, primaryKey, index } from 'drizzle-orm/sqlite-core';

/**
 * People known to the consent registry (`sub_…`). A row outlives erasure as a tombstone
 * (`erasedAt` set): its identifiers, key and consents are gone, so nothing points back to it.
 */
export const subjects = sqliteTable('subjects', {
  id: text('id').primaryKey(),
  createdAt: integer('created_at').notNull(),
  erasedAt: integer('erased_at'),
});
export type Subject = typeof subjects.$inferSelect;

/** Normalized identifiers (`email`, `phone`, …) of a person; one identifier belongs to one person. */
export const subjectIdentifiers = sqliteTable(
  'subject_identifiers',
  {
    type: text('type').notNull(),
    value: text('value').notNull(),
    subjectId: text('subject_id')
      .notNull()
      .references(() => subjects.id),
    createdAt: integer('created_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.type, t.value] }), index('subject_identifiers_subject_idx').on(t.subjectId)],
);
export type SubjectIdentifier = typeof subjectIdentifiers.$inferSelect;

/**
 * Each person's own pseudonym key (HMAC-SHA-256) for `subjectRef` in audit entries. Destroyed
 * on erasure, so the audit log stays verifiable and stops pointing at anyone.
 * WITHOUT ROWID (custom migration 0006): one B-tree search per consent write.
 */
export const subjectKeys = sqliteTable('subject_keys', {
  subjectId: text('subject_id')
    .primaryKey()
    .references(() => subjects.id),
  key: blob('key', { mode: 'buffer' }).notNull(),
});
