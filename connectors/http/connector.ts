/**
 * The declarative REST connector: a Connector built from data (./config.ts) for a SaaS or
 * internal HTTP API — a newsletter platform, a CRM, a ticketing tool.
 *
 * Every call goes through the outbound client (connectors/net): public addresses only unless
 * the declaration allows private networks, checked at connect time; no redirects; a time limit
 * and a size cap per exchange; keep-alive per origin (one pool per connector).
 *
 * access locates the person (./locate.ts) and reports, per collection, the records as the API
 * returned them, how they were searched (`matchedBy`), which identity of the call led to each
 * (`origins`) and the identities they reveal (`discovered`, with `matchedBy`).
 *
 * erase locates the same way, then per collection: `delete` sends one request per record
 * (identical requests once), children before parents; `retain` sends nothing and reports the
 * legal basis; `cascade` counts what the silo deletes with the parent records deleted now. It is
 * idempotent: a second erasure locates nothing, so sends nothing and reports zero; a record
 * already gone (a `notFound` status on its delete) is not counted. A REST API has no
 * transaction: an erasure interrupted half-way is completed by the engine's retry, which
 * locates what is left. A dry run locates and counts, and sends no write.
 */
import type { CountryCode } from 'libphonenumber-js';
import { OutboundClient, type Resolver } from '../net/client.js';
import type { AccessCollection, AccessResult, Connector, ConnectorContext, DiscoveredIdentity, ErasureCollectionResult, ErasureResult, Health, Identity } from '../types.js';
import { ConnectorError } from '../types.js';
import { createAuthenticator } from './auth.js';
import { parseHttpConfig, viaOrder, type HttpConnectorConfig, type ParsedHttpConfig } from './config.js';
import { prepare, send, type Runtime } from './exchange.js';
import { locate, planCollections, type CollectionPlan, type Found, type Located } from './locate.js';
import { selectText } from './paths.js';

export interface HttpConnector extends Connector {
  readonly config: ParsedHttpConfig;
  /** Synchronous silo: never Pending. */
  access(who: Identity[], ctx: ConnectorContext): Promise<AccessResult>;
  erase(who: Identity[], ctx: ConnectorContext): Promise<ErasureResult>;
  close(): Promise<void>;
}

export interface HttpConnectorOptions {
  /** The deployment's phone region (OUBLI_PHONE_REGION), unless the declaration names its own; default FR. */
  phoneRegion?: CountryCode;
  /** Name resolution for the outbound client (tests pass a stub; default the system resolver). */
  resolve?: Resolver;
  /** Clock for OAuth token expiry (tests). */
  now?: () => number;
}

/** Builds the connector; throws a CONNECTOR_CONFIG ConnectorError naming the connector and field. No I/O. */
export function httpConnector(input: HttpConnectorConfig, opts: HttpConnectorOptions = {}): HttpConnector {
  const cfg = parseHttpConfig(input);
  const region = (cfg.phoneRegion ?? opts.phoneRegion ?? 'FR') as CountryCode;
  const order = viaOrder(cfg.collections);
  const plans = planCollections(order, cfg.collections);
  const client = new OutboundClient({
    privateNetworks: cfg.allowPrivateNetwork,
    timeoutMs: cfg.timeoutMs,
    maxResponseBytes: cfg.maxResponseBytes,
    connectionsPerOrigin: 8,
    userAgent: 'oubli (data-subject requests)',
    ...(opts.resolve ? { resolve: opts.resolve } : {}),
  });
  const base = new URL(cfg.baseUrl.endsWith('/') ? cfg.baseUrl : `${cfg.baseUrl}/`);
  const rt: Runtime = { cfg, client, auth: createAuthenticator(cfg.auth, client, cfg.id, opts.now), base };
  const lookupBy = [...new Set(Object.values(cfg.collections).flatMap((c) => Object.keys(c.search)))];
  const names = Object.keys(cfg.collections);

  function discoveredOf(found: Map<string, Found>, who: Identity[]): DiscoveredIdentity[] {
    const known = new Set(who.map((w) => `${w.type}\u0000${w.value}`));
    const byKey = new Map<string, { d: DiscoveredIdentity; by: Identity[] }>();
    for (const { name, c } of plans) {
      for (const [type, spec] of Object.entries(c.discover)) {
        const path = 'segments' in spec ? spec : spec.path;
        const weak = !('segments' in spec) && spec.weak === true;
        const reason = ('segments' in spec ? undefined : spec.reason) ?? `${cfg.id}.${name}.${path.source}`;
        for (const l of found.get(name)?.records ?? []) {
          for (const raw of selectText(path, l.record)) {
            const value = type === 'email' ? raw.trim().toLowerCase() : raw.trim();
            if (!value) continue;
            const k = `${type}\u0000${value}`;
            if (known.has(k)) continue;
            let entry = byKey.get(k);
            if (!entry) {
              entry = { d: { type, value, reason, collection: name, ...(weak ? { weak: true } : {}) }, by: [] };
              byKey.set(k, entry);
            } else if (!weak) delete entry.d.weak; // a strong link anywhere makes it strong
            for (const o of l.origins) if (!entry.by.some((x) => x.type === o.type && x.value === o.value)) entry.by.push(o);
          }
        }
      }
    }
    return [...byKey.values()].map(({ d, by }) => ({ ...d, matchedBy: by }));
  }

  /** Sends the delete requests of one collection; returns the keys of the records deleted. */
  async function deleteRecords(plan: CollectionPlan, records: Located[], ctx: ConnectorContext): Promise<Set<string>> {
    const policy = plan.c.erase;
    if (policy.action !== 'delete') return new Set();
    // Records needing the very same request (a contact found twice) share one call.
    const calls = new Map<string, { req: ReturnType<typeof prepare>; keys: string[] }>();
    for (const l of records) {
      const req = prepare(rt, policy.request, { record: l.record });
      const id = `${req.method} ${req.url.href} ${req.body ?? ''}`;
      const call = calls.get(id);
      if (call) call.keys.push(l.key);
      else calls.set(id, { req, keys: [l.key] });
    }
    const deleted = new Set<string>();
    if (ctx.dryRun) {
      for (const l of records) deleted.add(l.key);
      return deleted;
    }
    for (const { req, keys } of calls.values()) {
      const out = await send(rt, req, policy.notFound ?? cfg.statuses.notFound, ctx.signal, ctx.log);
      if (out.kind === 'ok') for (const k of keys) deleted.add(k);
    }
    return deleted;
  }

  const connector: HttpConnector = {
    id: cfg.id,
    title: cfg.title,
    lookupBy,
    capabilities: { access: true, erasure: true },
    config: cfg,

    async access(who: Identity[], ctx: ConnectorContext): Promise<AccessResult> {
      const found = await locate(rt, plans, who, region, ctx.signal, ctx.log);
      const collections: AccessCollection[] = names.map((name) => {
        const f = found.get(name)!;
        return {
          name,
          portable: cfg.collections[name]!.portable,
          records: f.records.map((l) => l.record),
          matchedBy: f.matchedBy,
          origins: f.records.map((l) => l.origins),
        };
      });
      const discovered = discoveredOf(found, who);
      ctx.log.debug({ connector: cfg.id, collections: collections.map((c) => [c.name, c.records.length]), discovered: discovered.length }, 'http access');
      return { collections, discovered };
    },

    async erase(who: Identity[], ctx: ConnectorContext): Promise<ErasureResult> {
      const found = await locate(rt, plans, who, region, ctx.signal, ctx.log);
      const deleted = new Map<string, Set<string>>();
      const results = new Map<string, ErasureCollectionResult>();
      // Children first: a child's own delete request may need its parent to still exist.
      for (const plan of [...plans].reverse()) {
        const records = found.get(plan.name)!.records;
        const e = plan.c.erase;
        if (e.action === 'cascade') continue;
        if (e.action === 'retain') {
          results.set(plan.name, { name: plan.name, deleted: 0, masked: 0, retained: records.length, ...(records.length ? { retainedBecause: e.basis } : {}), ...(e.keep ? { retainedFields: [...e.keep] } : {}) });
          continue;
        }
        const gone = await deleteRecords(plan, records, ctx);
        deleted.set(plan.name, gone);
        results.set(plan.name, { name: plan.name, deleted: gone.size, masked: 0, retained: 0 });
      }
      // Then what the silo deletes itself with the parents deleted above (parents first).
      for (const plan of plans) {
        if (plan.c.erase.action !== 'cascade') continue;
        const parents = deleted.get(plan.c.via!.collection) ?? new Set<string>();
        const gone = new Set(found.get(plan.name)!.records.filter((l) => l.parents.some((p) => parents.has(p))).map((l) => l.key));
        deleted.set(plan.name, gone);
        results.set(plan.name, { name: plan.name, deleted: gone.size, masked: 0, retained: 0 });
      }
      const collections = names.map((n) => results.get(n)!);
      ctx.log.info({ connector: cfg.id, dryRun: ctx.dryRun, collections: collections.map((c) => ({ name: c.name, deleted: c.deleted, retained: c.retained })) }, 'http erase');
      return { collections };
    },

    async close() {
      await client.close();
    },
  };

  if (cfg.health) {
    const spec = cfg.health;
    connector.health = async (ctx: ConnectorContext): Promise<Health> => {
      const t = performance.now();
      try {
        await send(rt, prepare(rt, spec, {}), [], ctx.signal, ctx.log);
        return { ok: true, latencyMs: Math.round((performance.now() - t) * 10) / 10 };
      } catch (err) {
        if (!(err instanceof ConnectorError)) throw err;
        return { ok: false, code: err.code, message: err.message, latencyMs: Math.round(performance.now() - t) };
      }
    };
  }
  return connector;
}
