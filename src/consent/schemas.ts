/** Request and response schemas of the consent registry (they validate and document the API). */
import { z } from '../http/openapi.js';
import { DECISIONS, SOURCE_CHANNELS } from '../db/schema/consents.js';
import { LEGAL_BASES, PURPOSE_CHANNELS } from '../db/schema/purposes.js';

export const Localized = z
  .object({ fr: z.string().trim().min(1).max(20_000), en: z.string().trim().min(1).max(20_000) })
  .strict()
  .openapi('LocalizedText');

const Slug = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, 'a slug: lower-case letters, digits, "-" or "_", at most 64 characters')
  .openapi({ example: 'newsletter' });

export const PurposeCreate = z
  .object({
    id: Slug,
    title: Localized,
    text: Localized,
    legalBasis: z.enum(LEGAL_BASES).openapi({ description: 'GDPR Art. 6(1)(a)–(f) as a W3C DPV term' }),
    channels: z.array(z.enum(PURPOSE_CHANNELS)).max(PURPOSE_CHANNELS.length),
    validityDays: z.number().int().min(1).max(36_500).nullable().optional().openapi({
      description: 'After this many days a grant counts as expired; omitted or null: never',
    }),
    gpcApplies: z.boolean().default(false).openapi({
      description: 'Whether the Global Privacy Control signal applies (sale/sharing/targeted advertising)',
    }),
  })
  .strict()
  .openapi('PurposeInput');

export const PurposePatch = PurposeCreate.omit({ id: true })
  .partial()
  .extend({ gpcApplies: z.boolean().optional() })
  .strict()
  .refine((v) => Object.keys(v).length > 0, 'at least one field')
  .openapi('PurposePatch');

const PurposeVersion = z
  .object({ version: z.number().int(), title: Localized, text: Localized, textSha256: z.string(), createdAt: z.string() })
  .openapi('PurposeVersion');

export const Purpose = z
  .object({
    id: z.string(),
    title: Localized,
    text: Localized,
    legalBasis: z.enum(LEGAL_BASES),
    channels: z.array(z.enum(PURPOSE_CHANNELS)),
    validityDays: z.number().int().nullable(),
    gpcApplies: z.boolean(),
    version: z.number().int(),
    textSha256: z.string().openapi({ description: 'SHA-256 (hex) of the RFC 8785 JSON of the current text' }),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .openapi('Purpose');

export const PurposeWithVersions = Purpose.extend({ versions: z.array(PurposeVersion) }).openapi('PurposeWithVersions');

const short = (max: number) => z.string().trim().min(1).max(max);

export const ConsentInput = z
  .object({
    subject: z.union([
      z.object({ type: short(40), value: short(320) }).strict(),
      z.object({ id: z.string().regex(/^sub_[0-9a-z]{1,40}$/, 'a subject id (sub_…)') }).strict(),
    ]),
    purpose: short(64),
    decision: z.enum(DECISIONS),
    source: z
      .object({ channel: z.enum(SOURCE_CHANNELS), collectedBy: short(200).optional(), location: short(200).optional() })
      .strict(),
    method: short(100).optional().openapi({ description: 'How it was collected (checkbox, banner, signature, …)' }),
    evidence: z
      .object({ purposeVersion: z.number().int().min(1).optional(), uiElement: short(200).optional() })
      .catchall(z.unknown())
      .optional(),
    occurredAt: z.iso.datetime({ offset: true }).optional().openapi({ description: 'Defaults to now; at most 5 minutes ahead' }),
    gpc: z.boolean().optional().openapi({ description: 'Global Privacy Control signal forwarded by the caller' }),
  })
  .strict()
  .openapi('ConsentEventInput');

export const Recorded = z
  .object({
    id: z.string().openapi({ example: 'evt_01j9z3x8k2m4n6p8r0s2t4v6w8' }),
    subjectId: z.string(),
    purpose: z.string(),
    decision: z.enum(DECISIONS),
    occurredAt: z.string(),
    gpcApplied: z.boolean(),
    stateChanged: z.boolean(),
  })
  .openapi('RecordedConsent');

export const ConsentStates = z
  .object({
    subjectId: z.string().nullable().openapi({ description: 'null when nobody holds this identifier (every purpose is unknown)' }),
    consents: z.array(
      z.object({
        purpose: z.string(),
        state: z.enum(['granted', 'refused', 'withdrawn', 'expired', 'unknown']),
        since: z.string().nullable(),
        channel: z.enum(SOURCE_CHANNELS).nullable(),
      }),
    ),
  })
  .openapi('ConsentStates');

export const ConsentEvent = z
  .object({
    id: z.string(),
    purpose: z.string(),
    decision: z.enum(DECISIONS),
    occurredAt: z.string(),
    recordedAt: z.string(),
    source: z.object({ channel: z.enum(SOURCE_CHANNELS), collectedBy: z.string().optional(), location: z.string().optional() }),
    method: z.string().nullable(),
    purposeVersion: z.number().int(),
    evidence: z.record(z.string(), z.unknown()).nullable(),
    gpcApplied: z.boolean(),
    auditIndex: z.number().int(),
  })
  .openapi('ConsentEvent');

export const IdentifierParam = z.object({
  identifier: z
    .string()
    .min(3)
    .max(400)
    .openapi({ description: '`type:value`, URL-encoded; the colon raw or %3A', example: 'email:alice%40example.com' }),
});
