/**
 * Finds a person's records in a REST silo, for access and erasure alike (so the erasure's
 * verification, an access, sees whatever the erasure missed).
 *
 * Collections are visited parents first. A collection with `search` is asked once per identity
 * of a searched type; each record returned is kept only when the field `match` names holds the
 * person's identity under the type's normaliser — the silo's search may be fuzzy (a phone's
 * last nine digits, a prefix, accents folded), the verdict is oubli's. A collection with `via`
 * is asked once per record found in its parent collection and inherits that record's origins.
 * Records are told apart by `key` (else by their JSON), so a record found by two identities is
 * one record with two origins.
 */
import type { CountryCode } from 'libphonenumber-js';
import { canonical } from '../matching.js';
import type { CollectionMatch, ConnectorLogger, Identity } from '../types.js';
import { matchFields, type HttpCollection, type MatchField } from './config.js';
import { list, type Runtime } from './exchange.js';
import { selectText } from './paths.js';

export interface Located {
  record: Record<string, unknown>;
  key: string;
  /** The identities of the call that led to it (directly, or through its parents). */
  origins: Identity[];
  /** Keys of the parent records it was found through (`via`). */
  parents: string[];
}

export interface Found {
  records: Located[];
  matchedBy: CollectionMatch[];
}

export interface CollectionPlan {
  name: string;
  c: HttpCollection;
  match: Map<string, MatchField>;
}

export function planCollections(order: string[], collections: Record<string, HttpCollection>): CollectionPlan[] {
  return order.map((name) => ({ name, c: collections[name]!, match: matchFields(collections[name]!) }));
}

function keyOf(c: HttpCollection, record: Record<string, unknown>): string {
  const k = c.key ? selectText(c.key, record)[0] : undefined;
  return k !== undefined ? `k:${k}` : `j:${JSON.stringify(record)}`;
}

function holds(field: MatchField, record: Record<string, unknown>, identity: Identity, region: CountryCode): boolean {
  const want = canonical(field.normalize, identity.value, region);
  if (want === null) return false;
  return selectText(field.path, record).some((v) => canonical(field.normalize, v, region) === want);
}

const sameIdentity = (a: Identity, b: Identity) => a.type === b.type && a.value === b.value;

function add(into: Map<string, Located>, key: string, record: Record<string, unknown>, origins: Identity[], parent?: string): void {
  let l = into.get(key);
  if (!l) {
    l = { record, key, origins: [], parents: [] };
    into.set(key, l);
  }
  for (const o of origins) if (!l.origins.some((x) => sameIdentity(x, o))) l.origins.push(o);
  if (parent !== undefined && !l.parents.includes(parent)) l.parents.push(parent);
}

export async function locate(rt: Runtime, plans: CollectionPlan[], who: Identity[], region: CountryCode, signal: AbortSignal, log: ConnectorLogger): Promise<Map<string, Found>> {
  signal.throwIfAborted();
  const unique = who.filter((w, i) => who.findIndex((x) => sameIdentity(x, w)) === i);
  const found = new Map<string, Found>();
  for (const { name, c, match } of plans) {
    const byKey = new Map<string, Located>();
    const matchedBy: CollectionMatch[] = [];
    for (const [type, lookup] of Object.entries(c.search)) {
      const field = match.get(type);
      const hits = new Set<string>();
      for (const identity of unique.filter((w) => w.type === type)) {
        for (const record of await list(rt, lookup, { identity }, signal, log)) {
          if (field && !holds(field, record, identity, region)) continue;
          const key = keyOf(c, record);
          hits.add(key);
          add(byKey, key, record, [identity]);
        }
      }
      matchedBy.push({ identity: type, column: field ? field.path.source : lookup.url.source, normalization: field ? field.normalize : 'silo', records: hits.size });
    }
    if (c.via) {
      const parentRef = c.via.url.refs.find((r) => r.kind === 'parent');
      const column = parentRef && parentRef.kind === 'parent' ? parentRef.path.source : c.via.url.source;
      const hits = new Set<string>();
      for (const parent of found.get(c.via.collection)?.records ?? []) {
        for (const record of await list(rt, c.via, { parent: parent.record }, signal, log)) {
          const key = keyOf(c, record);
          hits.add(key);
          add(byKey, key, record, parent.origins, parent.key);
        }
      }
      matchedBy.push({ via: `${c.via.collection}.${column}`, column, normalization: 'exact', records: hits.size });
    }
    found.set(name, { records: [...byKey.values()], matchedBy });
  }
  return found;
}
