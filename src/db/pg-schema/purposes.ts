import { boolean, integer, jsonb, pgTable, primaryKey, text } from 'drizzle-orm/pg-core';
import { LEGAL_BASES, type Localized, type PurposeChannel } from '../schema/purposes.js';
import { int } from './types.js';

export const purposes = pgTable('purposes', {
  id: text('id').primaryKey(),
  title: jsonb('title').$type<Localized>().notNull(),
  text: jsonb('text').$type<Localized>().notNull(),
  legalBasis: text('legal_basis', { enum: LEGAL_BASES }).notNull(),
  channels: jsonb('channels').$type<PurposeChannel[]>().notNull(),
  validityDays: integer('validity_days'),
  gpcApplies: boolean('gpc_applies').notNull(),
  version: integer('version').notNull(),
  createdAt: int('created_at').notNull(),
  updatedAt: int('updated_at').notNull(),
});

export const purposeVersions = pgTable(
  'purpose_versions',
  {
    purposeId: text('purpose_id').notNull(),
    version: integer('version').notNull(),
    title: jsonb('title').$type<Localized>().notNull(),
    text: jsonb('text').$type<Localized>().notNull(),
    textSha256: text('text_sha256').notNull(),
    createdAt: int('created_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.purposeId, t.version] })],
);
