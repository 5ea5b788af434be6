/**
 * Connector health as API callers see it: checked with a deadline, cached a few seconds (a
 * dashboard polled by many users, or a burst of callers, makes one check per silo, not one
 * each), and told in codes and fixed messages only. A silo's own error text can carry
 * hostnames, file paths or values (a driver quoting a row): it goes to the operator's log,
 * never into an answer.
 */
import { ConnectorError, type Connector, type ConnectorLogger, type Health } from '../../connectors/types.js';

/** Per-connector health budget: the whole listing answers within about this time. */
export const HEALTH_TIMEOUT_MS = 2_000;
/** How long one check answers every caller. */
export const HEALTH_CACHE_MS = 5_000;

export interface PublicHealth {
  ok: boolean;
  /** Why not ok: a ConnectorError code (SILO_UNAVAILABLE…), HEALTH_TIMEOUT, HEALTH_FAILED, UNHEALTHY. */
  code?: string;
  /** A fixed sentence for `code`; never the silo's own text. */
  message?: string;
  latencyMs?: number;
  /** Reachable, but needs the operator (e.g. a lookup no index serves). */
  warnings?: string[];
  /** When this answer was checked (answers are shared for HEALTH_CACHE_MS). */
  checkedAt: string;
}

const SAFE_MESSAGES: Record<string, string> = {
  SILO_UNAVAILABLE: 'the silo cannot be reached',
  SILO_TIMEOUT: 'the silo did not answer in time',
  SILO_AUTH: 'the silo refused the credentials',
  SILO_SCHEMA: 'the silo does not have the tables or columns the configuration names',
  SILO_CONFLICT: 'the silo is busy (lock conflict)',
  SILO_QUERY_FAILED: 'a query to the silo failed',
  CONNECTOR_CONFIG: 'the connector configuration does not match the silo',
  ABORTED: 'the health check was interrupted',
  HEALTH_TIMEOUT: `no answer within ${HEALTH_TIMEOUT_MS} ms`,
  HEALTH_FAILED: 'the health check failed',
  HEALTH_MALFORMED: 'the health check gave a malformed answer',
  UNHEALTHY: 'the silo reports a problem',
};

const CODE = /^[A-Z][A-Z0-9_]{1,47}$/;
const MAX_WARNINGS = 20;

/** A code and its fixed message; an unknown but well-formed code keeps a generic sentence. */
export function safeFailure(code: unknown): { code: string; message: string } {
  const c = typeof code === 'string' && CODE.test(code) ? code : 'UNHEALTHY';
  return { code: c, message: SAFE_MESSAGES[c] ?? SAFE_MESSAGES.UNHEALTHY! };
}

const silentLog: ConnectorLogger = { debug() {}, info() {}, warn() {}, error() {} };

/** Runs a connector's health check with a deadline; never throws. The raw answer, for the log. */
export async function checkHealth(connector: Connector, timeoutMs = HEALTH_TIMEOUT_MS, log: ConnectorLogger = silentLog): Promise<Health | null> {
  if (!connector.health) return null;
  const ac = new AbortController();
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<Health>((resolve) => {
    timer = setTimeout(() => {
      ac.abort(new Error('health check timed out'));
      resolve({ ok: false, code: 'HEALTH_TIMEOUT', message: `no answer within ${timeoutMs} ms`, latencyMs: timeoutMs });
    }, timeoutMs);
  });
  try {
    const check = connector
      .health({ signal: ac.signal, requestId: 'health', dryRun: true, log })
      .then((h): Health => (h && typeof h.ok === 'boolean' ? h : { ok: false, code: 'HEALTH_MALFORMED' }))
      .catch((err: unknown): Health => ({
        ok: false,
        code: err instanceof ConnectorError ? err.code : 'HEALTH_FAILED',
        message: err instanceof Error ? err.message : String(err),
        latencyMs: Math.round(performance.now() - started),
      }));
    return await Promise.race([check, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/** What callers may read of a raw health answer. */
export function publicHealth(h: Health, checkedAt: number): PublicHealth {
  const latencyMs = typeof h.latencyMs === 'number' && Number.isFinite(h.latencyMs) ? h.latencyMs : undefined;
  const base = { ok: h.ok === true, ...(latencyMs === undefined ? {} : { latencyMs }), checkedAt: new Date(checkedAt).toISOString() };
  if (!base.ok) return { ...base, ...safeFailure(h.code) };
  const warnings = Array.isArray(h.warnings) ? h.warnings.filter((w): w is string => typeof w === 'string').slice(0, MAX_WARNINGS).map((w) => w.slice(0, 500)) : [];
  return warnings.length ? { ...base, warnings } : base;
}

interface Entry {
  at: number;
  value: Promise<PublicHealth | null>;
}

/**
 * Health checks shared by every caller for HEALTH_CACHE_MS; a check in flight is joined, not
 * repeated. One per process, held in Deps (state belongs to objects, not modules).
 */
export class HealthChecks {
  private readonly entries = new WeakMap<Connector, Entry>();

  constructor(
    private readonly now: () => number,
    private readonly opts: { ttlMs?: number; timeoutMs?: number } = {},
  ) {}

  get(connector: Connector, log: ConnectorLogger = silentLog): Promise<PublicHealth | null> {
    const ttl = this.opts.ttlMs ?? HEALTH_CACHE_MS;
    const now = this.now();
    const hit = this.entries.get(connector);
    if (hit && now - hit.at < ttl) return hit.value;
    const value = checkHealth(connector, this.opts.timeoutMs ?? HEALTH_TIMEOUT_MS, log).then((raw) => {
      if (!raw) return null;
      // The operator's log keeps the silo's own words (hosts, paths): it is where they are useful.
      if (!raw.ok) log.warn({ connector: connector.id, code: raw.code, message: raw.message }, 'connector unhealthy');
      else if (raw.warnings?.length) log.warn({ connector: connector.id, warnings: raw.warnings }, 'connector healthy, with warnings');
      return publicHealth(raw, now);
    });
    this.entries.set(connector, { at: now, value });
    return value;
  }
}
