/**
 * The Connector contract: how oubli reaches one silo (a shop database, a loyalty system, a
 * SaaS newsletter tool…). A deployment lists its connectors in `oubli.config.ts`.
 *
 * Semantics every implementation must honour (checked by connectors/conformance.ts):
 * - **Identities** arrive normalized (lower-case email, E.164 phone). A connector searches only
 *   by the types it lists in `lookupBy` and ignores the others.
 * - **Not found is not an error**: a person the silo does not hold gives empty collections —
 *   every collection searched is listed, with 0 records, so "nothing here" is said plainly.
 * - **Matching**: a silo holds what people typed (`Zoe.Erase@Example.com `, `06 12 34 56 78`).
 *   A connector finds the person however the silo writes the identity (connectors/matching.ts:
 *   emails whatever the case and surrounding spaces, phones in any written form of the same
 *   number) and says per collection how (`matchedBy`). access and erase locate records the
 *   same way, so the erasure's verification (an access) sees whatever the erasure missed.
 * - **access** has no side effect and may be retried freely.
 * - **Callbacks** (capabilities.callback): a silo that answers later — an internal system told
 *   by a webhook — gets `ctx.callback` (where and with which token to answer) and may return
 *   `Pending`, from erase and from access alike; the task waits until the silo posts its answer
 *   to `ctx.callback.url`, or until the deadline. Called again for the same task (a retry, a
 *   reminder), it must send the same request: same message id, same token. Without
 *   `ctx.callback` (a preview, the conformance suite) a connector answers synchronously.
 * - **erase is idempotent**: a retry after a crash, or a second erasure, must be harmless and
 *   report what remains (zero deleted the second time). Erasure of one silo happens in one
 *   transaction of that silo where the silo has transactions.
 * - **Cancellation**: when `ctx.signal` aborts (timeout, shutdown), stop promptly and reject
 *   with the signal's reason or a retryable ConnectorError; never report partial work as done.
 * - **dryRun** (erasure preview): compute what would be deleted / masked / retained, change
 *   nothing.
 * - Results carry personal data only in `records`; counts, collection names and legal bases
 *   are what the audit log keeps.
 * - **Attribution** (optional, strongly advised): a silo reached through a discovered
 *   identity may hold someone else. The engine takes a record found through a discovered
 *   identity only when it does not contradict what is known of the person, and for that it
 *   needs to know which of the call's identities led to which record: `origins` per record and
 *   `matchedBy` per discovered identity. Their entries are members of `who`, as given (same type
 *   and value). A connector that does not report them is treated conservatively: any identity
 *   of the call may have led to any record, so one contradicting record puts every discovered
 *   identity of that call under the DPO's review.
 */

/** An identifier of a person in some silo: `{type: 'email', value: 'alice@example.com'}`. */
export interface Identity {
  type: string;
  value: string;
}

/** An identity found in a silo, with why it was followed (recorded by the engine). */
export interface DiscoveredIdentity extends Identity {
  /** e.g. "shop.customers.id of the row matched by email" */
  reason?: string;
  /** The collection of the record(s) holding it. */
  collection?: string;
  /**
   * The identities of the call (`who`) that led to the record(s) holding it — matched directly
   * or through a relation — over every record holding it. Omitted: unknown (see Attribution).
   */
  matchedBy?: Identity[];
  /**
   * A weak link: a value the person typed themselves (a phone on a web form), which other
   * people may share or which may be wrong. The engine records it — it confirms what is known
   * of the person — but never searches by it, so it cannot lead to anyone else.
   */
  weak?: boolean;
}

export interface ConnectorContext {
  /** Aborted on timeout or shutdown; honour it. */
  signal: AbortSignal;
  /** The data-subject request this call serves (for the silo's own logs). */
  requestId: string;
  /** Erasure preview: report, change nothing. */
  dryRun: boolean;
  /** Structured logger; never log personal values. */
  log: ConnectorLogger;
  /**
   * For connectors that answer later (capabilities.callback), on engine calls only: where the
   * silo posts its answer. Deterministic per task, so a retry or a reminder sends the same.
   */
  callback?: CallbackContext;
}

/**
 * Where and how a silo answers a task later: `POST {url}` with the body of
 * connectors/callback.ts. The token (also the last segment of `url`) is the answer's only
 * credential: secret, accepted once, while the task waits. Never log it.
 */
export interface CallbackContext {
  url: string;
  token: string;
  /** Stable per task (a Standard Webhooks `webhook-id`): every attempt and reminder carries it, so the silo deduplicates. */
  messageId: string;
  /** When the task first asked (ms since the epoch): the same in every reminder. */
  since: number;
  /** The deadline the first call announced (ms since the epoch), on reminders; absent on the first call. */
  answerBy?: number;
  /** 0 on the task's call, then 1, 2… for each reminder. */
  reminder: number;
}

export interface ConnectorLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

/**
 * One way a collection was searched, and how many records it found (0 included): by an
 * identity (`identity`) compared with a column under a normaliser, or through the records of
 * another collection (`via`). Names and rules only, never values.
 */
export interface CollectionMatch {
  /** Identity type searched by, e.g. "email" (absent for a relation). */
  identity?: string;
  /** For a relation: the "collection.column" whose found values were looked up. */
  via?: string;
  /** The column (or field) compared. */
  column: string;
  /**
   * The comparison rule: casefold, phone, compact, trim or exact (connectors/matching.ts), or
   * `silo` when the silo's own search decided (a REST search whose records do not show the
   * identity).
   */
  normalization: string;
  /** The written form the silo declares (e.g. "e164"), when the lookup searched only that. */
  format?: string;
  /** Records this criterion found. */
  records: number;
}

export interface AccessCollection {
  name: string;
  /** Data the person provided (GDPR Art. 20): included in portability exports. */
  portable: boolean;
  records: Record<string, unknown>[];
  /** How the person was searched here; each criterion with its count (0 included). */
  matchedBy?: CollectionMatch[];
  /**
   * Parallel to `records`: the identities of the call that led to each record (matched
   * directly, or inherited from the parent records of a relation). An empty entry, or no
   * `origins` at all, means unknown (see Attribution). Exports keep only records that an
   * identity the engine still holds for the person led to.
   */
  origins?: Identity[][];
}

export interface AccessResult {
  collections: AccessCollection[];
  /** Identities found on the way (a customer id, a phone number), to search other silos by. */
  discovered: DiscoveredIdentity[];
}

export interface ErasureCollectionResult {
  name: string;
  deleted: number;
  masked: number;
  retained: number;
  /** Legal basis for retained data, e.g. "legal obligation: 10-year retention of accounting records". */
  retainedBecause?: string;
  /** Names of the fields kept on retained records (never their values). */
  retainedFields?: string[];
}

export interface ErasureResult {
  collections: ErasureCollectionResult[];
}

/**
 * A request accepted by an asynchronous silo, answered later through `ctx.callback` (an
 * erasure; an access only when the call had a callback). The task waits until then.
 */
export interface Pending {
  pending: true;
  /** The silo's own reference (kept with the task, shown to the DPO): never personal data. */
  ref: string;
  /** The latest answer accepted (ms since the epoch); past it the task fails (CALLBACK_TIMEOUT). Default: 7 days. */
  answerBy?: number;
  /** Ask again (the same call, the same callback) this often while unanswered (ms). Default: never. */
  remindEveryMs?: number;
}

export interface Health {
  ok: boolean;
  /** Machine-readable reason when not ok (a ConnectorError code such as SILO_UNAVAILABLE). */
  code?: string;
  /** For the operator's log; may carry driver text (hosts, paths): never shown to API callers as is. */
  message?: string;
  latencyMs?: number;
  /** Silo reachable but something needs the operator's attention (e.g. a lookup no index serves). */
  warnings?: string[];
}

/**
 * How one column is searched, as checked against the live silo at start-up: whether an index
 * serves the lookup, and if not, the index the connector recommends.
 */
export interface LookupReport {
  collection: string;
  /** Identity type looked up (absent for a relation). */
  identity?: string;
  /** For a relation: the parent "collection.column". */
  via?: string;
  column: string;
  normalization: string;
  format?: string;
  /** What the silo compares: the column itself, or an expression such as lower(trim(email)). */
  compares: string;
  index: { served: boolean; name?: string };
  /** DDL that would serve the lookup, when none does. */
  recommendation?: string;
}

export interface ConnectorCapabilities {
  access: boolean;
  erasure: boolean;
  /** Answers through a callback (see ConnectorContext.callback): the engine gives one. */
  callback?: boolean;
  rectification?: boolean;
  restriction?: boolean;
}

export interface Connector {
  /** Stable id, [a-z0-9_-]; appears in tasks, audit entries and exports. */
  id: string;
  title: string;
  /** Identity types this connector can search by. */
  lookupBy: string[];
  capabilities: ConnectorCapabilities;
  /**
   * Everything held on the person, by collection, plus identities discovered on the way.
   * `Pending` only when `ctx.callback` is given: the records then come to the callback.
   */
  access(who: Identity[], ctx: ConnectorContext): Promise<AccessResult | Pending>;
  /** Delete or mask per policy. Idempotent: a retry after a crash must be harmless. */
  erase(who: Identity[], ctx: ConnectorContext): Promise<ErasureResult | Pending>;
  /** Cheap liveness check of the silo. */
  health?(ctx: ConnectorContext): Promise<Health>;
  /** Validates configuration against the live silo (tables, columns); throws a clear error. */
  init?(): Promise<void>;
  /** After init(): how each matched column is searched and whether an index serves it. */
  matching?(): LookupReport[];
  /** Releases pools and handles. */
  close?(): Promise<void>;
}

/**
 * A connector failure. `retryable`: timeouts, connection refused, 5xx, 429 — the engine retries
 * with backoff. Not retryable: bad configuration, 4xx, malformed results — the task fails and
 * the DPO sees `code` and `message`.
 */
const CONNECTOR_ERROR = Symbol.for('oubli.ConnectorError');

export class ConnectorError extends Error {
  /**
   * For a retryable failure, the silo's own word on when to try again (HTTP `Retry-After` of a
   * 429 or 503), in ms: the next attempt should not come sooner. Absent: the engine's backoff.
   */
  readonly retryAfterMs?: number;

  constructor(
    readonly code: string,
    message: string,
    readonly retryable: boolean,
    options?: { cause?: unknown; retryAfterMs?: number },
  ) {
    super(message, options);
    this.name = 'ConnectorError';
    if (options?.retryAfterMs !== undefined) this.retryAfterMs = options.retryAfterMs;
    (this as unknown as Record<symbol, boolean>)[CONNECTOR_ERROR] = true;
  }

  /**
   * Recognised by a registered brand, not by class identity: a deployment's oubli.config.ts is
   * loaded as its own module copy (tsx), next to the service's bundled copy of this class, and
   * `retryable` must still be honoured for errors thrown from there.
   */
  static override [Symbol.hasInstance](value: unknown): boolean {
    return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[CONNECTOR_ERROR] === true;
  }
}

export function isPending<T extends object>(r: T | Pending): r is Pending {
  return (r as Pending).pending === true;
}
