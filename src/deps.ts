import type { ApiKeyCache } from './auth/api-key-cache.js';
import type { Logger } from 'pino';
import type { Config } from './config.js';
import type { Database } from './db/database.js';
import type { IdGenerator } from './ids.js';
import type { AuditLog, Actor } from './audit/log.js';
import type { TreeHeads } from './audit/tree-heads.js';
import type { SigningKeys } from './audit/keys.js';
import type { Connector } from '../connectors/types.js';
import type { HealthChecks } from './deployment/health.js';
import type { PurposeCatalog } from './consent/catalog.js';
import type { ConsentWriter } from './consent/record.js';
import type { OutboundClient } from '../connectors/net/index.js';
import type { Mailer } from './mail/mailer.js';
import type { Metrics } from './metrics/metrics.js';

/** Keyed-hash secrets kept in the data dir (never in the database). */
export interface Secrets {
  /** Key for pseudonyms of non-subject identifiers in the audit log and throttling tables. */
  pseudonymKey: Buffer;
  /** AES-256 key sealing each person's pseudonym key in the database (src/subjects/key-seal.ts). */
  masterKey: Buffer;
}

/** Everything the app and the service verbs need; built once by src/runtime.ts (or a test). */
export interface Deps {
  config: Config;
  /** The store (SQLite or PostgreSQL): reads on it, changes in `db.tx()`. */
  db: Database;
  now: () => number;
  ids: IdGenerator;
  logger: Logger;
  audit: AuditLog;
  treeHeads: TreeHeads;
  keys: SigningKeys;
  secrets: Secrets;
  /** The deployment's silos (oubli.config.ts, or the demo's); empty when none is configured. */
  connectors: Connector[];
  /** Request types that wait for DPO approval before running (deployment config). */
  requireApproval: string[];
  /** Connector health checks, shared by callers for a few seconds. */
  health: HealthChecks;
  /**
   * Identity types that identify one person (deployment config; default email, customer_id,
   * loyalty_card): a record holding a different value of one belongs to someone else.
   */
  uniqueIdentityTypes: readonly string[];
  /** The purposes catalogue, cached; kept fresh across instances (src/consent/catalog.ts). */
  purposes: PurposeCatalog;
  /** Active API keys, remembered briefly on PostgreSQL; revocations heard across instances (src/auth/api-key-cache.ts). */
  apiKeys: ApiKeyCache;
  /** Group commit of single consent events (POST /v1/consents). */
  consentWrites: ConsentWriter;
  /**
   * The outbound client for webhook receivers (src/webhooks/client.ts): one per process, so its
   * keep-alive pool per receiver is shared by every delivery.
   */
  webhookClient: OutboundClient;
  /** The portal's e-mail (src/mail/mailer.ts): SMTP, or files in <data dir>/mailbox. */
  mailer: Mailer;
  /** The Prometheus registry of GET /metrics (src/metrics/metrics.ts): this app's own, never the global one. */
  metrics: Metrics;
  /** True under `oubli demo` only: shows the file mailbox at /dev/mailbox. Never set by `serve`. */
  demo?: boolean;
  /** `ready` is false while start-up work (demo seeding) still runs; /readyz reports it. */
  startup: { ready: boolean };
}

/** What a service verb receives: the dependencies plus who is acting. */
export interface Ctx extends Deps {
  actor: Actor;
}
