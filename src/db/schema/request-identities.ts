import { sqliteTable, text, integer, index, uniqueIndex } from 'drizzle-orm/sqlite-core';

/**
 * Identities known for a request: given by the person, or discovered in a silo (with which
 * connector, collection and why). `value` is cleared once an erasure completes; `masked` stays.
 */
export const requestIdentities = sqliteTable(
  'request_identities',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    requestId: text('request_id').notNull(),
    type: text('type').notNull(),
    value: text('value'),
    masked: text('masked').notNull(),
    /** 'request' when given with the request, else the id of the connector that found it. */
    source: text('source').notNull(),
    collection: text('collection'),
    reason: text('reason'),
    round: integer('round').notNull(),
    /** False when no configured connector can search by this type. */
    searchable: integer('searchable', { mode: 'boolean' }).notNull(),
  },
  (t) => [uniqueIndex('request_identities_value_idx').on(t.requestId, t.type, t.value), index('request_identities_req_idx').on(t.requestId, t.id)],
);
export type RequestIdentity = typeof requestIdentities.$inferSelect;
