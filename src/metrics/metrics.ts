/**
 * The service's Prometheus metrics (GET /metrics, src/metrics/routes.ts), one registry per app —
 * never prom-client's global one: several apps live in one test process, and each scrape must
 * read its own database.
 *
 * The gauges are read from the database when scraped (`collect()`), so every instance on one
 * PostgreSQL database reports the same deployment-wide figures; the HTTP histogram and the
 * process metrics are this process's own. Every label has a bounded set of values: statuses and
 * types from the schema, connector ids from the deployment, route patterns (never paths).
 */
import { collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { AuditLog } from '../audit/log.js';
import type { Database } from '../db/database.js';
import { REQUEST_STATUSES, REQUEST_TYPES } from '../db/schema/requests.js';
import { OPEN } from '../requests/service.js';

/** What the gauges read. */
export interface MetricsSources {
  db: Database;
  audit: AuditLog;
  now: () => number;
}

/** Methods kept as a label value; any other collapses to `other`. */
const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

export class Metrics {
  readonly #registry = new Registry();
  readonly #http: Histogram<'method' | 'route' | 'status'>;
  /** One deadline query per scrape, shared by the two gauges it feeds (see render()). */
  #deadlines?: Promise<{ earliestDueAt: number | null; overdue: number }>;

  /** `process`: add prom-client's process and Node.js metrics (off in tests: each set runs timers). */
  constructor(src: MetricsSources, opts: { process?: boolean } = {}) {
    const registers = [this.#registry];
    const deadlines = () => (this.#deadlines ??= src.db.requests.openDeadlines(OPEN, src.now()));

    new Gauge({
      name: 'oubli_requests',
      help: 'Data-subject requests by status and type',
      labelNames: ['status', 'type'] as const,
      registers,
      async collect() {
        const rows = await src.db.requests.countsByStatusAndType();
        // Every combination, zeros included: a status that empties keeps its series.
        for (const status of REQUEST_STATUSES) for (const type of REQUEST_TYPES) this.set({ status, type }, 0);
        for (const r of rows) this.set({ status: r.status, type: r.type }, r.n);
      },
    });
    new Gauge({
      name: 'oubli_requests_overdue',
      help: 'Open data-subject requests past their due date',
      registers,
      async collect() {
        this.set((await deadlines()).overdue);
      },
    });
    new Gauge({
      name: 'oubli_requests_next_due_seconds',
      help: "Seconds until the earliest due open request's deadline, negative when it is overdue; absent when no request is open",
      registers,
      async collect() {
        const { earliestDueAt } = await deadlines();
        if (earliestDueAt === null) this.remove();
        else this.set((earliestDueAt - src.now()) / 1000);
      },
    });
    new Gauge({
      name: 'oubli_tasks',
      help: 'Request tasks (connector calls, and @export builds) by connector and status',
      labelNames: ['connector', 'status'] as const,
      registers,
      async collect() {
        const rows = await src.db.tasks.countsByConnectorAndStatus();
        this.reset();
        for (const r of rows) this.set({ connector: r.connectorId, status: r.status }, r.n);
      },
    });
    new Gauge({
      name: 'oubli_webhook_deliveries',
      help: 'Webhook deliveries by status: pending is the backlog, failed gave up',
      labelNames: ['status'] as const,
      registers,
      async collect() {
        for (const [status, n] of Object.entries(await src.db.webhooks.counts())) this.set({ status }, n);
      },
    });
    new Gauge({
      name: 'oubli_request_mails_pending',
      help: "Request e-mails to people waiting in the outbox",
      registers,
      async collect() {
        this.set(await src.db.mails.pending());
      },
    });
    new Gauge({
      name: 'oubli_audit_log_entries',
      help: 'Entries in the audit log (its Merkle tree size)',
      registers,
      async collect() {
        this.set(await src.audit.size());
      },
    });
    new Gauge({
      name: 'oubli_audit_signed_tree_size',
      help: 'Size of the newest signed tree head; below oubli_audit_log_entries while a head is due',
      registers,
      async collect() {
        this.set((await src.db.audit.latestHead())?.size ?? 0);
      },
    });
    this.#http = new Histogram({
      name: 'oubli_http_request_duration_seconds',
      help: 'HTTP answers by method, route pattern and status class',
      labelNames: ['method', 'route', 'status'] as const,
      registers,
    });
    if (opts.process) collectDefaultMetrics({ register: this.#registry });
  }

  /** Records one answer. `route` is a registered pattern (or `unmatched`), never a path. */
  observeHttp(method: string, route: string, status: number, seconds: number): void {
    this.#http.observe({ method: METHODS.has(method) ? method : 'other', route, status: `${Math.floor(status / 100)}xx` }, seconds);
  }

  /** The exposition text (`contentType`); the gauges query the database now. */
  async render(): Promise<string> {
    this.#deadlines = undefined;
    try {
      return await this.#registry.metrics();
    } finally {
      this.#deadlines = undefined;
    }
  }

  get contentType(): string {
    return this.#registry.contentType;
  }
}
