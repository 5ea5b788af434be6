/**
 * Erasure preview: the identity expansion and an erase with `dryRun: true` on every connector,
 * in memory. Nothing is written, in the silos or here.
 */
import type { CollectionMatch, Connector, ConnectorContext } from '../../connectors/types.js';
import { ConnectorError, isPending } from '../../connectors/types.js';
import type { Deps } from '../deps.js';
import { maskIdentity, normalizeIdentity, TYPE_PATTERN, type Identity } from '../identity.js';
import { MAX_IDENTITIES, MAX_ROUNDS } from './plan.js';
import { validateAccess, validateErasure } from './results.js';

interface Known extends Identity {
  source: string;
  reason: string;
  round: number;
}

export interface PreviewConnector {
  connector: string;
  collections: {
    name: string;
    found: number;
    deleted: number;
    masked: number;
    retained: number;
    retainedBecause?: string;
    retainedFields?: string[];
    /** How the connector searched this collection (from its access pass). */
    matchedBy?: CollectionMatch[];
  }[];
  error: { code: string; message: string } | null;
}

async function call<T>(deps: Deps, c: Connector, fn: (ctx: ConnectorContext) => Promise<T>): Promise<T> {
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(new ConnectorError('TIMEOUT', `no answer within ${deps.config.taskTimeoutMs} ms`, true)), deps.config.taskTimeoutMs);
  try {
    return await fn({ signal: ac.signal, requestId: 'preview', dryRun: true, log: deps.logger.child({ connector: c.id, preview: true }) });
  } finally {
    clearTimeout(timer);
  }
}

export async function previewErasure(deps: Deps, given: Identity[]) {
  const known: Known[] = given.map((i) => ({ ...i, source: 'request', reason: 'given with the request', round: 0 }));
  const key = (i: Identity) => `${i.type}\u0000${i.value}`;
  const keys = new Set(known.map(key));
  const found = new Map<string, Map<string, { found: number; matchedBy?: CollectionMatch[] }>>();
  const errors = new Map<string, { code: string; message: string }>();
  const seenCount = new Map<string, number>();
  for (let round = 1; round <= MAX_ROUNDS; round++) {
    const todo = deps.connectors.filter((c) => {
      if (!c.capabilities.access) return false;
      const usable = known.filter((i) => c.lookupBy.includes(i.type)).length;
      return usable > (seenCount.get(c.id) ?? 0);
    });
    if (todo.length === 0) break;
    await Promise.all(
      todo.map(async (c) => {
        const who = known.filter((i) => c.lookupBy.includes(i.type)).map(({ type, value }) => ({ type, value }));
        seenCount.set(c.id, who.length);
        try {
          const r = validateAccess(await call(deps, c, (ctx) => c.access(who, ctx)));
          found.set(c.id, new Map(r.collections.map((col) => [col.name, { found: col.records.length, ...(col.matchedBy ? { matchedBy: col.matchedBy } : {}) }])));
          for (const d of r.discovered) {
            if (known.length >= MAX_IDENTITIES) break;
            const type = String(d.type ?? '').trim().toLowerCase();
            try {
              const id = normalizeIdentity({ type, value: String(d.value) }, { defaultRegion: deps.config.phoneRegion, extraTypes: TYPE_PATTERN.test(type) ? [type] : [] });
              if (keys.has(key(id))) continue;
              keys.add(key(id));
              known.push({ ...id, source: c.id, reason: (d.reason ?? `discovered by ${c.id}`).slice(0, 500), round });
            } catch {
              // not followed
            }
          }
        } catch (err) {
          errors.set(c.id, { code: err instanceof ConnectorError ? err.code : 'CONNECTOR_ERROR', message: (err as Error).message.slice(0, 500) });
        }
      }),
    );
  }
  const connectors: PreviewConnector[] = [];
  await Promise.all(
    deps.connectors.map(async (c) => {
      const who = known.filter((i) => c.lookupBy.includes(i.type)).map(({ type, value }) => ({ type, value }));
      const out: PreviewConnector = { connector: c.id, collections: [], error: errors.get(c.id) ?? null };
      connectors.push(out);
      const counts = found.get(c.id) ?? new Map<string, { found: number; matchedBy?: CollectionMatch[] }>();
      if (!c.capabilities.erasure || who.length === 0 || out.error) {
        out.collections = [...counts].map(([name, n]) => ({ name, ...n, deleted: 0, masked: 0, retained: 0 }));
        return;
      }
      try {
        const r = validateErasure(await call(deps, c, (ctx) => c.erase(who, ctx)));
        if (isPending(r)) return;
        out.collections = r.collections.map((col) => ({ ...col, found: 0, ...counts.get(col.name) }));
      } catch (err) {
        out.error = { code: err instanceof ConnectorError ? err.code : 'CONNECTOR_ERROR', message: (err as Error).message.slice(0, 500) };
      }
    }),
  );
  connectors.sort((a, b) => a.connector.localeCompare(b.connector));
  const searchable = new Set(deps.connectors.flatMap((c) => c.lookupBy));
  return {
    connectors,
    identities: known.map((i) => ({ type: i.type, value: maskIdentity(i), source: i.source, reason: i.reason, round: i.round, searchable: searchable.has(i.type) })),
  };
}
