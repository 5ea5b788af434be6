/**
 * Connector results are untrusted input: a malformed one fails the task at once (not
 * retryable) and nothing of it is recorded as done.
 */
import { z } from 'zod';
import type { AccessResult, ErasureResult, Pending } from '../../connectors/types.js';
import { ConnectorError } from '../../connectors/types.js';

const Count = z.number().int().min(0);
const IdentityRef = z.object({ type: z.string().max(40), value: z.string().max(320) });

/** How a collection was searched (names and rules only): kept with the task, shown to the DPO. */
const MatchedBy = z
  .array(
    z.object({
      identity: z.string().max(40).optional(),
      via: z.string().max(200).optional(),
      column: z.string().min(1).max(200),
      normalization: z.string().min(1).max(40),
      format: z.string().max(40).optional(),
      records: Count,
    }),
  )
  .max(100);

const AccessSchema = z.object({
  collections: z.array(
    z.object({
      name: z.string().min(1).max(200),
      portable: z.boolean(),
      // Checked by hand below: parsing would copy every record (100,000 of them, twice the memory).
      records: z.array(z.unknown()),
      matchedBy: MatchedBy.optional(),
      origins: z.array(z.unknown()).optional(),
    }),
  ),
  discovered: z.array(
    z.object({
      type: z.string(),
      value: z.string(),
      reason: z.string().max(500).optional(),
      collection: z.string().max(200).optional(),
      matchedBy: z.array(IdentityRef).max(500).optional(),
      weak: z.boolean().optional(),
    }),
  ),
});

const ErasureSchema = z.union([
  z.object({
    collections: z.array(
      z.object({
        name: z.string().min(1).max(200),
        deleted: Count,
        masked: Count,
        retained: Count,
        retainedBecause: z.string().max(500).optional(),
        retainedFields: z.array(z.string().max(200)).optional(),
      }),
    ),
  }),
  PendingSchema(),
]);

function PendingSchema() {
  return z.object({
    pending: z.literal(true),
    ref: z.string().min(1).max(500),
    answerBy: z.number().int().min(0).optional(),
    remindEveryMs: z.number().int().min(1000).optional(),
  });
}

function malformed(what: string, error: z.ZodError): ConnectorError {
  const where = error.issues.slice(0, 3).map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
  return new ConnectorError('MALFORMED_RESULT', `connector returned a malformed ${what} result — ${where}`, false);
}

export function validateAccess(value: unknown): AccessResult {
  const v = value as AccessResult;
  const envelope = AccessSchema.safeParse(
    v && typeof v === 'object' && Array.isArray(v.collections)
      ? { ...v, collections: v.collections.map((c) => (c && typeof c === 'object' ? { ...c, records: [], origins: undefined } : c)) }
      : v,
  );
  if (!envelope.success) throw malformed('access', envelope.error);
  const bad = (where: string, what: string) => new ConnectorError('MALFORMED_RESULT', `connector returned a malformed access result — ${where}: ${what}`, false);
  v.collections.forEach((c, i) => {
    if (!Array.isArray(c.records)) throw bad(`collections.${i}.records`, 'expected array');
    for (let j = 0; j < c.records.length; j++) {
      const r = c.records[j];
      if (typeof r !== 'object' || r === null || Array.isArray(r)) throw bad(`collections.${i}.records.${j}`, 'expected an object');
    }
    if (c.origins === undefined) return;
    if (!Array.isArray(c.origins) || c.origins.length !== c.records.length) throw bad(`collections.${i}.origins`, 'expected one entry per record');
    // Records of one parent usually share one origins array: check each array once.
    const checked = new Set<unknown>();
    for (let j = 0; j < c.origins.length; j++) {
      const o = c.origins[j] as unknown;
      if (checked.has(o)) continue;
      if (!Array.isArray(o) || o.length > 500 || !o.every((x) => IdentityRef.safeParse(x).success)) throw bad(`collections.${i}.origins.${j}`, 'expected a list of identities');
      checked.add(o);
    }
  });
  return {
    collections: v.collections.map((c, i) => {
      const matchedBy = envelope.data.collections[i]!.matchedBy;
      return { name: c.name, portable: c.portable, records: c.records, ...(matchedBy ? { matchedBy } : {}), ...(c.origins ? { origins: c.origins } : {}) };
    }),
    discovered: envelope.data.discovered,
  };
}

/** A connector's Pending (from erase, or from an access given a callback). */
export function validatePending(value: unknown): Pending {
  const r = PendingSchema().safeParse(value);
  if (!r.success) throw malformed('pending', r.error);
  return r.data as Pending;
}

export function validateErasure(value: unknown): ErasureResult | Pending {
  const r = ErasureSchema.safeParse(value);
  if (!r.success) throw malformed('erasure', r.error);
  return r.data as ErasureResult | Pending;
}
