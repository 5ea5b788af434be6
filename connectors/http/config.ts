/**
 * The declarative REST connector's configuration: how a SaaS or internal HTTP API is asked for
 * a person's records (per identity type, or through the records of another collection), where
 * the records, identities, cursors and keys sit in its JSON (./paths.ts), how each record is
 * erased (one request per record, retained with a legal basis, or deleted by the silo with its
 * parent), which statuses mean "no such person", and how oubli authenticates.
 *
 * Parsed with zod once, when the connector is built; an error names the connector and the field
 * (`connector "newsletter": collections.contacts.search.email.url: required`). Secrets are plain
 * strings the deployment's oubli.config.ts reads from its environment; they are never logged.
 */
import { isSupportedCountry } from 'libphonenumber-js';
import { z } from 'zod';
import { NORMALIZERS, defaultNormalizer, type Normalizer } from '../matching.js';
import { isCidr } from '../net/addresses.js';
import { ConnectorError } from '../types.js';
import { parsePath, type Path } from './paths.js';
import { bodyRefs, fixedOrigin, parseBodyTemplate, parseTemplate, type BodyTemplate, type Ref } from './templates.js';

const IdentityType = z.string().regex(/^[a-z][a-z0-9_]{0,39}$/, 'identity types are lower-case [a-z0-9_]');
const CollectionName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,62}$/, 'collection names are letters, digits and _');
const HeaderName = z.string().regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, 'must be an HTTP header name');

function parsed<T>(parse: (s: string) => T) {
  return z.string().min(1).transform((s, ctx): T => {
    try {
      return parse(s);
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: (err as Error).message });
      return z.NEVER;
    }
  });
}

const TemplateString = parsed(parseTemplate);
const PathString = parsed(parsePath);

const BodyJson = z.unknown().transform((v, ctx): BodyTemplate => {
  try {
    return parseBodyTemplate(v);
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: (err as Error).message });
    return z.NEVER;
  }
});

/** A status (404) or a class of them ('5xx'). */
const StatusSpec = z.union([z.number().int().min(100).max(599), z.string().regex(/^[1-5]xx$/, "a status (404) or a class ('5xx')")]);
const StatusList = z.array(StatusSpec);
export type StatusList = z.output<typeof StatusList>;

export function statusIn(status: number, list: StatusList): boolean {
  return list.some((s) => (typeof s === 'number' ? s === status : Math.floor(status / 100) === Number(s[0])));
}

/**
 * A secret: typically `process.env.X` in oubli.config.ts, so `undefined` is accepted by the
 * type and refused with a hint. Errors never show its value.
 */
const Secret = z.union([z.string(), z.undefined()]).transform((v, ctx): string => {
  if (v === undefined || v === '') {
    ctx.addIssue({ code: 'custom', message: 'required (is its environment variable set?)' });
    return z.NEVER;
  }
  return v;
});

const RequestSpec = z
  .object({
    method: z.enum(['GET', 'POST', 'PUT', 'PATCH', 'DELETE']).default('GET'),
    /** Relative to `baseUrl` (as a URL reference: `contacts/{email}`), or absolute. */
    url: TemplateString,
    /** Query parameters added to the URL (values are templates, percent-encoded). */
    query: z.record(z.string().min(1), TemplateString).default({}),
    /** Headers of this request (values are templates; a line break in a value is refused). */
    headers: z.record(HeaderName, TemplateString).default({}),
    /** A JSON body whose strings are templates; sent as application/json. */
    body: BodyJson.optional(),
  })
  .strict();
export type RequestSpec = z.output<typeof RequestSpec>;

const Pagination = z.discriminatedUnion('type', [
  /** The answer names the next page's cursor (`cursor` path); it goes back as query parameter `param`. Absent/empty: last page. */
  z.object({ type: z.literal('cursor'), cursor: PathString, param: z.string().min(1) }).strict(),
  /** Numbered pages in query parameter `param` from `start`; the last page is short (`size`) or empty. */
  z
    .object({
      type: z.literal('page'),
      param: z.string().min(1).default('page'),
      start: z.number().int().min(0).default(1),
      size: z.object({ param: z.string().min(1), value: z.number().int().min(1).max(10_000) }).strict().optional(),
    })
    .strict(),
  /** RFC 8288 `Link: <…>; rel="next"` headers, followed on the same origin only. */
  z.object({ type: z.literal('link') }).strict(),
]);
export type Pagination = z.output<typeof Pagination>;

const Lookup = RequestSpec.extend({
  /** Where the records are in the answer (default: the answer itself, an object or an array). */
  records: PathString.default(() => parsePath('$')),
  pagination: Pagination.optional(),
  /** Statuses meaning "no such person" here (default: the connector's `statuses.notFound`). */
  notFound: StatusList.optional(),
}).strict();
export type Lookup = z.output<typeof Lookup>;

/** Where a record holds an identity: a path, or `{ path, normalize }` (connectors/matching.ts). */
const MatchSpec = z.union([PathString, z.object({ path: PathString, normalize: z.enum(NORMALIZERS).optional() }).strict()]);
const DiscoverSpec = z.union([PathString, z.object({ path: PathString, reason: z.string().min(1).optional(), weak: z.boolean().optional() }).strict()]);

const ErasePolicy = z.discriminatedUnion('action', [
  /** One request per record found (placeholders `{record.<path>}`); `notFound` statuses mean already gone. */
  z.object({ action: z.literal('delete'), request: RequestSpec, notFound: StatusList.optional() }).strict(),
  /** Kept under a legal obligation: nothing is sent; the basis and kept fields' names go to the audit. */
  z.object({ action: z.literal('retain'), basis: z.string().min(3, 'state the legal basis'), keep: z.array(z.string().min(1)).optional() }).strict(),
  /** Deleted by the silo itself with the parent record of `via` (a contact's events with the contact). */
  z.object({ action: z.literal('cascade') }).strict(),
]);
export type HttpErasePolicy = z.output<typeof ErasePolicy>;

const Collection = z
  .object({
    /** Data the person provided (GDPR Art. 20): included in portability exports. */
    portable: z.boolean().default(false),
    /** What tells two records apart (`id`); without it, records are told apart by their whole JSON. */
    key: PathString.optional(),
    /** Identity type → the request finding the records held for it (`{ email: { url: 'contacts?email={email}' } }`). */
    search: z.record(IdentityType, Lookup).default({}),
    /**
     * Identity type → where a record holds it. A record a search returns is kept only when its
     * value is the person's under the type's normaliser (a silo's fuzzy search never leads to a
     * look-alike); without an entry, the silo's own matching is trusted.
     */
    match: z.record(IdentityType, MatchSpec).default({}),
    /** Records found through each record of another collection (`{parent.<path>}` placeholders). */
    via: Lookup.extend({ collection: CollectionName }).strict().optional(),
    /** Identity type → where a record holds an identity to search other silos by. */
    discover: z.record(IdentityType, DiscoverSpec).default({}),
    erase: ErasePolicy,
  })
  .strict();
export type HttpCollection = z.output<typeof Collection>;

const Auth = z.discriminatedUnion('type', [
  z.object({ type: z.literal('bearer'), token: Secret }).strict(),
  z.object({ type: z.literal('basic'), username: z.string().min(1), password: Secret }).strict(),
  /** OAuth 2.0 client credentials (RFC 6749 §4.4); the token is cached until it expires, renewed on a 401. */
  z
    .object({
      type: z.literal('oauth2'),
      tokenUrl: z.string().url(),
      clientId: z.string().min(1),
      clientSecret: Secret,
      scope: z.string().min(1).optional(),
      audience: z.string().min(1).optional(),
      /** How the client authenticates to the token endpoint: HTTP Basic (default, RFC 6749 §2.3.1) or form fields. */
      clientAuth: z.enum(['basic', 'body']).default('basic'),
    })
    .strict(),
]);
export type HttpAuth = z.output<typeof Auth>;

export const HttpConnectorSchema = z
  .object({
    driver: z.literal('http'),
    /** Stable id, [a-z0-9_-]. */
    id: z.string().regex(/^[a-z0-9_-]{1,64}$/, 'must be 1–64 characters of [a-z0-9_-]'),
    title: z.string().min(1),
    /** The API's base URL; relative request URLs resolve against it. */
    baseUrl: z.string().url(),
    /**
     * Private networks this silo may be on: `true` (any loopback, RFC 1918, link-local, ULA
     * address), or a list of CIDRs. Default false: public addresses only. Cloud metadata
     * addresses stay refused whatever this says.
     */
    allowPrivateNetwork: z.union([z.boolean(), z.array(z.string().refine(isCidr, 'must be a CIDR such as 10.0.0.0/8')).min(1)]).default(false),
    /** Per HTTP exchange, everything included (ms); exceeded → retryable SILO_TIMEOUT. */
    timeoutMs: z.number().int().min(100).max(300_000).default(10_000),
    /** Largest answer read (bytes); a longer one fails (SILO_BAD_RESPONSE) rather than export part of it. */
    maxResponseBytes: z.number().int().min(1024).max(100 * 1024 * 1024).default(5 * 1024 * 1024),
    /** Pages read per listing at most; more fails (SILO_TOO_MANY_PAGES) rather than export part of it. */
    maxPages: z.number().int().min(1).max(10_000).default(100),
    /** A 429/503 whose Retry-After is at most this (ms) is waited in the call (3 times at most); longer goes back to the engine. */
    maxRetryAfterMs: z.number().int().min(0).max(60_000).default(5_000),
    /** Headers of every request (an API key: `{ 'api-key': process.env.NEWSLETTER_KEY }`). */
    headers: z.record(HeaderName, Secret.refine((v) => !/[\u0000-\u0008\u000a-\u001f\u007f]/.test(v), 'holds a line break or control character')).default({}),
    auth: Auth.optional(),
    statuses: z
      .object({
        /** "No such person": the search finds nothing (an empty result, not a failure). */
        notFound: StatusList.default([404, 410]),
        /** Worth another attempt later (429 honours Retry-After). Any other non-2xx is fatal. */
        retryable: StatusList.default([408, 429, '5xx']),
      })
      .strict()
      .default({ notFound: [404, 410], retryable: [408, 429, '5xx'] }),
    /** Region of phone numbers written without a country code in this silo (default: OUBLI_PHONE_REGION). */
    phoneRegion: z
      .string()
      .refine((r) => /^[A-Z]{2}$/.test(r) && isSupportedCountry(r), 'must be an ISO 3166-1 alpha-2 region such as FR')
      .optional(),
    /** A cheap request whose 2xx means the API is up and the credentials work. */
    health: RequestSpec.optional(),
    collections: z.record(CollectionName, Collection).refine((c) => Object.keys(c).length > 0, 'declare at least one collection'),
  })
  .strict();

/** What a deployment writes in oubli.config.ts. */
export type HttpConnectorConfig = z.input<typeof HttpConnectorSchema>;
export type ParsedHttpConfig = z.output<typeof HttpConnectorSchema>;

/** A configuration error, naming the connector and the field. Not retryable. */
export class HttpConnectorConfigError extends ConnectorError {
  constructor(message: string) {
    super('CONNECTOR_CONFIG', message, false);
    this.name = 'ConnectorConfigError';
  }
}

export interface MatchField {
  path: Path;
  normalize: Normalizer;
}

/** A collection's `match` entries with their normalisers resolved. */
export function matchFields(c: HttpCollection): Map<string, MatchField> {
  return new Map(
    Object.entries(c.match).map(([type, spec]) =>
      'segments' in spec ? [type, { path: spec, normalize: defaultNormalizer(type) }] : [type, { path: spec.path, normalize: spec.normalize ?? defaultNormalizer(type) }],
    ),
  );
}

function label(input: unknown): string {
  const id = (input as { id?: unknown } | null)?.id;
  return typeof id === 'string' && id ? `connector "${id}"` : 'connector (no id)';
}

const refName = (r: Ref) => (r.kind === 'identity' ? `{${r.type}}` : `{${r.kind}.${r.path.source}}`);

function requestRefs(r: RequestSpec): { at: string; refs: Ref[] }[] {
  return [
    { at: 'url', refs: r.url.refs },
    ...Object.entries(r.query).map(([k, t]) => ({ at: `query.${k}`, refs: t.refs })),
    ...Object.entries(r.headers).map(([k, t]) => ({ at: `headers.${k}`, refs: t.refs })),
    { at: 'body', refs: bodyRefs(r.body) },
  ];
}

/** Placeholders a request may use: `allowed` says yes or gives the reason. */
function checkRefs(r: RequestSpec, at: string, allowed: (ref: Ref) => string | null, problems: string[]): void {
  for (const { at: field, refs } of requestRefs(r)) {
    for (const ref of refs) {
      const why = allowed(ref);
      if (why) problems.push(`${at}.${field}: ${refName(ref)} ${why}`);
    }
  }
}

function checkUrl(r: RequestSpec, base: URL, at: string, problems: string[]): void {
  try {
    fixedOrigin(r.url, base);
  } catch (err) {
    problems.push(`${at}.url: ${(err as Error).message}`);
  }
}

/** Collections ordered parents (of `via`) first; throws on a cycle. */
export function viaOrder(collections: Record<string, HttpCollection>): string[] {
  const order: string[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (name: string, path: string[]) => {
    const s = state.get(name);
    if (s === 'done') return;
    if (s === 'visiting') throw new Error(`collections: "via" forms a cycle (${[...path, name].join(' → ')})`);
    state.set(name, 'visiting');
    const parent = collections[name]!.via?.collection;
    if (parent && collections[parent]) visit(parent, [...path, name]);
    state.set(name, 'done');
    order.push(name);
  };
  for (const name of Object.keys(collections)) visit(name, []);
  return order;
}

/** Parses and cross-checks a declaration; throws HttpConnectorConfigError listing every problem. */
export function parseHttpConfig(input: unknown): ParsedHttpConfig {
  const result = HttpConnectorSchema.safeParse(input, {
    error: (iss) => {
      if (iss.input === undefined && iss.code === 'invalid_type') return 'required';
      // A bad header or identity-type name: say what a name must be, not "Invalid key".
      if (iss.code === 'invalid_key') return (iss.issues as { message?: string }[] | undefined)?.[0]?.message;
      return undefined;
    },
  });
  const who = label(input);
  if (!result.success) {
    const lines = result.error.issues.map((i) => `${who}: ${i.path.map(String).join('.') || '(root)'}: ${i.message}`);
    throw new HttpConnectorConfigError(lines.join('\n'));
  }
  const cfg = result.data;
  const problems: string[] = [];
  const base = new URL(cfg.baseUrl);
  if (base.protocol !== 'http:' && base.protocol !== 'https:') problems.push('baseUrl: only http and https URLs are allowed');
  if (base.username || base.password) problems.push('baseUrl: no credentials in URLs (use auth)');
  if (cfg.auth?.type === 'oauth2') {
    const t = new URL(cfg.auth.tokenUrl);
    if (t.protocol !== 'http:' && t.protocol !== 'https:') problems.push('auth.tokenUrl: only http and https URLs are allowed');
  }
  const names = Object.keys(cfg.collections);
  const onlyIdentity = (type: string) => (ref: Ref) =>
    ref.kind === 'identity' ? (ref.type === type ? null : `is not the identity this search is for ({${type}})`) : 'is not available here (a search fills only its identity)';
  for (const [name, c] of Object.entries(cfg.collections)) {
    const at = `collections.${name}`;
    if (Object.keys(c.search).length === 0 && !c.via) problems.push(`${at}: unreachable — give it "search" (per identity type) or "via" (another collection)`);
    for (const [type, lookup] of Object.entries(c.search)) {
      checkUrl(lookup, base, `${at}.search.${type}`, problems);
      checkRefs(lookup, `${at}.search.${type}`, onlyIdentity(type), problems);
      if (!lookup.url.refs.length && !requestRefs(lookup).some((x) => x.refs.length)) problems.push(`${at}.search.${type}: the request never uses {${type}}`);
    }
    for (const type of Object.keys(c.match)) if (!(type in c.search)) problems.push(`${at}.match.${type}: there is no search by ${type}`);
    if (c.via) {
      if (!names.includes(c.via.collection)) problems.push(`${at}.via.collection: unknown collection "${c.via.collection}"`);
      if (c.via.collection === name) problems.push(`${at}.via.collection: a collection cannot be found through itself`);
      checkUrl(c.via, base, `${at}.via`, problems);
      checkRefs(c.via, `${at}.via`, (ref) => (ref.kind === 'parent' ? null : 'is not available here (use {parent.<path>})'), problems);
    }
    if (c.erase.action === 'delete') {
      checkUrl(c.erase.request, base, `${at}.erase.request`, problems);
      checkRefs(c.erase.request, `${at}.erase.request`, (ref) => (ref.kind === 'record' ? null : 'is not available here (use {record.<path>})'), problems);
    }
    if (c.erase.action === 'cascade') {
      const parent = c.via ? cfg.collections[c.via.collection] : undefined;
      if (!c.via) problems.push(`${at}.erase: 'cascade' needs "via" (the parent whose erasure deletes these records)`);
      else if (parent && parent.erase.action === 'retain') problems.push(`${at}.erase: 'cascade' needs a parent that is deleted, but "${c.via.collection}" is retained`);
    }
  }
  if (cfg.health) {
    checkUrl(cfg.health, base, 'health', problems);
    checkRefs(cfg.health, 'health', () => 'is not available in a health check', problems);
  }
  if (problems.length === 0) {
    try {
      viaOrder(cfg.collections);
    } catch (err) {
      problems.push((err as Error).message);
    }
  }
  if (problems.length) throw new HttpConnectorConfigError(problems.map((p) => `${who}: ${p}`).join('\n'));
  return cfg;
}

