/**
 * The hot path: "may I email them?" — the current state of every purpose (or of some) for the
 * person holding an identifier. One prepared statement (identifier → subject → states) and the
 * cached catalogue; nothing else. An unknown person gets `subjectId: null` and `unknown`
 * everywhere: nobody agreed to anything.
 */
import type { Deps } from '../deps.js';
import type { Decision, SourceChannel } from '../db/schema/consents.js';
import type { Identity } from '../identity.js';
import { NotFoundError } from '../errors.js';
import type { CachedPurpose } from './catalog.js';

export type ConsentStateName = Decision | 'expired' | 'unknown';

export interface ConsentStateView {
  purpose: string;
  state: ConsentStateName;
  since: string | null;
  channel: SourceChannel | null;
}

const iso = (ms: number) => new Date(ms).toISOString();

export async function readConsents(
  ctx: Pick<Deps, 'db' | 'purposes'>,
  identity: Identity,
  now: number,
  only?: string[],
): Promise<{ subjectId: string | null; consents: ConsentStateView[] }> {
  const [catalog, rows] = await Promise.all([ctx.purposes.get(), ctx.db.consents.statesOf(identity)]);
  let list: CachedPurpose[] = catalog.list;
  if (only) {
    list = [];
    for (const id of only) {
      const p = catalog.byId.get(id) ?? (await ctx.purposes.find(id));
      if (!p) throw new NotFoundError('PURPOSE_NOT_FOUND', `no purpose "${id.slice(0, 64)}"`);
      list.push(p);
    }
  }
  const consents = new Array<ConsentStateView>(list.length);
  for (let i = 0; i < list.length; i++) {
    const p = list[i]!;
    const row = rows.find((r) => r.purposeId === p.id);
    if (!row) {
      consents[i] = { purpose: p.id, state: 'unknown', since: null, channel: null };
      continue;
    }
    const at = row.occurredAt!;
    if (row.decision === 'granted' && p.validityMs > 0 && now - at > p.validityMs) {
      consents[i] = { purpose: p.id, state: 'expired', since: iso(at + p.validityMs), channel: row.channel };
    } else {
      consents[i] = { purpose: p.id, state: row.decision!, since: iso(at), channel: row.channel };
    }
  }
  return { subjectId: rows[0]?.subjectId ?? null, consents };
}
