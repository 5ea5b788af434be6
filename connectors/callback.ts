/**
 * The answer of a silo that answers later (connectors with `capabilities.callback`): the body
 * of `POST /v1/callbacks/{token}` — and, for the webhook connector, of a synchronous 2xx
 * answer too, so an internal system answers the same way now or later.
 *
 *   { "status": "completed", "counts": { "collections": [{ "name": "contacts", "deleted": 1 }] } }
 *   { "status": "completed", "deleted": 3 }                                   (totals only)
 *   { "status": "completed", "collections": [{ "name": "contacts", "portable": true,
 *       "records": [{ … }] }], "discovered": [{ "type": "customer_id", "value": "C-1001" }] }   (access)
 *   { "status": "failed", "message": "account under legal hold" }
 *
 * Unknown fields are ignored. What a silo writes here reaches oubli's audit log only as
 * collection names, counts and a retention basis, so those are held to a narrow form: names
 * are identifiers, a basis is short text with no address or long number in it (a legal basis
 * states a law, never data) — the append-only log must never hold personal data. Free text
 * (`message`, the `reason` of a discovered identity) never reaches the log: the message is
 * kept with the task for the DPO, cleaned of control characters and capped.
 *
 * Pure: parsing, and mapping to the Connector contract's results, which the engine then
 * validates as any connector's (src/requests/results.ts).
 */
import { z } from 'zod';
import type { ErasureCollectionResult, ErasureResult } from './types.js';

/** Longest `message` accepted; what is kept of it is shorter (MESSAGE_KEPT). */
export const MAX_MESSAGE = 4000;
export const MESSAGE_KEPT = 500;

const Count = z.number().int().min(0).max(1e12);
/** Collection names reach the audit log: identifiers, not text. */
export const COLLECTION_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.:-]{0,99}$/;
const CollectionName = z.string().regex(COLLECTION_NAME, 'a collection name is 1–100 characters of letters, digits and _ . : -');
// A legal basis, kept in the audit log: no control, bidi, zero-width or separator characters
// (text that displays as other text), no address, no long number.
const Basis = z
  .string()
  .min(3)
  .max(300)
  .refine((s) => !/[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]/.test(s), 'holds a control, bidi or invisible character')
  .refine((s) => !/@|\d{6,}/.test(s), 'states a legal basis, not data (no address, no long number)');

const ErasedCollection = z
  .object({
    name: CollectionName,
    deleted: Count.default(0),
    masked: Count.default(0),
    retained: Count.default(0),
    retainedBecause: Basis.optional(),
    retainedFields: z.array(z.string().regex(COLLECTION_NAME, 'a field name is an identifier')).max(200).optional(),
  })
  .refine((c) => c.retained === 0 || c.retainedBecause !== undefined, { message: 'retained records need retainedBecause (the legal basis)', path: ['retainedBecause'] });

const Totals = {
  deleted: Count.optional(),
  masked: Count.optional(),
  retained: Count.optional(),
};

export const CallbackAnswerSchema = z.object({
  status: z.enum(['completed', 'failed']),
  /** For the DPO (kept with the task, never in the audit log). */
  message: z.string().max(MAX_MESSAGE).optional(),
  /** Erasure: per collection, or totals. */
  counts: z.object({ collections: z.array(ErasedCollection).max(1000).optional(), ...Totals }).optional(),
  /** Erasure totals, at the top level (shorthand for `counts`). */
  ...Totals,
  /** Access: the records, as a connector's AccessResult (checked by the engine). */
  collections: z.array(z.unknown()).max(1000).optional(),
  discovered: z.array(z.unknown()).max(1000).optional(),
});
export type CallbackAnswer = z.output<typeof CallbackAnswerSchema>;

/** An answer that does not fit the phase it answers (an erasure's counts for an access…). */
export class AnswerError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AnswerError';
  }
}

/** A completed erasure's result: per collection, or the totals as one collection `all`. */
export function erasureOfAnswer(a: CallbackAnswer): ErasureResult {
  if (a.collections !== undefined) throw new AnswerError('an erasure answer gives counts, not collections of records');
  if (a.counts?.collections) return { collections: a.counts.collections.map((c) => ({ ...c }) as ErasureCollectionResult) };
  const deleted = a.counts?.deleted ?? a.deleted ?? 0;
  const masked = a.counts?.masked ?? a.masked ?? 0;
  const retained = a.counts?.retained ?? a.retained ?? 0;
  if (retained > 0) throw new AnswerError('retained records need counts.collections with retainedBecause (the legal basis)');
  return { collections: deleted + masked > 0 ? [{ name: 'all', deleted, masked, retained: 0 }] : [] };
}

/**
 * A completed access's result, for the engine's validation: the collections as given (a name
 * must be an identifier), the discovered identities without their free-text `reason`.
 */
export function accessOfAnswer(a: CallbackAnswer): unknown {
  if (a.collections === undefined) throw new AnswerError('an access answer gives collections (each with name, portable and records)');
  if (a.counts !== undefined) throw new AnswerError('an access answer gives collections of records, not counts');
  a.collections.forEach((c, i) => {
    const name = (c as { name?: unknown } | null)?.name;
    if (typeof name !== 'string' || !COLLECTION_NAME.test(name)) throw new AnswerError(`collections.${i}.name: a collection name is 1–100 characters of letters, digits and _ . : -`);
  });
  const discovered = (a.discovered ?? []).map((d) => {
    if (d === null || typeof d !== 'object') return d;
    const { reason: _reason, ...rest } = d as Record<string, unknown>;
    return rest;
  });
  return { collections: a.collections, discovered };
}

/** A silo's text for the DPO: control and bidi-override characters become spaces, capped. */
export function cleanMessage(text: string, max = MESSAGE_KEPT): string {
  const clean = text.replace(/[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u2028-\u202e\u2066-\u2069\ufeff]/g, ' ').replace(/ {2,}/g, ' ').trim();
  return clean.length > max ? `${clean.slice(0, max - 1)}…` : clean;
}
