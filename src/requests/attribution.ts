/**
 * A connector's access result, as evidence the engine can judge (see ./review.ts): discovered
 * identities normalized, each with the ids (in this request) of the call's identities that led
 * to it, and each record's origins as ids. Pure: the worker and the preview share it.
 */
import type { CountryCode } from 'libphonenumber-js';
import type { AccessResult, Identity } from '../../connectors/types.js';
import { normalizeIdentity, TYPE_PATTERN } from '../identity.js';

/** An identity of the call, with its id in the request. */
export interface CallIdentity extends Identity {
  id: number;
}

export interface Discovery {
  identity: Identity;
  reason: string;
  collection?: string;
  weak: boolean;
  /** Ids of the call's identities that led to it; null when the connector did not say. */
  by: number[] | null;
}

export interface AttributedAccess {
  discoveries: Discovery[];
  /** Per collection (in result order), per record: the ids that led to it, or null (unknown). */
  origins: (number[] | null)[][];
}

const key = (i: Identity) => `${i.type}\u0000${i.value}`;

/** Normalizes a discovered identity, or null when it is no usable identifier (not followed). */
export function normalizeDiscovered(d: Identity, defaultRegion: CountryCode): Identity | null {
  const type = String(d.type ?? '').trim().toLowerCase();
  try {
    return normalizeIdentity({ type, value: String(d.value) }, { defaultRegion, extraTypes: TYPE_PATTERN.test(type) ? [type] : [] });
  } catch {
    return null;
  }
}

export function attributeAccess(result: AccessResult, who: readonly CallIdentity[], opts: { connectorId: string; defaultRegion: CountryCode }): AttributedAccess {
  const ids = new Map(who.map((w) => [key(w), w.id]));
  /** Maps a reported list of identities to ids; null when empty or naming one the call did not have. */
  const toIds = (list: readonly Identity[] | undefined): number[] | null => {
    if (!list || list.length === 0) return null;
    const out = new Set<number>();
    for (const i of list) {
      const id = ids.get(key(i));
      if (id === undefined) return null;
      out.add(id);
    }
    return [...out];
  };
  // Records of one parent share their origins array: map each array once.
  const mapped = new Map<readonly Identity[], number[] | null>();
  const origins = result.collections.map((c) =>
    c.records.map((_, j) => {
      const o = c.origins?.[j];
      if (!o) return null;
      let m = mapped.get(o);
      if (m === undefined) mapped.set(o, (m = toIds(o)));
      return m;
    }),
  );
  const byKey = new Map<string, Discovery>();
  for (const d of result.discovered) {
    const identity = normalizeDiscovered(d, opts.defaultRegion);
    if (!identity) continue;
    const by = toIds(d.matchedBy);
    const prev = byKey.get(key(identity));
    if (!prev) {
      byKey.set(key(identity), {
        identity,
        reason: (d.reason ?? `discovered by ${opts.connectorId}`).slice(0, 500),
        ...(d.collection ? { collection: d.collection.slice(0, 200) } : {}),
        weak: d.weak === true,
        by,
      });
      continue;
    }
    // Reported twice (written differently): led to by both, strong if either is.
    prev.weak = prev.weak && d.weak === true;
    prev.by = prev.by && by ? [...new Set([...prev.by, ...by])] : null;
  }
  return { discoveries: [...byKey.values()], origins };
}
