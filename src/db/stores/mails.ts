/**
 * The request e-mail outbox (schema: src/db/schema/mails.ts), claimed as the webhook queue is
 * (src/db/stores/webhooks.ts): one statement
 *   UPDATE … WHERE id IN (SELECT id … LIMIT n FOR UPDATE SKIP LOCKED) RETURNING *
 * so senders of several instances take different rows, and a claim moves `next_attempt_at` to
 * the lease's end: a mail whose sender died is due again by itself once its lease runs out.
 * Outcomes are recorded by the lease holder only (`lease_owner` guard). A few mails per request:
 * plain builder statements, but for the insert (one per mail, in the transaction it announces).
 */
import { and, eq, inArray, lt, lte, sql } from 'drizzle-orm';
import type { Database, Handle } from '../database.js';
import { forUpdate } from '../dialect.js';
import type { RequestMail, RequestMailStatus } from '../schema/mails.js';

const p = sql.placeholder;

export type NewRequestMail = Pick<RequestMail, 'id' | 'requestId' | 'kind' | 'lang' | 'recipient' | 'nextAttemptAt' | 'createdAt'>;

/** What happened to one claimed mail. */
export interface MailOutcome {
  id: string;
  owner: string;
  status: RequestMailStatus;
  /** When to try again (a pending outcome). */
  nextAttemptAt: number;
  lastError: string | null;
  at: number;
}

// Two or three mails per request, each written with the change it announces: prepared once.
const insertStatement = (db: Database) =>
  db.statement('mails.insert', (q) => {
    const m = db.tables.requestMails;
    return q.insert(m).values({
      id: p('id'),
      requestId: p('requestId'),
      kind: p('kind'),
      lang: p('lang'),
      recipient: p('recipient'),
      status: 'pending',
      nextAttemptAt: p('nextAttemptAt'),
      createdAt: p('createdAt'),
    });
  });

export class MailStore {
  constructor(private readonly h: Handle) {}

  private get t() {
    return this.h.db.tables;
  }

  async insert(row: NewRequestMail): Promise<void> {
    await this.h.db.cached('mails.insert', insertStatement).run(this.h, row);
  }

  get(id: string): Promise<RequestMail | undefined> {
    const { requestMails: m } = this.t;
    return this.h.q
      .select()
      .from(m)
      .where(eq(m.id, id))
      .then((rows) => rows[0]);
  }

  /** A request's mails, oldest first (tests, the DPO's request page). */
  ofRequest(requestId: string): Promise<RequestMail[]> {
    const { requestMails: m } = this.t;
    return this.h.q.select().from(m).where(eq(m.requestId, requestId)).orderBy(m.createdAt, m.id);
  }

  /** Claims up to `limit` due mails for `owner` until `until` (see the header). */
  claim(owner: string, now: number, until: number, limit: number): Promise<RequestMail[]> {
    const { requestMails: m } = this.t;
    const due = this.h.q
      .select({ id: m.id })
      .from(m)
      .where(and(eq(m.status, 'pending'), lte(m.nextAttemptAt, now)))
      .orderBy(m.nextAttemptAt, m.id)
      .limit(limit);
    return this.h.q
      .update(m)
      .set({ leaseOwner: owner, leaseExpiresAt: until, nextAttemptAt: until, attempts: sql`${m.attempts} + 1` })
      .where(inArray(m.id, forUpdate(this.h.db, due, { skipLocked: true })))
      .returning();
  }

  /**
   * Records an attempt; false when the sender no longer holds the mail. A mail that is sent or
   * has failed loses its address.
   */
  async finish(o: MailOutcome): Promise<boolean> {
    const { requestMails: m } = this.t;
    const done = o.status !== 'pending';
    const rows = await this.h.q
      .update(m)
      .set({
        status: o.status,
        nextAttemptAt: o.nextAttemptAt,
        lastError: o.lastError,
        leaseOwner: null,
        leaseExpiresAt: null,
        ...(done ? { recipient: null } : {}),
        ...(o.status === 'sent' ? { sentAt: o.at } : {}),
      })
      .where(and(eq(m.id, o.id), eq(m.leaseOwner, o.owner), eq(m.status, 'pending')))
      .returning({ id: m.id });
    return rows.length === 1;
  }

  /** Deletes mails that were sent or failed before `before`; answers how many. */
  async prune(before: number): Promise<number> {
    const { requestMails: m } = this.t;
    const rows = await this.h.q
      .delete(m)
      .where(and(inArray(m.status, ['sent', 'failed']), lt(m.createdAt, before)))
      .returning({ id: m.id });
    return rows.length;
  }

  /** Mails waiting to be sent (the backlog /metrics shows). */
  async pending(): Promise<number> {
    const { requestMails: m } = this.t;
    const [row] = await this.h.q
      .select({ n: sql<number>`count(*)`.mapWith(Number) })
      .from(m)
      .where(eq(m.status, 'pending'));
    return row?.n ?? 0;
  }
}
