/**
 * The declarative SQL connector's configuration: which tables hold the person, how they are
 * found (identity columns, relations to other collections), what they reveal (discovered
 * identities) and what erasure does to each (delete, mask, retain with a legal basis).
 *
 * Parsed with zod once, when the connector is built; an error names the connector and the field
 * (`connector "shop": collections.orders.table: required`). Table and column names are then
 * checked against the live schema by `init()`.
 */
import { isSupportedCountry } from 'libphonenumber-js';
import { z } from 'zod';
import { ConnectorError } from '../types.js';
import { FORMATS, FORMATS_OF, NORMALIZERS, defaultNormalizer, type Format, type Normalizer } from '../matching.js';

/** Table and column names: plain identifiers only, so quoting them can never be escaped. */
const Ident = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_]{0,62}$/, 'must be a plain SQL identifier (letters, digits, _; not starting with a digit)');

const IdentityType = z.string().regex(/^[a-z][a-z0-9_]{0,39}$/, 'identity types are lower-case [a-z0-9_]');

/**
 * How a masked field is overwritten: `null`, a fixed value (`{ value: '[erased]' }`) or
 * `'hash'` — a keyed hash (HMAC-SHA256 with the connector's `hashKey`, stored as `hmac:<40 hex>`)
 * that keeps values distinct (a suppression list, a unique column) without revealing them.
 */
const MaskSpec = z.union([z.null(), z.literal('hash'), z.object({ value: z.union([z.string(), z.number()]) }).strict()]);
export type MaskSpec = z.infer<typeof MaskSpec>;

const MaskFields = z.record(Ident, MaskSpec);

const ErasePolicy = z.discriminatedUnion('action', [
  /** Delete the rows. */
  z.object({ action: z.literal('delete') }).strict(),
  /** Overwrite the listed fields, keep the rows (e.g. anonymised sales statistics). */
  z
    .object({ action: z.literal('mask'), fields: MaskFields.refine((f) => Object.keys(f).length > 0, 'list at least one field') })
    .strict(),
  /**
   * Keep the rows under a legal obligation (GDPR Art. 17(3)(b)): `keep` lists the fields kept
   * as they are, `mask` the personal fields overwritten. The basis and the kept fields' names go
   * to the audit log, never their values.
   */
  z
    .object({
      action: z.literal('retain'),
      basis: z.string().min(3, 'state the legal basis'),
      keep: z.array(Ident).min(1, 'list the fields kept'),
      mask: MaskFields.default({}),
    })
    .strict(),
]);
export type ErasePolicy = z.infer<typeof ErasePolicy>;

/**
 * An identity column: its name, or `{ column, normalize?, format? }`.
 * - `normalize` — how a written value is compared with the person's identity (see
 *   connectors/matching.ts); by default `casefold` for emails, `phone` for phones, `compact`
 *   for loyalty cards, `exact` for everything else.
 * - `format` — how the silo always writes it, when it knows (`'e164'`, `'lowercase'`,
 *   `'exact'`…): the lookup then searches that one form, exactly, on the column's plain index.
 */
const MatchSpec = z.union([Ident, z.object({ column: Ident, normalize: z.enum(NORMALIZERS).optional(), format: z.enum(FORMATS).optional() }).strict()], {
  // Name what is wrong in the form the author used (a column name, or the object), not "Invalid input".
  error: (iss) => {
    if (iss.code !== 'invalid_union') return undefined;
    const first = iss.errors[typeof iss.input === 'string' ? 0 : 1]?.[0];
    return first ? `${first.path.length ? `${first.path.join('.')}: ` : ''}${first.message}` : undefined;
  },
});

/**
 * A column whose values identify the person elsewhere: the column name, or `{ column, reason,
 * weak }`. `weak: true` marks a value the person typed themselves (a phone on a web form, which
 * a household shares or a typo makes someone else's): the engine records it to confirm what it
 * knows, and never searches by it.
 */
const DiscoverSpec = z.union([Ident, z.object({ column: Ident, reason: z.string().min(1).optional(), weak: z.boolean().optional() }).strict()]);

const Collection = z
  .object({
    /** The table holding this collection. */
    table: Ident,
    /** Its primary key (unique, used to delete and mask row by row). */
    key: Ident,
    /** Columns returned by access (default: every column of the table). */
    columns: z.array(Ident).min(1).optional(),
    /** Identity type → column holding it: `{ email: 'email', phone: { column: 'phone', format: 'e164' } }`. */
    match: z.record(IdentityType, MatchSpec).default({}),
    /**
     * This collection's column → `"collection.column"` of another collection of the same
     * connector: rows whose column equals a value of the found parent rows belong to the person
     * (`orders: { relations: { customer_id: 'customers.id' } }`).
     */
    relations: z.record(Ident, z.string().regex(/^[A-Za-z_]\w*\.[A-Za-z_]\w*$/, 'must be "collection.column"')).default({}),
    /** Identity type → column whose values identify the person elsewhere (`{ customer_id: 'id' }`, `{ phone: { column: 'phone', weak: true } }`). */
    discover: z.record(IdentityType, DiscoverSpec).default({}),
    /** Data the person provided (GDPR Art. 20): included in portability exports. */
    portable: z.boolean().default(false),
    erase: ErasePolicy,
  })
  .strict();
export type SqlCollectionInput = z.input<typeof Collection>;
export type SqlCollection = z.output<typeof Collection>;

const Base = {
  /** Stable id, [a-z0-9_-]. */
  id: z.string().regex(/^[a-z0-9_-]{1,64}$/, 'must be 1–64 characters of [a-z0-9_-]'),
  title: z.string().min(1),
  /** Secret for `'hash'` masks (at least 16 characters); required when a mask uses it. */
  hashKey: z.string().min(16, 'must be at least 16 characters').optional(),
  /** Per-query time limit in ms (default 10 s); exceeded → retryable SILO_TIMEOUT. */
  queryTimeoutMs: z.number().int().min(10).default(10_000),
  /**
   * Region of phone numbers this silo writes without a country code (`06 12 34 56 78` is French
   * in 'FR'); default: the deployment's OUBLI_PHONE_REGION.
   */
  phoneRegion: z
    .string()
    .refine((r) => /^[A-Z]{2}$/.test(r) && isSupportedCountry(r), 'must be an ISO 3166-1 alpha-2 region such as FR')
    .optional(),
  collections: z.record(Ident, Collection).refine((c) => Object.keys(c).length > 0, 'declare at least one collection'),
};

const Connection = z.union([z.string().min(1), z.record(z.string(), z.unknown())]);

export const SqlConnectorSchema = z.discriminatedUnion('driver', [
  z.object({ driver: z.literal('sqlite'), /** Path of the database file (must exist). */ filename: z.string().min(1), ...Base }).strict(),
  z
    .object({
      driver: z.literal('postgres'),
      /** A connection string or a `pg` PoolConfig (host, port, user, password, database, options…). */
      connection: Connection,
      poolSize: z.number().int().min(1).max(100).default(4),
      ...Base,
    })
    .strict(),
  z
    .object({
      driver: z.literal('mysql'),
      /** A connection URI or a `mysql2` PoolOptions object (MySQL and MariaDB). */
      connection: Connection,
      poolSize: z.number().int().min(1).max(100).default(4),
      ...Base,
    })
    .strict(),
]);

/** What a deployment writes in oubli.config.ts. */
export type SqlConnectorConfig = z.input<typeof SqlConnectorSchema>;
export type ParsedSqlConfig = z.output<typeof SqlConnectorSchema>;

/** One identity column of a collection, with its comparison rule resolved. */
export interface MatchColumn {
  identity: string;
  column: string;
  normalize: Normalizer;
  format?: Format;
}

/** The identity columns of a collection, defaults applied. */
export function matchColumns(c: SqlCollection): MatchColumn[] {
  return Object.entries(c.match).map(([identity, spec]) =>
    typeof spec === 'string'
      ? { identity, column: spec, normalize: defaultNormalizer(identity) }
      : { identity, column: spec.column, normalize: spec.normalize ?? defaultNormalizer(identity), ...(spec.format ? { format: spec.format } : {}) },
  );
}

/** A configuration error, naming the connector and the field. Not retryable. */
export class ConnectorConfigError extends ConnectorError {
  constructor(message: string) {
    super('CONNECTOR_CONFIG', message, false);
    this.name = 'ConnectorConfigError';
  }
}

function label(input: unknown): string {
  const id = (input as { id?: unknown } | null)?.id;
  return typeof id === 'string' && id ? `connector "${id}"` : 'connector (no id)';
}

/** Parses and cross-checks a declaration; throws ConnectorConfigError listing every problem. */
export function parseSqlConfig(input: unknown): ParsedSqlConfig {
  const parsed = SqlConnectorSchema.safeParse(input, {
    error: (iss) => (iss.input === undefined && iss.code === 'invalid_type' ? 'required' : undefined),
  });
  const who = label(input);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `${who}: ${i.path.map(String).join('.') || '(root)'}: ${i.message}`);
    throw new ConnectorConfigError(lines.join('\n'));
  }
  const cfg = parsed.data;
  const problems: string[] = [];
  const names = Object.keys(cfg.collections);
  let usesHash = false;
  for (const [name, c] of Object.entries(cfg.collections)) {
    const at = `collections.${name}`;
    if (Object.keys(c.match).length === 0 && Object.keys(c.relations).length === 0) {
      problems.push(`${at}: unreachable — give it "match" (identity columns) or "relations" (to another collection)`);
    }
    for (const m of matchColumns(c)) {
      if (m.format && !FORMATS_OF[m.normalize].includes(m.format)) {
        problems.push(`${at}.match.${m.identity}.format: '${m.format}' does not apply to normalize '${m.normalize}' (use one of ${FORMATS_OF[m.normalize].map((f) => `'${f}'`).join(', ')})`);
      }
    }
    for (const [col, ref] of Object.entries(c.relations)) {
      const [target] = ref.split('.');
      if (!names.includes(target!)) problems.push(`${at}.relations.${col}: unknown collection "${target}"`);
      if (target === name) problems.push(`${at}.relations.${col}: a collection cannot relate to itself`);
    }
    const masks = c.erase.action === 'mask' ? c.erase.fields : c.erase.action === 'retain' ? c.erase.mask : {};
    if (Object.values(masks).includes('hash')) usesHash = true;
    if (c.erase.action === 'retain') {
      for (const k of c.erase.keep) if (k in c.erase.mask) problems.push(`${at}.erase.keep: "${k}" is both kept and masked`);
    }
    if (Object.keys(masks).includes(c.key)) problems.push(`${at}.erase: the key column "${c.key}" cannot be masked`);
  }
  if (usesHash && !cfg.hashKey) problems.push(`hashKey: required because a mask uses 'hash'`);
  if (problems.length === 0) {
    try {
      topoOrder(cfg.collections);
    } catch (err) {
      problems.push((err as Error).message);
    }
  }
  if (problems.length) throw new ConnectorConfigError(problems.map((p) => `${who}: ${p}`).join('\n'));
  return cfg;
}

/** Collections ordered parents first (relations form a DAG); throws on a cycle. */
export function topoOrder(collections: Record<string, SqlCollection>): string[] {
  const order: string[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (name: string, path: string[]) => {
    const s = state.get(name);
    if (s === 'done') return;
    if (s === 'visiting') throw new Error(`collections: relations form a cycle (${[...path, name].join(' → ')})`);
    state.set(name, 'visiting');
    for (const ref of Object.values(collections[name]!.relations)) visit(ref.split('.')[0]!, [...path, name]);
    state.set(name, 'done');
    order.push(name);
  };
  for (const name of Object.keys(collections)) visit(name, []);
  return order;
}
