import { sqliteTable, text, integer, index, uniqueIndex } from 'drizzle-orm/sqlite-core';

/**
 * Where an identity stands in its request:
 * - `included`: it is the person's — given with the request, followed from a record that is
 *   theirs, or included by the DPO. Only included identities are searched by, erased by, and
 *   only records they led to are exported.
 * - `pending`: it needs the DPO (an identity conflict, or it was found only through an identity
 *   under review). Treated as excluded until decided.
 * - `excluded`: the DPO excluded it, or it was reached only through excluded identities.
 */
export const IDENTITY_STATES = ['included', 'pending', 'excluded'] as const;
export type IdentityState = (typeof IDENTITY_STATES)[number];
export type IdentityDecision = 'include' | 'exclude';

/**
 * Why an identity is in its state (the engine's explanation: names and ids, never values).
 * `via`: ids (in this request) of the identities that led to it, or — for `leads_to_conflict` —
 * the conflicting identities it led to.
 */
export interface IdentityWhy {
  code:
    | 'given'
    | 'followed'
    | 'weak_link'
    | 'identity_conflict'
    | 'leads_to_conflict'
    | 'through_pending'
    | 'through_excluded'
    | 'decided';
  /** The person-unique type whose values contradict. */
  conflictingType?: string;
  connector?: string;
  collection?: string;
  round?: number;
  via?: number[];
}

/**
 * Identities known for a request: given by the person, or discovered in a silo (with which
 * connector, collection and why). `value` is cleared once an erasure completes, an export is
 * deleted, or a closed request's retention ends; `masked` stays.
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
    state: text('state').$type<IdentityState>().notNull().default('included'),
    /** Found through a weak link (a value the person typed): confirms, is never searched by. */
    weak: integer('weak', { mode: 'boolean' }).notNull().default(false),
    /** Links from what the person gave (0 for given identities): expansion stops at a bound. */
    depth: integer('depth').notNull().default(0),
    why: text('why', { mode: 'json' }).$type<IdentityWhy>(),
    /** The DPO's decision on a pending identity, who made it, when and why (free text, erasable). */
    decision: text('decision').$type<IdentityDecision>(),
    decidedBy: text('decided_by'),
    decidedAt: integer('decided_at'),
    decisionReason: text('decision_reason'),
  },
  (t) => [uniqueIndex('request_identities_value_idx').on(t.requestId, t.type, t.value), index('request_identities_req_idx').on(t.requestId, t.id)],
);
export type RequestIdentity = typeof requestIdentities.$inferSelect;
