/**
 * GET /v1/consents/changes: the outbox's consent.updated stream, cursor-paged. The cursor is the
 * last seq handed out; the outbox never lets a reader pass a row that commits later (its seq
 * values become visible in order: src/db/stores/outbox.ts), so resuming from a cursor misses
 * nothing, on either store, with any number of instances writing.
 */
import type { Deps } from '../deps.js';
import type { Decision } from '../db/schema/consents.js';
import { ValidationError } from '../errors.js';
import { CONSENT_UPDATED } from './write.js';

const CURSOR_PREFIX = 'oc1.';

export function encodeCursor(seq: number): string {
  return CURSOR_PREFIX + Buffer.from(String(seq)).toString('base64url');
}

export function decodeCursor(cursor: string): number {
  if (cursor.startsWith(CURSOR_PREFIX)) {
    const raw = Buffer.from(cursor.slice(CURSOR_PREFIX.length), 'base64url').toString();
    if (/^\d{1,15}$/.test(raw)) return Number(raw);
  }
  throw new ValidationError('INVALID_CURSOR', 'cursor is not one this API returned');
}

export interface ConsentChange {
  type: typeof CONSENT_UPDATED;
  subject: string;
  purpose: string;
  decision: Decision;
  occurredAt: string;
  recordedAt: string;
  cursor: string;
}

/**
 * The changes after `after` (exclusive), oldest first. `cursor` is where to resume: the last
 * change returned, or `after` itself when nothing new came.
 */
export async function listConsentChanges(
  ctx: Pick<Deps, 'db'>,
  after: string | undefined,
  limit: number,
): Promise<{ changes: ConsentChange[]; cursor: string; hasMore: boolean }> {
  const from = after === undefined ? 0 : decodeCursor(after);
  const rows = await ctx.db.outbox.after(CONSENT_UPDATED, from, limit + 1);
  const hasMore = rows.length > limit;
  if (hasMore) rows.pop();
  const changes = rows.map((r) => ({
    type: CONSENT_UPDATED,
    ...(JSON.parse(r.payload) as { subject: string; purpose: string; decision: Decision; occurredAt: string }),
    recordedAt: new Date(r.createdAt).toISOString(),
    cursor: encodeCursor(r.seq),
  }));
  return { changes, cursor: encodeCursor(rows.at(-1)?.seq ?? from), hasMore };
}
