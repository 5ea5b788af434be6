/**
 * Erasure preview: the identity expansion — judged exactly as a request's (./review.ts) — and
 * an erase with `dryRun: true` on every connector, in memory. Nothing is written in the silos;
 * here, only the audit entry saying who previewed which identity types (never values): a
 * preview shows where a person is. Where a request would stop for the DPO, the preview stops
 * too and shows the identities under review; what it reports would be erased uses only the
 * identities held for the person.
 */
import type { CollectionMatch, Connector, ConnectorContext } from '../../connectors/types.js';
import { ConnectorError, isPending } from '../../connectors/types.js';
import type { Ctx, Deps } from '../deps.js';
import type { RequestIdentity } from '../db/schema/request-identities.js';
import { maskIdentity, type Identity } from '../identity.js';
import { attributeAccess, type CallIdentity } from './attribution.js';
import { identityViews, includedIds, searchableIds } from './identities.js';
import { MAX_ACCESS_ROUNDS, MAX_IDENTITIES } from './plan.js';
import { validateAccess, validateErasure } from './results.js';
import { reviewIdentities, type Evidence } from './review.js';
import { abortable, timeLimit } from './silo-call.js';

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
  const cancel = timeLimit(ac, deps.config.taskTimeoutMs);
  try {
    return await abortable(fn({ signal: ac.signal, requestId: 'preview', dryRun: true, log: deps.logger.child({ connector: c.id, preview: true }) }), ac.signal);
  } finally {
    cancel();
  }
}

const failure = (err: unknown) => ({ code: err instanceof ConnectorError ? err.code : 'CONNECTOR_ERROR', message: (err as Error).message.slice(0, 500) });

/** What a connector's latest access call found: per collection, the ids that led to each record. */
interface Found {
  searched: number[];
  collections: { name: string; origins: (number[] | null)[]; matchedBy?: CollectionMatch[] }[];
}

export async function previewErasure(ctx: Ctx, given: Identity[]) {
  await ctx.db.tx((t) => ctx.audit.append(t, { type: 'request.previewed', actor: ctx.actor, data: { requestType: 'erasure', identityTypes: given.map((i) => i.type) } }));
  return runPreview(ctx, given);
}

async function runPreview(deps: Deps, given: Identity[]) {
  const searchable = new Set(deps.connectors.flatMap((c) => c.lookupBy));
  let nextId = 1;
  const row = (i: Identity, source: string, extra: Partial<RequestIdentity> = {}): RequestIdentity => ({
    id: nextId++,
    requestId: 'preview',
    type: i.type,
    value: i.value,
    masked: maskIdentity(i),
    source,
    collection: null,
    reason: 'given with the request',
    round: 0,
    searchable: searchable.has(i.type),
    state: 'included',
    weak: false,
    depth: 0,
    why: { code: 'given' },
    decision: null,
    decidedBy: null,
    decidedAt: null,
    decisionReason: null,
    ...extra,
  });
  let identities: RequestIdentity[] = given.map((i) => row(i, 'request'));
  const evidence: Evidence[] = [];
  const searchedBy = new Map<string, Set<number>>();
  const latest = new Map<string, Found>();
  const errors = new Map<string, { code: string; message: string }>();
  const judge = () => {
    const verdicts = reviewIdentities(
      identities.map((i) => ({ id: i.id, type: i.type, given: i.source === 'request', decision: null, weak: i.weak })),
      evidence,
      new Set(deps.uniqueIdentityTypes),
    );
    identities = identities.map((i) => ({ ...i, ...verdicts.get(i.id)! }));
  };

  for (let round = 1; round <= MAX_ACCESS_ROUNDS; round++) {
    judge();
    if (identities.some((i) => i.state === 'pending')) break; // a request would stop here for the DPO
    const todo = deps.connectors
      .filter((c) => c.capabilities.access && !errors.has(c.id))
      .map((c) => ({ c, ids: searchableIds(c, identities) }))
      .filter(({ c, ids }) => ids.some((id) => !searchedBy.get(c.id)?.has(id)));
    if (todo.length === 0) break;
    await Promise.all(
      todo.map(async ({ c, ids }) => {
        const who: CallIdentity[] = identities.filter((i) => ids.includes(i.id)).map((i) => ({ id: i.id, type: i.type, value: i.value! }));
        let seen = searchedBy.get(c.id);
        if (!seen) searchedBy.set(c.id, (seen = new Set()));
        for (const id of ids) seen.add(id);
        try {
          const r = validateAccess(await call(deps, c, (ctx) => c.access(who.map(({ type, value }) => ({ type, value })), ctx)));
          const attributed = attributeAccess(r, who, { connectorId: c.id, defaultRegion: deps.config.phoneRegion });
          latest.set(c.id, {
            searched: ids,
            collections: r.collections.map((col, k) => ({ name: col.name, origins: attributed.origins[k]!, ...(col.matchedBy ? { matchedBy: col.matchedBy } : {}) })),
          });
          const found: Evidence['found'] = [];
          for (const d of attributed.discoveries) {
            let known = identities.find((i) => i.type === d.identity.type && i.value === d.identity.value);
            if (!known && identities.length < MAX_IDENTITIES) {
              known = row(d.identity, c.id, { collection: d.collection ?? null, reason: d.reason, round, state: 'pending', weak: d.weak, why: null });
              identities.push(known);
            }
            found.push({ id: known?.id ?? null, type: d.identity.type, by: d.by, ...(d.collection ? { collection: d.collection } : {}) });
          }
          evidence.push({ round, connector: c.id, searched: ids, found });
        } catch (err) {
          errors.set(c.id, failure(err));
        }
      }),
    );
  }
  judge();

  const included = includedIds(identities);
  const connectors: PreviewConnector[] = [];
  await Promise.all(
    deps.connectors.map(async (c) => {
      const out: PreviewConnector = { connector: c.id, collections: [], error: errors.get(c.id) ?? null };
      connectors.push(out);
      // Records found, counting only those an identity held for the person led to.
      const last = latest.get(c.id);
      const callHeld = last ? last.searched.every((id) => included.has(id)) : false;
      const counts = new Map((last?.collections ?? []).map((col) => [col.name, col.origins.filter((o) => (o ? o.some((id) => included.has(id)) : callHeld)).length]));
      const matchedOf = (name: string) => {
        const m = last?.collections.find((col) => col.name === name)?.matchedBy;
        return m ? { matchedBy: m } : {};
      };
      const seen = searchedBy.get(c.id) ?? new Set<number>();
      const ids = searchableIds(c, identities).filter((id) => !c.capabilities.access || seen.has(id));
      if (!c.capabilities.erasure || ids.length === 0 || out.error) {
        out.collections = [...counts].map(([name, n]) => ({ name, found: n, deleted: 0, masked: 0, retained: 0, ...matchedOf(name) }));
        return;
      }
      const who = identities.filter((i) => ids.includes(i.id)).map((i) => ({ type: i.type, value: i.value! }));
      try {
        const r = validateErasure(await call(deps, c, (ctx) => c.erase(who, ctx)));
        if (isPending(r)) return;
        out.collections = r.collections.map((col) => ({ ...col, found: counts.get(col.name) ?? 0, ...matchedOf(col.name) }));
      } catch (err) {
        out.error = failure(err);
      }
    }),
  );
  connectors.sort((a, b) => a.connector.localeCompare(b.connector));
  const pending = identities.filter((i) => i.state === 'pending').length;
  return {
    connectors,
    identities: identityViews(identities).map(({ decision: _decision, ...view }) => view),
    review: { needed: pending > 0, pending },
  };
}
