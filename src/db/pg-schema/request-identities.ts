import { bigserial, boolean, index, integer, jsonb, pgTable, text, uniqueIndex } from 'drizzle-orm/pg-core';
import type { IdentityDecision, IdentityState, IdentityWhy } from '../schema/request-identities.js';
import { int } from './types.js';

export const requestIdentities = pgTable(
  'request_identities',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    requestId: text('request_id').notNull(),
    type: text('type').notNull(),
    value: text('value'),
    masked: text('masked').notNull(),
    source: text('source').notNull(),
    collection: text('collection'),
    reason: text('reason'),
    round: integer('round').notNull(),
    searchable: boolean('searchable').notNull(),
    state: text('state').$type<IdentityState>().notNull().default('included'),
    weak: boolean('weak').notNull().default(false),
    depth: integer('depth').notNull().default(0),
    why: jsonb('why').$type<IdentityWhy>(),
    decision: text('decision').$type<IdentityDecision>(),
    decidedBy: text('decided_by'),
    decidedAt: int('decided_at'),
    decisionReason: text('decision_reason'),
  },
  (t) => [uniqueIndex('request_identities_value_idx').on(t.requestId, t.type, t.value), index('request_identities_req_idx').on(t.requestId, t.id)],
);
