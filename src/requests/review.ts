/**
 * Whose is this record? The one judgement of identity expansion, shared by the engine and the
 * erasure preview. Pure: identities, the evidence of the access calls, the deployment's
 * person-unique types in; a verdict per identity out. Recomputed from all the evidence at every
 * round and after every decision, so the outcome never depends on the order in which silos
 * answered, and a decision's consequences (what it includes, what it excludes) follow at once.
 *
 * Rules:
 * - Anchors are what proves the person: identities given with the request of a person-unique
 *   type (an email, a customer number), and identities the DPO included. A record an anchor led
 *   to is theirs, and so is everything it holds.
 * - Any other identity is evidence, not proof: a phone given with the request, a customer
 *   number found on the person's account. A record it led to is taken only if it does not
 *   contradict what is known of the person: a value of a person-unique type the person is not
 *   known to have (a second email, another customer number) means the record belongs to
 *   someone else. Two new values of one such type found in the same round contradict each
 *   other.
 * - A contradiction puts under review (`pending`) the contradicting value and the identities
 *   that led to it; whatever was found only through them waits for them. Nothing pending is
 *   searched, erased or exported: exclusion is the default until the DPO decides.
 * - Evidence is judged round by round, against what the earlier rounds established.
 * - A connector that does not say which identity led to which record (no `matchedBy`) is
 *   judged as if every identity of its call had: its findings are trusted only when every one
 *   of them is an anchor, and a contradiction there puts all of them under review.
 */
import type { IdentityDecision, IdentityState, IdentityWhy } from '../db/schema/request-identities.js';

export interface ReviewIdentity {
  id: number;
  type: string;
  /** Given with the request. */
  given: boolean;
  decision: IdentityDecision | null;
  weak: boolean;
}

/** One identity reported by an access call: its id (null: not recorded, over the identity limit). */
export interface EvidenceItem {
  id: number | null;
  type: string;
  /** Ids of the call's identities that led to the record(s) holding it; null when unknown. */
  by: number[] | null;
  collection?: string;
}

/** What one access call found. */
export interface Evidence {
  round: number;
  connector: string;
  /** Ids of the identities the call searched by. */
  searched: number[];
  found: EvidenceItem[];
}

export interface Verdict {
  state: IdentityState;
  why: IdentityWhy;
  /** Links from the identities given with the request (0 for those). */
  depth: number;
}

/** Default person-unique types: one value per person. A phone is not: households share one. */
export const DEFAULT_UNIQUE_TYPES: readonly string[] = ['email', 'customer_id', 'loyalty_card'];

/** Depth of an identity no chain of findings leads to (never searched by). */
const UNREACHED_DEPTH = 1000;

interface Item extends EvidenceItem {
  round: number;
  connector: string;
  leads: number[];
  attributed: boolean;
}

export function reviewIdentities(identities: readonly ReviewIdentity[], evidence: readonly Evidence[], uniqueTypes: ReadonlySet<string>): Map<number, Verdict> {
  const byId = new Map(identities.map((i) => [i.id, i]));
  const decision = (id: number) => byId.get(id)?.decision ?? null;
  const isAnchor = (id: number): boolean => {
    const i = byId.get(id);
    if (!i || i.decision === 'exclude') return false;
    return i.decision === 'include' || (i.given && uniqueTypes.has(i.type));
  };
  const items: Item[] = evidence.flatMap((e) =>
    e.found.map((f) => ({ ...f, round: e.round, connector: e.connector, leads: f.by ?? e.searched, attributed: f.by !== null })),
  );
  const trusted = (it: Item) => (it.attributed ? it.leads.some(isAnchor) : it.leads.length > 0 && it.leads.every(isAnchor));
  const supportedBy = (it: Item, s: Set<number>) => (it.attributed ? it.leads.some((l) => s.has(l)) : it.leads.length > 0 && it.leads.every((l) => s.has(l)));

  /** Under review because of a contradiction (undecided identities only). */
  const blocked = new Map<number, IdentityWhy>();

  /** Identities held for the person, from the evidence of rounds before `beforeRound`. */
  const supported = (beforeRound: number): Set<number> => {
    const s = new Set<number>();
    for (const i of identities) if (i.decision !== 'exclude' && (isAnchor(i.id) || (i.given && !blocked.has(i.id)))) s.add(i.id);
    for (let changed = true; changed; ) {
      changed = false;
      for (const it of items) {
        if (it.round >= beforeRound || it.id === null || s.has(it.id) || decision(it.id) === 'exclude' || blocked.has(it.id)) continue;
        if (supportedBy(it, s)) {
          s.add(it.id);
          changed = true;
        }
      }
    }
    return s;
  };

  for (const round of [...new Set(items.map((i) => i.round))].sort((a, b) => a - b)) {
    const held = supported(round);
    // Findings of this round that something still held for the person led to.
    const live = items.filter((it) => it.round === round && supportedBy(it, held));
    const known = new Map<string, Set<number | string>>();
    const note = (m: Map<string, Set<number | string>>, type: string, key: number | string) => {
      let set = m.get(type);
      if (!set) m.set(type, (set = new Set()));
      set.add(key);
    };
    for (const id of held) {
      const i = byId.get(id)!;
      if (uniqueTypes.has(i.type)) note(known, i.type, id);
    }
    live.forEach((it, k) => {
      if (trusted(it) && uniqueTypes.has(it.type) && (it.id === null || decision(it.id) !== 'exclude')) note(known, it.type, it.id ?? `unrecorded:${k}`);
    });
    const untrusted = live.filter((it) => !trusted(it) && uniqueTypes.has(it.type) && !(it.id !== null && known.get(it.type)?.has(it.id)));
    const fresh = new Map<string, Set<number | string>>();
    untrusted.forEach((it, k) => note(fresh, it.type, it.id ?? `unrecorded:${k}`));
    for (const it of untrusted) {
      const contradicts = (known.get(it.type)?.size ?? 0) > 0 || fresh.get(it.type)!.size > 1;
      if (!contradicts) continue;
      const leads = [...new Set(it.leads.filter((l) => held.has(l) && !isAnchor(l)))];
      const where = { conflictingType: it.type, connector: it.connector, ...(it.collection ? { collection: it.collection } : {}), round };
      if (it.id !== null && decision(it.id) === null && !blocked.has(it.id)) blocked.set(it.id, { code: 'identity_conflict', ...where, via: leads });
      for (const l of leads) {
        if (decision(l) !== null) continue;
        const prev = blocked.get(l);
        if (!prev) blocked.set(l, { code: 'leads_to_conflict', ...where, via: it.id !== null ? [it.id] : [] });
        else if (prev.code === 'leads_to_conflict' && it.id !== null && !prev.via?.includes(it.id)) prev.via = [...(prev.via ?? []), it.id];
      }
    }
  }

  const held = supported(Number.POSITIVE_INFINITY);
  // Whatever was found only through an identity under review waits for it.
  const pending = new Map(blocked);
  for (let grew = true; grew; ) {
    grew = false;
    for (const i of identities) {
      if (held.has(i.id) || pending.has(i.id) || i.decision !== null) continue;
      const via = [...new Set(items.filter((it) => it.id === i.id).flatMap((it) => it.leads.filter((l) => pending.has(l))))];
      if (via.length > 0) {
        pending.set(i.id, { code: 'through_pending', via });
        grew = true;
      }
    }
  }

  const depths = depthsOf(identities, items);
  const out = new Map<number, Verdict>();
  for (const i of identities) {
    const depth = depths.get(i.id) ?? (i.given ? 0 : UNREACHED_DEPTH);
    if (i.decision !== null) {
      out.set(i.id, { state: i.decision === 'include' ? 'included' : 'excluded', why: { code: 'decided' }, depth });
    } else if (held.has(i.id)) {
      if (i.given) {
        out.set(i.id, { state: 'included', why: { code: 'given' }, depth });
      } else {
        const first = items.find((it) => it.id === i.id && supportedBy(it, held))!;
        out.set(i.id, {
          state: 'included',
          why: {
            code: i.weak ? 'weak_link' : 'followed',
            connector: first.connector,
            ...(first.collection ? { collection: first.collection } : {}),
            round: first.round,
            via: [...new Set(first.leads.filter((l) => held.has(l)))],
          },
          depth,
        });
      }
    } else if (pending.has(i.id)) {
      out.set(i.id, { state: 'pending', why: pending.get(i.id)!, depth });
    } else {
      const via = [...new Set(items.filter((it) => it.id === i.id).flatMap((it) => it.leads))];
      out.set(i.id, { state: 'excluded', why: { code: 'through_excluded', via }, depth });
    }
  }
  return out;
}

/**
 * Shortest chain of findings from a given identity (states aside). A finding is one link
 * further than what led to it; when the connector did not say which identity of its call
 * that was, the furthest of them (else an endless trail would always look one link long).
 */
function depthsOf(identities: readonly ReviewIdentity[], items: readonly Item[]): Map<number, number> {
  const depth = new Map<number, number>();
  for (const i of identities) if (i.given) depth.set(i.id, 0);
  for (let changed = true, guard = 0; changed && guard <= identities.length; guard++) {
    changed = false;
    for (const it of items) {
      if (it.id === null) continue;
      const leads = it.leads.map((l) => depth.get(l) ?? Number.POSITIVE_INFINITY);
      const from = it.attributed ? Math.min(...leads) : Math.max(...leads);
      if (!Number.isFinite(from)) continue;
      if (from + 1 < (depth.get(it.id) ?? Number.POSITIVE_INFINITY)) {
        depth.set(it.id, from + 1);
        changed = true;
      }
    }
  }
  return depth;
}
