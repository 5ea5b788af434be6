/**
 * A request's identities as the engine uses them: which ones a connector may be called with,
 * what each call searched by, and the judgement of ./review.ts applied to the stored rows
 * (inside the caller's transaction).
 *
 * Invariants:
 * - a connector is only ever called with included, strong identities (never a weak link, never
 *   one under review or excluded), at most MAX_DEPTH findings away from what the person gave;
 * - an erasure at a silo uses only identities that silo's access pass already searched by, so
 *   every record the erasure reaches was judged first.
 */
import { isDeepStrictEqual } from 'node:util';
import type { Connector } from '../../connectors/types.js';
import type { Ctx } from '../deps.js';
import type { Stores } from '../db/handle.js';
import type { RequestIdentity } from '../db/schema/request-identities.js';
import type { Task } from '../db/schema/tasks.js';
import { reviewIdentities, type Evidence, type Verdict } from './review.js';

/** Identities further than this many findings from what the person gave are recorded, never searched by. */
export const MAX_DEPTH = 5;

export function includedIds(identities: readonly RequestIdentity[]): Set<number> {
  return new Set(identities.filter((i) => i.state === 'included' && i.value !== null).map((i) => i.id));
}

/** Ids this connector may search by: included, strong, within the depth bound, of a type it knows. */
export function searchableIds(c: Connector, identities: readonly RequestIdentity[]): number[] {
  return identities.filter((i) => i.value !== null && i.state === 'included' && !i.weak && i.depth < MAX_DEPTH && c.lookupBy.includes(i.type)).map((i) => i.id);
}

/** Ids a finished task was called with (tasks recorded before this was kept: by their watermark). */
export function searchedOf(task: Task, identities: readonly RequestIdentity[], c: Pick<Connector, 'lookupBy'> | undefined): number[] {
  if (task.result?.searched) return task.result.searched;
  return identities.filter((i) => i.id <= task.identityWatermark && (!c || c.lookupBy.includes(i.type))).map((i) => i.id);
}

/** Every identity the connector's finished access calls searched by. */
export function searchedByAccess(tasks: readonly Task[], c: Connector, identities: readonly RequestIdentity[]): Set<number> {
  const out = new Set<number>();
  for (const t of tasks) if (t.connectorId === c.id && t.phase === 'access' && t.status === 'done') for (const id of searchedOf(t, identities, c)) out.add(id);
  return out;
}

/** Identities an erase (or its verification) at this connector uses. */
export function erasableIds(c: Connector, tasks: readonly Task[], identities: readonly RequestIdentity[]): number[] {
  const usable = searchableIds(c, identities);
  if (!c.capabilities.access) return usable; // nothing to judge: an erasure-only silo shows no records
  const searched = searchedByAccess(tasks, c, identities);
  return usable.filter((id) => searched.has(id));
}

/** The evidence of every finished access call. */
export function evidenceOf(tasks: readonly Task[], identities: readonly RequestIdentity[], connectors: readonly Connector[]): Evidence[] {
  return tasks
    .filter((t) => t.phase === 'access' && t.status === 'done' && t.result?.evidence)
    .map((t) => ({
      round: t.round,
      connector: t.connectorId,
      searched: searchedOf(t, identities, connectors.find((c) => c.id === t.connectorId)),
      found: t.result!.evidence!,
    }));
}

export interface Judged {
  identities: RequestIdentity[];
  verdicts: Map<number, Verdict>;
  pending: RequestIdentity[];
}

/** Judges the request's identities on all the evidence so far and stores each changed verdict (in `t`). */
export async function judgeIdentities(ctx: Ctx, t: Stores, identities: RequestIdentity[], tasks: readonly Task[]): Promise<Judged> {
  const live = identities.filter((i) => i.value !== null);
  const evidence = evidenceOf(tasks, identities, ctx.connectors);
  // A finding is recorded with the evidence of the call that found it. One without any was
  // followed before findings were judged (a request in flight during the upgrade): it keeps
  // the standing it had then.
  const evidenced = new Set(evidence.flatMap((e) => e.found.map((f) => f.id)));
  const verdicts = reviewIdentities(
    live.map((i) => ({ id: i.id, type: i.type, given: i.source === 'request' || !evidenced.has(i.id), decision: i.decision, weak: i.weak })),
    evidence,
    new Set(ctx.uniqueIdentityTypes),
  );
  const updated: RequestIdentity[] = [];
  for (const i of identities) {
    const v = verdicts.get(i.id);
    if (!v) {
      updated.push(i);
      continue;
    }
    // Compared as values: PostgreSQL's jsonb does not keep the keys' order.
    if (v.state !== i.state || v.depth !== i.depth || !isDeepStrictEqual(v.why, i.why)) await t.requests.setVerdict(i.id, v);
    updated.push({ ...i, state: v.state, why: v.why, depth: v.depth });
  }
  return { identities: updated, verdicts, pending: updated.filter((i) => i.state === 'pending' && i.value !== null) };
}

/**
 * The request's identities as the DPO sees them: masked values only; each with its state and
 * why — where it was found, the identities that led there (masked), the person-unique type
 * that contradicts — and the DPO's decision, if any.
 */
export function identityViews(rows: readonly RequestIdentity[]) {
  const ref = (id: number) => {
    const r = rows.find((x) => x.id === id);
    return r ? { id, type: r.type, value: r.masked } : { id, type: 'unknown', value: '' };
  };
  return rows.map((i) => ({
    id: i.id,
    type: i.type,
    value: i.masked,
    source: i.source,
    collection: i.collection,
    reason: i.reason,
    round: i.round,
    searchable: i.searchable,
    state: i.state,
    weak: i.weak,
    why: i.why ? { ...i.why, via: (i.why.via ?? []).map(ref) } : null,
    decision: i.decision
      ? { decision: i.decision, by: i.decidedBy ?? '', at: new Date(i.decidedAt ?? 0).toISOString(), reason: i.decisionReason }
      : null,
  }));
}
