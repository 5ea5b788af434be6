/**
 * What every connection offers: the per-aggregate stores, bound to it. `db.subjects.…` reads
 * outside a transaction; inside `db.tx(async (t) => …)`, `t.subjects.…` runs on the transaction.
 * A store is made on first use per handle (SQLite reuses one transaction handle: none there).
 */
import type { Database, Handle, Q } from './database.js';
import { AuthStore } from './stores/auth.js';
import { AuditStore } from './stores/audit.js';
import { ConsentStore } from './stores/consents.js';
import { LeaseStore } from './stores/leases.js';
import { LimitStore } from './stores/limits.js';
import { MailStore } from './stores/mails.js';
import { RequestStore } from './stores/requests.js';
import { OutboxStore } from './stores/outbox.js';
import { PortalStore } from './stores/portal.js';
import { PurposeStore } from './stores/purposes.js';
import { SubjectStore } from './stores/subjects.js';
import { SystemStore } from './stores/system.js';
import { TaskStore } from './stores/tasks.js';
import { WebhookStore } from './stores/webhooks.js';

/** Runs after-commit hooks; one failing does not stop the others (the commit stands either way). */
export function runCommitHooks(hooks: (() => void)[]): void {
  for (const fn of hooks) {
    try {
      fn();
    } catch {
      // A signal that could not be sent: its receivers still poll.
    }
  }
}

export abstract class Stores implements Handle {
  abstract readonly db: Database;
  abstract readonly q: Q;
  abstract readonly inTx: boolean;
  #afterCommit: (() => void)[] = [];
  #auth?: AuthStore;
  #audit?: AuditStore;
  #consents?: ConsentStore;
  #leases?: LeaseStore;
  #limits?: LimitStore;
  #outbox?: OutboxStore;
  #portal?: PortalStore;
  #purposes?: PurposeStore;
  #subjects?: SubjectStore;
  #requests?: RequestStore;
  #tasks?: TaskStore;
  #system?: SystemStore;
  #webhooks?: WebhookStore;
  #mails?: MailStore;

  /**
   * Runs `fn` once this transaction has committed (never if it rolls back): for signals that
   * must not arrive before the change they announce — a wake-up of the instances that act on it.
   * Only idempotent signals: a hook made inside a savepoint that rolled back still runs.
   */
  afterCommit(fn: () => void): void {
    if (!this.inTx) throw new Error('afterCommit() needs a transaction');
    this.#afterCommit.push(fn);
  }

  /** For the transaction runners (src/db/sqlite.ts, postgres.ts): the hooks made, emptied. */
  takeCommitHooks(): (() => void)[] {
    const hooks = this.#afterCommit;
    this.#afterCommit = [];
    return hooks;
  }

  get auth(): AuthStore {
    return (this.#auth ??= new AuthStore(this));
  }
  get audit(): AuditStore {
    return (this.#audit ??= new AuditStore(this));
  }
  get consents(): ConsentStore {
    return (this.#consents ??= new ConsentStore(this));
  }
  get leases(): LeaseStore {
    return (this.#leases ??= new LeaseStore(this));
  }
  get limits(): LimitStore {
    return (this.#limits ??= new LimitStore(this));
  }
  get mails(): MailStore {
    return (this.#mails ??= new MailStore(this));
  }
  get outbox(): OutboxStore {
    return (this.#outbox ??= new OutboxStore(this));
  }
  get portal(): PortalStore {
    return (this.#portal ??= new PortalStore(this));
  }
  get purposes(): PurposeStore {
    return (this.#purposes ??= new PurposeStore(this));
  }
  get subjects(): SubjectStore {
    return (this.#subjects ??= new SubjectStore(this));
  }
  get requests(): RequestStore {
    return (this.#requests ??= new RequestStore(this));
  }
  get tasks(): TaskStore {
    return (this.#tasks ??= new TaskStore(this));
  }
  get system(): SystemStore {
    return (this.#system ??= new SystemStore(this));
  }
  get webhooks(): WebhookStore {
    return (this.#webhooks ??= new WebhookStore(this));
  }
}
