/**
 * The declarative SQL connector: a Connector built from data (see ./config.ts) for SQLite,
 * PostgreSQL and MySQL/MariaDB.
 *
 * How a person is located, for access and erasure alike, is ./locate.ts: identity columns are
 * compared however the silo writes the value (./matchers.ts), relations follow parent rows.
 * Every statement is parameterized; table and column names come only from the validated config
 * and were checked against the live schema by `init()`, then quoted per dialect. `init()` also
 * asks the silo's planner whether an index serves each lookup (./indexes.ts): `matching()` and
 * the health check report it, with the index to create when none does.
 * Access also reports which identity of the call led to each row and each discovered identity
 * (./attribution.ts, through the same matchers), and which discovery links are weak.
 *
 * Erasure runs in ONE transaction of the silo: locate, then apply each collection's policy
 * children first (so foreign keys hold). It is idempotent: deleted rows are gone, and a masked
 * field already holding its mask (null, the fixed value, or a keyed hash) is not counted again.
 */
import { createHmac } from 'node:crypto';
import type { CountryCode } from 'libphonenumber-js';
import type {
  AccessCollection,
  AccessResult,
  Connector,
  ConnectorContext,
  DiscoveredIdentity,
  ErasureCollectionResult,
  ErasureResult,
  Health,
  Identity,
  LookupReport,
} from '../types.js';
import { ConnectorConfigError, matchColumns, parseSqlConfig, topoOrder, type MaskSpec, type ParsedSqlConfig, type SqlConnectorConfig } from './config.js';
import { MAX_PARAMS, createDriver, mapDriverError, type ColumnInfo, type Driver, type Param, type Row, type SqlRunner } from './drivers.js';
import { generatedColumns, indexUse } from './indexes.js';
import { locate, type Plan } from './locate.js';
import { INTEGER_TYPES, buildMatcher, findGenerated, recommendIndex } from './matchers.js';
import { attributeRows } from './attribution.js';

export interface SqlConnector extends Connector {
  readonly config: ParsedSqlConfig;
  readonly dialect: Driver['dialect'];
  /** Synchronous silo: never Pending. */
  access(who: Identity[], ctx: ConnectorContext): Promise<AccessResult>;
  erase(who: Identity[], ctx: ConnectorContext): Promise<ErasureResult>;
  health(ctx: ConnectorContext): Promise<Health>;
  init(): Promise<void>;
  matching(): LookupReport[];
  close(): Promise<void>;
}

const HASH_PATTERN = /^hmac:[0-9a-f]{40}$/;

export interface SqlConnectorOptions {
  /** The deployment's phone region (OUBLI_PHONE_REGION), unless the declaration names its own; default FR. */
  phoneRegion?: CountryCode;
}

/** Builds the connector; throws ConnectorConfigError naming the connector and field on a bad config. No I/O. */
export function sqlConnector(input: SqlConnectorConfig, opts: SqlConnectorOptions = {}): SqlConnector {
  const cfg = parseSqlConfig(input);
  const region = (cfg.phoneRegion ?? opts.phoneRegion ?? 'FR') as CountryCode;
  const order = topoOrder(cfg.collections);
  const driver = createDriver(cfg);
  const q = (i: string) => driver.quote(i);
  const lookupBy = [...new Set(Object.values(cfg.collections).flatMap((c) => Object.keys(c.match)))];
  const hashKey = cfg.hashKey;

  let plans: Plan[] | null = null;
  let initializing: Promise<Plan[]> | null = null;

  async function buildPlans(): Promise<Plan[]> {
    const problems: string[] = [];
    const live = new Map<string, Map<string, ColumnInfo>>();
    for (const name of order) {
      const c = cfg.collections[name]!;
      let cols;
      try {
        cols = await driver.columns(c.table);
      } catch (err) {
        throw mapDriverError(cfg.id, driver.dialect, err);
      }
      if (!cols) {
        problems.push(`collections.${name}.table: table "${c.table}" does not exist`);
        continue;
      }
      live.set(name, new Map(cols.map((x) => [x.name, x])));
    }
    const referenced = new Map<string, Set<string>>(order.map((n) => [n, new Set<string>()]));
    for (const name of order) {
      for (const ref of Object.values(cfg.collections[name]!.relations)) {
        const [target, col] = ref.split('.') as [string, string];
        referenced.get(target)!.add(col);
      }
    }
    const result: Plan[] = [];
    for (const name of order) {
      const c = cfg.collections[name]!;
      const cols = live.get(name);
      if (!cols) continue;
      const need = (field: string, col: string) => {
        if (!cols.has(col)) problems.push(`collections.${name}.${field}: column "${col}" does not exist in table "${c.table}"`);
      };
      need('key', c.key);
      for (const col of c.columns ?? []) need('columns', col);
      const specs = matchColumns(c);
      for (const m of specs) {
        need(`match.${m.identity}`, m.column);
        const type = cols.get(m.column)?.type ?? '';
        if (cols.has(m.column) && INTEGER_TYPES.test(type) && m.normalize !== 'exact') {
          problems.push(`collections.${name}.match.${m.identity}: column "${m.column}" holds integers; normalize '${m.normalize}' needs a text column (declare { column: '${m.column}', normalize: 'exact' })`);
        }
      }
      for (const [col, ref] of Object.entries(c.relations)) {
        need(`relations.${col}`, col);
        const [target, tcol] = ref.split('.') as [string, string];
        const tcols = live.get(target);
        if (tcols && !tcols.has(tcol)) problems.push(`collections.${name}.relations.${col}: column "${tcol}" does not exist in table "${cfg.collections[target]!.table}"`);
      }
      const discover = Object.entries(c.discover).map(([type, spec]) => {
        const column = typeof spec === 'string' ? spec : spec.column;
        const reason = (typeof spec === 'string' ? undefined : spec.reason) ?? `${cfg.id}.${name}.${column}`;
        need(`discover.${type}`, column);
        return { type, column, reason, weak: typeof spec !== 'string' && spec.weak === true };
      });
      const masks: [string, MaskSpec][] = Object.entries(c.erase.action === 'mask' ? c.erase.fields : c.erase.action === 'retain' ? c.erase.mask : {});
      for (const [f] of masks) need(`erase.${c.erase.action === 'mask' ? 'fields' : 'mask'}.${f}`, f);
      if (c.erase.action === 'retain') for (const k of c.erase.keep) need('erase.keep', k);
      const output = c.columns ?? [...cols.values()].filter((x) => !x.hidden).map((x) => x.name);
      const select = [...new Set([c.key, ...output, ...specs.map((m) => m.column), ...referenced.get(name)!, ...discover.map((d) => d.column), ...masks.map(([f]) => f)])];
      const integerColumns = new Set([...cols.values()].filter((x) => INTEGER_TYPES.test(x.type)).map((x) => x.name));
      result.push({ name, c, select, output, integerColumns, masks, discover, referenced: referenced.get(name)!, matchers: [], lookups: [] });
    }
    if (problems.length) throw new ConnectorConfigError(problems.map((p) => `connector "${cfg.id}": ${p}`).join('\n'));
    try {
      // Start-up introspection: not bounded by the (possibly short) per-query limit.
      const signal = AbortSignal.timeout(Math.max(cfg.queryTimeoutMs, 15_000));
      await driver.transaction((tx) => planLookups(tx, result, live), { write: false, signal });
    } catch (err) {
      throw mapDriverError(cfg.id, driver.dialect, err);
    }
    return result;
  }

  /** Builds each collection's matchers and asks the silo whether an index serves each lookup. */
  async function planLookups(tx: SqlRunner, result: Plan[], live: Map<string, Map<string, ColumnInfo>>): Promise<void> {
    for (const plan of result) {
      const cols = live.get(plan.name)!;
      const generated = await generatedColumns(tx, driver.dialect, plan.c.table);
      for (const spec of matchColumns(plan.c)) {
        const info = cols.get(spec.column)!;
        const matcher = buildMatcher({ driver, spec, columnType: info.type, region, generated: findGenerated(generated, spec.normalize, spec.column) });
        plan.matchers.push(matcher);
        // A plain (or generated) column, whose indexes information_schema lists; else an expression.
        const column = matcher.left === q(matcher.compares) ? matcher.compares : undefined;
        const index = await indexUse(tx, driver, { table: plan.c.table, key: plan.c.key, left: matcher.left, column, integer: INTEGER_TYPES.test(info.type) });
        plan.lookups.push({
          collection: plan.name,
          identity: spec.identity,
          column: spec.column,
          normalization: spec.normalize,
          ...(spec.format ? { format: spec.format } : {}),
          compares: matcher.compares,
          index,
          ...(index.served ? {} : { recommendation: recommendIndex(driver.dialect, plan.c.table, matcher, info.length) }),
        });
      }
      for (const [column, via] of Object.entries(plan.c.relations)) {
        const info = cols.get(column)!;
        const index = await indexUse(tx, driver, { table: plan.c.table, key: plan.c.key, left: q(column), column, integer: INTEGER_TYPES.test(info.type) });
        plan.lookups.push({
          collection: plan.name,
          via,
          column,
          normalization: 'exact',
          compares: column,
          index,
          ...(index.served ? {} : { recommendation: recommendIndex(driver.dialect, plan.c.table, { column, lookup: 'forms', normalize: 'exact' }) }),
        });
      }
    }
  }

  /** Validates the config against the live schema once; later calls reuse the result. */
  async function ready(): Promise<Plan[]> {
    if (plans) return plans;
    initializing ??= buildPlans().then(
      (p) => (plans = p),
      (err) => {
        initializing = null;
        throw err;
      },
    );
    return initializing;
  }

  function maskValue(spec: MaskSpec, current: unknown): { value: Param; already: boolean } {
    if (spec === null) return { value: null, already: current === null || current === undefined };
    if (spec === 'hash') {
      if (current === null || current === undefined) return { value: null, already: true };
      const s = typeof current === 'string' ? current : String(jsonSafe(current));
      if (HASH_PATTERN.test(s)) return { value: s, already: true };
      const h = createHmac('sha256', hashKey!).update(s).digest('hex').slice(0, 40);
      return { value: `hmac:${h}`, already: false };
    }
    return { value: spec.value, already: current !== null && current !== undefined && String(current) === String(spec.value) };
  }

  async function eraseCollection(tx: SqlRunner, plan: Plan, rows: Row[], dryRun: boolean): Promise<ErasureCollectionResult> {
    const { c } = plan;
    const base = { name: plan.name, deleted: 0, masked: 0, retained: 0 };
    if (c.erase.action === 'delete') {
      if (dryRun || rows.length === 0) return { ...base, deleted: rows.length };
      const keys = rows.map((r) => r[c.key] as Param);
      let deleted = 0;
      for (let i = 0; i < keys.length; i += MAX_PARAMS) {
        const chunk = keys.slice(i, i + MAX_PARAMS);
        deleted += await tx.run(`DELETE FROM ${q(c.table)} WHERE ${q(c.key)} IN (${chunk.map((_, j) => driver.param(j + 1)).join(', ')})`, chunk);
      }
      return { ...base, deleted };
    }
    let masked = 0;
    for (const row of rows) {
      const sets: string[] = [];
      const params: Param[] = [];
      for (const [field, spec] of plan.masks) {
        const m = maskValue(spec, row[field]);
        if (m.already) continue;
        params.push(m.value);
        sets.push(`${q(field)} = ${driver.param(params.length)}`);
      }
      if (sets.length === 0) continue;
      masked++;
      if (dryRun) continue;
      params.push(row[c.key] as Param);
      await tx.run(`UPDATE ${q(c.table)} SET ${sets.join(', ')} WHERE ${q(c.key)} = ${driver.param(params.length)}`, params);
    }
    if (c.erase.action === 'mask') return { ...base, masked };
    return { ...base, masked, retained: rows.length, retainedBecause: c.erase.basis, retainedFields: [...c.erase.keep] };
  }

  const connector: SqlConnector = {
    id: cfg.id,
    title: cfg.title,
    lookupBy,
    capabilities: { access: true, erasure: true },
    config: cfg,
    dialect: driver.dialect,

    async init() {
      await ready();
    },

    async access(who: Identity[], ctx: ConnectorContext): Promise<AccessResult> {
      const plansNow = await ready();
      const found = await driver.transaction((tx) => locate(tx, driver, plansNow, who), { write: false, signal: ctx.signal });
      const origins = attributeRows(plansNow, found, who);
      const known = new Set(who.map((w) => `${w.type}\u0000${w.value}`));
      // One entry per value, led to by every row holding it (unknown if any of them is).
      const discoveredByKey = new Map<string, { d: DiscoveredIdentity; by: Set<Identity> | null }>();
      const collections: AccessCollection[] = [];
      for (const name of Object.keys(cfg.collections)) {
        const plan = plansNow.find((p) => p.name === name)!;
        const { rows, matchedBy } = found.get(name) ?? { rows: [], matchedBy: [] };
        const rowOrigins = origins.get(name) ?? [];
        collections.push({
          name,
          portable: plan.c.portable,
          records: rows.map((r) => Object.fromEntries(plan.output.map((col) => [col, jsonSafe(r[col])]))),
          matchedBy,
          origins: rowOrigins.map((o) => o ?? []),
        });
        for (const d of plan.discover) {
          rows.forEach((r, i) => {
            const raw = r[d.column];
            if (raw === null || raw === undefined || raw === '') return;
            let value = String(jsonSafe(raw));
            if (d.type === 'email') value = value.toLowerCase();
            const k = `${d.type}\u0000${value}`;
            if (known.has(k)) return;
            let entry = discoveredByKey.get(k);
            if (!entry) {
              entry = { d: { type: d.type, value, reason: d.reason, collection: name, ...(d.weak ? { weak: true } : {}) }, by: new Set() };
              discoveredByKey.set(k, entry);
            } else if (!d.weak) delete entry.d.weak; // a strong link anywhere makes it strong
            const o = rowOrigins[i];
            if (o === null || o === undefined) entry.by = null;
            else if (entry.by) for (const w of o) entry.by.add(w);
          });
        }
      }
      const discovered = [...discoveredByKey.values()].map(({ d, by }) => (by ? { ...d, matchedBy: [...by] } : d));
      ctx.log.debug({ connector: cfg.id, collections: collections.map((c) => [c.name, c.records.length]), discovered: discovered.length }, 'sql access');
      return { collections, discovered };
    },

    async erase(who: Identity[], ctx: ConnectorContext): Promise<ErasureResult> {
      const plansNow = await ready();
      const byName = await driver.transaction(
        async (tx) => {
          const found = await locate(tx, driver, plansNow, who);
          const out = new Map<string, ErasureCollectionResult>();
          // Children first, so that foreign keys to parents still hold when parents go.
          for (const plan of [...plansNow].reverse()) out.set(plan.name, await eraseCollection(tx, plan, found.get(plan.name)?.rows ?? [], ctx.dryRun));
          return out;
        },
        { write: !ctx.dryRun, signal: ctx.signal },
      );
      const collections = Object.keys(cfg.collections).map((n) => byName.get(n)!);
      ctx.log.info(
        { connector: cfg.id, dryRun: ctx.dryRun, collections: collections.map((c) => ({ name: c.name, deleted: c.deleted, masked: c.masked, retained: c.retained })) },
        'sql erase',
      );
      return { collections };
    },

    matching(): LookupReport[] {
      return (plans ?? []).flatMap((p) => p.lookups);
    },

    async health(ctx: ConnectorContext): Promise<Health> {
      const t = performance.now();
      try {
        await driver.ping(ctx.signal);
        const latencyMs = Math.round((performance.now() - t) * 10) / 10;
        const slow = (await ready()).flatMap((p) => p.lookups).filter((l) => !l.index.served);
        const warnings = slow.map((l) => `${l.collection}.${l.column}: no index serves the ${l.identity ?? 'relation'} lookup on ${l.compares}; each search scans the table — ${l.recommendation}`);
        return { ok: true, latencyMs, ...(warnings.length ? { warnings } : {}) };
      } catch (err) {
        const e = mapDriverError(cfg.id, driver.dialect, err);
        return { ok: false, code: e.code, message: e.message, latencyMs: Math.round(performance.now() - t) };
      }
    },

    async close() {
      await driver.close();
    },
  };
  return connector;
}

/** Plain JSON-safe values: dates as ISO strings, bigints as strings, bytes as base64. */
export function jsonSafe(v: unknown): unknown {
  if (v === null || v === undefined) return null;
  if (typeof v === 'bigint') return v.toString();
  if (v instanceof Date) return Number.isNaN(v.getTime()) ? null : v.toISOString();
  if (Buffer.isBuffer(v)) return v.toString('base64');
  if (v instanceof Uint8Array) return Buffer.from(v).toString('base64');
  if (typeof v === 'number' && !Number.isFinite(v)) return null;
  if (typeof v === 'object') {
    if (Array.isArray(v)) return v.map(jsonSafe);
    return Object.fromEntries(Object.entries(v as Record<string, unknown>).map(([k, x]) => [k, jsonSafe(x)]));
  }
  return v;
}
