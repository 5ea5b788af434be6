import { sqliteTable, text, integer, primaryKey } from 'drizzle-orm/sqlite-core';

export interface Localized {
  fr: string;
  en: string;
}

export const LEGAL_BASES = [
  'dpv:Consent',
  'dpv:Contract',
  'dpv:LegalObligation',
  'dpv:VitalInterest',
  'dpv:PublicInterest',
  'dpv:LegitimateInterest',
] as const;
export type LegalBasis = (typeof LEGAL_BASES)[number];

export const PURPOSE_CHANNELS = ['email', 'sms', 'phone', 'post', 'push', 'web'] as const;
export type PurposeChannel = (typeof PURPOSE_CHANNELS)[number];

/** The purposes catalogue; `version` is the current text version (see purpose_versions). */
export const purposes = sqliteTable('purposes', {
  id: text('id').primaryKey(),
  title: text('title', { mode: 'json' }).$type<Localized>().notNull(),
  text: text('text', { mode: 'json' }).$type<Localized>().notNull(),
  legalBasis: text('legal_basis', { enum: LEGAL_BASES }).notNull(),
  channels: text('channels', { mode: 'json' }).$type<PurposeChannel[]>().notNull(),
  validityDays: integer('validity_days'),
  gpcApplies: integer('gpc_applies', { mode: 'boolean' }).notNull(),
  version: integer('version').notNull(),
  createdAt: integer('created_at').notNull(),
  updatedAt: integer('updated_at').notNull(),
});
export type Purpose = typeof purposes.$inferSelect;

/**
 * Every text version a purpose ever had, with the SHA-256 of its canonical text: a consent
 * points at the version the person saw, years later. Evidence: never updated or deleted.
 */
export const purposeVersions = sqliteTable(
  'purpose_versions',
  {
    purposeId: text('purpose_id').notNull(),
    version: integer('version').notNull(),
    title: text('title', { mode: 'json' }).$type<Localized>().notNull(),
    text: text('text', { mode: 'json' }).$type<Localized>().notNull(),
    textSha256: text('text_sha256').notNull(),
    createdAt: integer('created_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.purposeId, t.version] })],
);
export type PurposeVersion = typeof purposeVersions.$inferSelect;
