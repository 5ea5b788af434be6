/**
 * Data-subject requests and the identities known for each. The engine reads a request, its
 * identities and moves its stage after every task outcome, and every request is inserted,
 * verified and completed once: those are prepared statements (the builder compiles its SQL on
 * each call: about a tenth of a burst of erasures' CPU when these used it); the DPO's rarer
 * transitions and the maintenance queries use the builder.
 */
import { and, desc, eq, exists, gt, gte, inArray, isNotNull, isNull, lt, not, notExists, or, sql, type SQL } from 'drizzle-orm';
import type { Database, Handle, Q } from '../database.js';
import type { Channel, DsrRequest, RequestStage, RequestStatus, RequestType, requests, Verification } from '../schema/requests.js';
import type { IdentityDecision, IdentityState, IdentityWhy, RequestIdentity, requestIdentities } from '../schema/request-identities.js';

const p = sql.placeholder;

export type NewRequest = Omit<typeof requests.$inferInsert, 'stage' | 'round' | 'verification' | 'extendedMonths'>;
export type NewIdentity = Omit<typeof requestIdentities.$inferInsert, 'id'>;

/** running → completed (stage done) if still running in stage `from`, setting `extra` too. */
function completeIn(r: Database['tables']['requests'], extra: Partial<Record<'exportPath' | 'exportExpiresAt', SQL>>) {
  return (q: Q) =>
    q
      .update(r)
      .set({ status: 'completed', stage: 'done', statusReason: null, statusReasonCode: null, completedAt: sql`${p('now')}`, updatedAt: sql`${p('now')}`, ...extra })
      .where(and(eq(r.id, p('id')), eq(r.status, 'running'), eq(r.stage, p('from'))));
}

function statements(db: Database) {
  const { requests: r, requestIdentities: i, tasks: t } = db.tables;
  return {
    get: db.statement<DsrRequest>('requests.get', (q) => q.select().from(r).where(eq(r.id, p('id')))),
    progress: db.statement<RequestProgress>('requests.progress', (q) =>
      q.select({ id: r.id, type: r.type, status: r.status, stage: r.stage, round: r.round, subjectId: r.subjectId }).from(r).where(eq(r.id, p('id'))),
    ),
    setStage: db.statement('requests.setStage', (q) =>
      q
        .update(r)
        .set({ stage: sql`${p('stage')}`, round: sql`${p('round')}`, updatedAt: sql`${p('now')}` })
        .where(and(eq(r.id, p('id')), eq(r.status, 'running'))),
    ),
    insert: db.statement('requests.insert', (q) =>
      q.insert(r).values({
        id: p('id'),
        type: p('type'),
        status: p('status'),
        statusReason: p('statusReason'),
        statusReasonCode: p('statusReasonCode'),
        channel: p('channel'),
        locale: p('locale'),
        verified: p('verified'),
        subjectId: p('subjectId'),
        receivedAt: p('receivedAt'),
        dueAt: p('dueAt'),
        extensionReason: p('extensionReason'),
        createdBy: p('createdBy'),
        updatedAt: p('updatedAt'),
        completedAt: p('completedAt'),
        exportPath: p('exportPath'),
        exportExpiresAt: p('exportExpiresAt'),
      }),
    ),
    setVerification: db.statement('requests.setVerification', (q) =>
      q
        .update(r)
        .set({ verification: sql`${p('verification')}` })
        .where(eq(r.id, p('id'))),
    ),
    // running → completed in stage `from`; the second one with the archive kept for the person.
    complete: db.statement('requests.complete', completeIn(r, {})),
    completeWithExport: db.statement('requests.completeWithExport', completeIn(r, { exportPath: sql`${p('path')}`, exportExpiresAt: sql`${p('expiresAt')}` })),
    expireExportsOfSubject: db.statement('requests.expireExportsOfSubject', (q) =>
      q
        .update(r)
        .set({ exportExpiresAt: sql`${p('now')}`, updatedAt: sql`${p('now')}` })
        .where(and(eq(r.subjectId, p('subjectId')), isNotNull(r.exportPath), gt(r.exportExpiresAt, p('now')))),
    ),
    destroyIdentityValues: db.statement('requests.destroyIdentityValues', (q) =>
      q
        .update(i)
        .set({ value: null, decisionReason: null })
        .where(and(eq(i.requestId, p('requestId')), or(isNotNull(i.value), isNotNull(i.decisionReason)))),
    ),
    identities: db.statement<RequestIdentity>('requests.identities', (q) => q.select().from(i).where(eq(i.requestId, p('requestId'))).orderBy(i.id)),
    identityCount: db.statement<{ n: number }>('requests.identityCount', (q) =>
      q.select({ n: sql<number>`count(*)`.mapWith(Number) }).from(i).where(eq(i.requestId, p('requestId'))),
    ),
    identityByValue: db.statement<{ id: number }>('requests.identityByValue', (q) =>
      q
        .select({ id: i.id })
        .from(i)
        .where(and(eq(i.requestId, p('requestId')), eq(i.type, p('type')), eq(i.value, p('value')))),
    ),
    insertIdentity: db.statement<{ id: number }>('requests.insertIdentity', (q) =>
      q
        .insert(i)
        .values({
          requestId: p('requestId'),
          type: p('type'),
          value: p('value'),
          masked: p('masked'),
          source: p('source'),
          collection: p('collection'),
          reason: p('reason'),
          round: p('round'),
          searchable: p('searchable'),
          state: p('state'),
          weak: p('weak'),
          depth: p('depth'),
          why: p('why'),
        })
        .onConflictDoNothing()
        .returning({ id: i.id }),
    ),
    strengthen: db.statement('requests.strengthenIdentity', (q) =>
      q
        .update(i)
        .set({ weak: false })
        .where(and(eq(i.id, p('id')), eq(i.weak, true), isNull(i.why))),
    ),
    setVerdict: db.statement('requests.setVerdict', (q) =>
      q
        .update(i)
        .set({ state: sql`${p('state')}`, why: sql`${p('why')}`, depth: sql`${p('depth')}` })
        .where(eq(i.id, p('id'))),
    ),
    // An export build is in progress (or due) for these: stage finalize, no finalize task open or failed.
    finalizingWithoutTask: db.statement<{ id: string }>('requests.finalizingWithoutTask', (q) =>
      q
        .select({ id: r.id })
        .from(r)
        .where(
          and(
            eq(r.status, 'running'),
            eq(r.stage, 'finalize'),
            notExists(
              q
                .select({ one: sql`1` })
                .from(t)
                .where(and(eq(t.requestId, r.id), eq(t.phase, 'finalize'), inArray(t.status, ['queued', 'running', 'failed']))),
            ),
          ),
        )
        .limit(100),
    ),
  };
}

/** What the engine reads of a request after every outcome: where it stands, whom it names. */
export type RequestProgress = Pick<DsrRequest, 'id' | 'type' | 'status' | 'stage' | 'round' | 'subjectId'>;

export interface RequestFilter {
  status?: RequestStatus;
  type?: RequestType;
  /** Overdue at `now`: past due and not finished (`terminal`). */
  overdue?: { is: boolean; now: number; terminal: readonly RequestStatus[] };
  /** Ids below this one (the previous page's last). */
  before?: string;
  limit: number;
}

/** The DPO's queue (src/admin/queue.ts): open or not, by status, type, channel, language, due before. */
export interface QueueFilter {
  statuses: readonly RequestStatus[];
  type?: RequestType;
  channel?: Channel;
  locale?: 'fr' | 'en';
  /** Due before this instant (overdue: now; due this week: a week from now). */
  dueBefore?: number;
  /** Keyset: after this (due date, id) of the previous page's last row. */
  after?: { dueAt: number; id: string };
  limit: number;
}

/** How many requests of a report's period share a type, channel and outcome. */
export interface ReportOutcome {
  type: RequestType;
  channel: Channel;
  status: RequestStatus;
  verified: boolean;
  /** Given more time (Art. 12(3)). */
  extended: boolean;
  /** Completed by its (possibly extended) due date; null when not completed. */
  onTime: boolean | null;
  /** A denial's Art. 12(4) code (or another status's reason code). */
  code: string | null;
  n: number;
}

/** The queue's counters. */
export interface QueueCounts {
  open: number;
  dueThisWeek: number;
  overdue: number;
  needsAttention: number;
  awaitingApproval: number;
}

export class RequestStore {
  constructor(private readonly h: Handle) {}

  private get s() {
    return this.h.db.cached('requests', statements);
  }

  private get t() {
    return this.h.db.tables;
  }

  get(id: string): Promise<DsrRequest | undefined> {
    return this.s.get.first(this.h, { id });
  }

  progress(id: string): Promise<RequestProgress | undefined> {
    return this.s.progress.first(this.h, { id });
  }

  async insert(row: NewRequest): Promise<void> {
    // The prepared insert names every column: those the row leaves out are null.
    const optional = { statusReason: null, statusReasonCode: null, subjectId: null, extensionReason: null, completedAt: null, exportPath: null, exportExpiresAt: null };
    const params: Record<string, unknown> = { ...optional };
    for (const [k, v] of Object.entries(row)) if (v !== undefined) params[k] = v;
    await this.s.insert.run(this.h, params);
  }

  /** Guarded status change; false when the request was not in one of `from`. */
  async setStatus(id: string, from: readonly RequestStatus[], to: RequestStatus, now: number, reason: string | null = null, code: string | null = null): Promise<boolean> {
    const { requests: r } = this.t;
    const rows = await this.h.q
      .update(r)
      .set({ status: to, statusReason: reason, statusReasonCode: code, updatedAt: now })
      .where(and(eq(r.id, id), inArray(r.status, [...from])))
      .returning({ id: r.id });
    return rows.length === 1;
  }

  /** Moves a running request to `stage` (and access round). */
  async setStage(id: string, stage: RequestStage, round: number, now: number): Promise<void> {
    await this.s.setStage.run(this.h, { id, stage, round, now });
  }

  /** Back to `stage` after a retry; `round` and a cleared verification when the erasure starts again. */
  async resumeAt(id: string, stage: RequestStage, restart?: { round: number }): Promise<void> {
    const { requests: r } = this.t;
    await this.h.q
      .update(r)
      .set({ stage, ...(restart ? { round: restart.round, verification: null } : {}) })
      .where(eq(r.id, id));
  }

  async markVerified(id: string, subjectId: string | null): Promise<void> {
    const { requests: r } = this.t;
    await this.h.q
      .update(r)
      .set({ verified: true, subjectId: sql`coalesce(${r.subjectId}, ${subjectId})` })
      .where(eq(r.id, id));
  }

  async setVerification(id: string, verification: Verification): Promise<void> {
    await this.s.setVerification.run(this.h, { id, verification: JSON.stringify(verification) });
  }

  /**
   * running → completed, stage `from` → done (with the export, for access and portability).
   * False when the request was no longer running in that stage (cancelled meanwhile, or
   * completed by another instance).
   */
  async complete(id: string, from: RequestStage, now: number, exported?: { path: string; expiresAt: number }): Promise<boolean> {
    const changed = exported
      ? await this.s.completeWithExport.run(this.h, { id, from, now, path: exported.path, expiresAt: exported.expiresAt })
      : await this.s.complete.run(this.h, { id, from, now });
    return changed === 1;
  }

  /** New deadline; false when the extension count changed meanwhile or the request is closed. */
  async extend(id: string, v: { expectedMonths: number; totalMonths: number; reason: string; dueAt: number; now: number; open: readonly RequestStatus[] }): Promise<boolean> {
    const { requests: r } = this.t;
    const rows = await this.h.q
      .update(r)
      .set({ extendedMonths: v.totalMonths, extensionReason: v.reason, dueAt: v.dueAt, updatedAt: v.now })
      .where(and(eq(r.id, id), eq(r.extendedMonths, v.expectedMonths), inArray(r.status, [...v.open])))
      .returning({ id: r.id });
    return rows.length === 1;
  }

  /** Newest first (ids are time-sortable); one row more than `limit` tells there is a next page. */
  list(f: RequestFilter): Promise<DsrRequest[]> {
    const { requests: r } = this.t;
    const where: SQL[] = [];
    if (f.status) where.push(eq(r.status, f.status));
    if (f.type) where.push(eq(r.type, f.type));
    if (f.overdue) {
      const overdue = and(lt(r.dueAt, f.overdue.now), not(inArray(r.status, [...f.overdue.terminal])))!;
      where.push(f.overdue.is ? overdue : not(overdue));
    }
    if (f.before) where.push(lt(r.id, f.before));
    return this.h.q
      .select()
      .from(r)
      .where(where.length ? and(...where) : undefined)
      .orderBy(desc(r.id))
      .limit(f.limit + 1);
  }

  /**
   * A person's requests, newest first: those `createdBy` opened (`subject:<pseudonym>` for the
   * privacy portal's person) and, when `subjectId` is given, those naming that registry subject
   * whoever opened them (staff, the API). Read by a person's page, not a hot path.
   */
  ofPerson(createdBy: string, subjectId: string | null, limit: number): Promise<DsrRequest[]> {
    const { requests: r } = this.t;
    const mine = subjectId === null ? eq(r.createdBy, createdBy) : or(eq(r.createdBy, createdBy), eq(r.subjectId, subjectId));
    return this.h.q.select().from(r).where(mine).orderBy(desc(r.id)).limit(limit);
  }

  /** The requests of one registry subject, newest first (the DPO's search by an identifier). */
  ofSubject(subjectId: string, limit: number): Promise<DsrRequest[]> {
    const { requests: r } = this.t;
    return this.h.q.select().from(r).where(eq(r.subjectId, subjectId)).orderBy(desc(r.id)).limit(limit);
  }

  /** Requests in one of `statuses`. */
  async countByStatus(statuses: readonly RequestStatus[]): Promise<number> {
    const { requests: r } = this.t;
    const [row] = await this.h.q
      .select({ n: sql<number>`count(*)`.mapWith(Number) })
      .from(r)
      .where(inArray(r.status, [...statuses]));
    return row?.n ?? 0;
  }

  /** Requests by status and type (what /metrics shows): one grouped count, no row read twice. */
  countsByStatusAndType(): Promise<{ status: RequestStatus; type: RequestType; n: number }[]> {
    const { requests: r } = this.t;
    return this.h.q
      .select({ status: r.status, type: r.type, n: sql<number>`count(*)`.mapWith(Number) })
      .from(r)
      .groupBy(r.status, r.type);
  }

  /**
   * The deadlines of the requests in one of `open`: the earliest due date (null when none is
   * open) and how many are past due at `now`. One query over the open requests (the status index).
   */
  async openDeadlines(open: readonly RequestStatus[], now: number): Promise<{ earliestDueAt: number | null; overdue: number }> {
    const { requests: r } = this.t;
    const [row] = await this.h.q
      .select({
        earliestDueAt: sql<number | null>`min(${r.dueAt})`.mapWith((v) => (v === null ? null : Number(v))),
        overdue: sql<number>`coalesce(sum(case when ${r.dueAt} < ${now} then 1 else 0 end), 0)`.mapWith(Number),
      })
      .from(r)
      .where(inArray(r.status, [...open]));
    return { earliestDueAt: row?.earliestDueAt ?? null, overdue: row?.overdue ?? 0 };
  }

  /** Never verified, past their deadline. */
  async unverifiedPastDue(now: number, limit = 500): Promise<string[]> {
    const { requests: r } = this.t;
    const rows = await this.h.q
      .select({ id: r.id })
      .from(r)
      .where(and(eq(r.status, 'pending_verification'), lt(r.dueAt, now)))
      .limit(limit);
    return rows.map((x) => x.id);
  }

  /**
   * Ends now the retention of the kept exports of requests naming one of `subjectIds` (their
   * person's erasure is done: the archive holds what it deleted); the sweep deletes the files.
   * Answers how many.
   */
  async expireExportsOfSubjects(subjectIds: readonly string[], now: number): Promise<number> {
    let n = 0;
    for (const subjectId of subjectIds) n += await this.s.expireExportsOfSubject.run(this.h, { subjectId, now });
    return n;
  }

  /** Exports past their retention. */
  expiredExports(now: number, limit = 500): Promise<{ id: string; path: string }[]> {
    const { requests: r } = this.t;
    return this.h.q
      .select({ id: r.id, path: sql<string>`${r.exportPath}` })
      .from(r)
      .where(and(isNotNull(r.exportPath), lt(r.exportExpiresAt, now)))
      .limit(limit);
  }

  /** Forgets the export; false when it was already forgotten. */
  async dropExport(id: string): Promise<boolean> {
    const { requests: r } = this.t;
    const rows = await this.h.q
      .update(r)
      .set({ exportPath: null })
      .where(and(eq(r.id, id), isNotNull(r.exportPath)))
      .returning({ id: r.id });
    return rows.length === 1;
  }

  /** Closed (in `statuses`) before `before` and still holding an identity value or a DPO note. */
  async closedHoldingValues(statuses: readonly RequestStatus[], before: number, limit = 500): Promise<string[]> {
    const { requests: r, requestIdentities: i } = this.t;
    const rows = await this.h.q
      .select({ id: r.id })
      .from(r)
      .where(
        and(
          inArray(r.status, [...statuses]),
          lt(r.updatedAt, before),
          exists(
            this.h.q
              .select({ one: sql`1` })
              .from(i)
              .where(and(eq(i.requestId, r.id), or(isNotNull(i.value), isNotNull(i.decisionReason)))),
          ),
        ),
      )
      .limit(limit);
    return rows.map((x) => x.id);
  }

  /** Running requests in stage finalize with no finalize task (in flight during an upgrade). */
  async finalizingWithoutTask(): Promise<string[]> {
    return (await this.s.finalizingWithoutTask.all(this.h)).map((x) => x.id);
  }

  // --- identities ---------------------------------------------------------------------------

  /** The request's identities, in the order they were recorded. */
  identities(requestId: string): Promise<RequestIdentity[]> {
    return this.s.identities.all(this.h, { requestId });
  }

  async identityCount(requestId: string): Promise<number> {
    return (await this.s.identityCount.first(this.h, { requestId }))?.n ?? 0;
  }

  async identityIdByValue(requestId: string, type: string, value: string): Promise<number | undefined> {
    return (await this.s.identityByValue.first(this.h, { requestId, type, value }))?.id;
  }

  /** Records an identity; undefined when the request already holds that (type, value). */
  async insertIdentity(row: NewIdentity): Promise<number | undefined> {
    const [r] = await this.s.insertIdentity.all(this.h, {
      collection: null,
      reason: null,
      state: 'included',
      weak: false,
      depth: 0,
      why: null,
      ...row,
    });
    return r?.id;
  }

  /** A weak link found again through a strong one becomes strong (until first judged). */
  async strengthenIdentity(id: number): Promise<void> {
    await this.s.strengthen.run(this.h, { id });
  }

  async setVerdict(id: number, v: { state: IdentityState; why: IdentityWhy; depth: number }): Promise<void> {
    await this.s.setVerdict.run(this.h, { id, state: v.state, why: JSON.stringify(v.why), depth: v.depth });
  }

  /** Records the DPO's decision on a pending, undecided identity; false otherwise. */
  async decideIdentity(v: { requestId: string; id: number; decision: IdentityDecision; by: string; at: number; reason: string }): Promise<boolean> {
    const { requestIdentities: i } = this.t;
    const rows = await this.h.q
      .update(i)
      .set({ decision: v.decision, decidedBy: v.by, decidedAt: v.at, decisionReason: v.reason })
      .where(and(eq(i.id, v.id), eq(i.requestId, v.requestId), isNull(i.decision), eq(i.state, 'pending')))
      .returning({ id: i.id });
    return rows.length === 1;
  }

  /** Destroys the request's copy of the person's identifiers (and the DPO's notes on them). */
  async destroyIdentityValues(requestId: string): Promise<number> {
    return this.s.destroyIdentityValues.run(this.h, { requestId });
  }

  /**
   * One page of the queue, soonest due first, keyset-paginated on (due_at, id): answers up to
   * `limit + 1` rows (the extra one says there is a next page).
   */
  queue(f: QueueFilter): Promise<DsrRequest[]> {
    const { requests: r } = this.t;
    const where: SQL[] = [inArray(r.status, [...f.statuses])];
    if (f.type) where.push(eq(r.type, f.type));
    if (f.channel) where.push(eq(r.channel, f.channel));
    if (f.locale) where.push(eq(r.locale, f.locale));
    if (f.dueBefore !== undefined) where.push(lt(r.dueAt, f.dueBefore));
    if (f.after) where.push(or(gt(r.dueAt, f.after.dueAt), and(eq(r.dueAt, f.after.dueAt), gt(r.id, f.after.id)))!);
    return this.h.q
      .select()
      .from(r)
      .where(and(...where))
      .orderBy(r.dueAt, r.id)
      .limit(f.limit + 1);
  }

  /** The queue's counters at `now`, in one statement over the open requests. */
  async queueCounts(open: readonly RequestStatus[], now: number, weekEnd: number): Promise<QueueCounts> {
    const { requests: r } = this.t;
    const count = (cond: SQL) => sql<number>`coalesce(sum(case when ${cond} then 1 else 0 end), 0)`.mapWith(Number);
    const [row] = await this.h.q
      .select({
        open: sql<number>`count(*)`.mapWith(Number),
        dueThisWeek: count(sql`${r.dueAt} >= ${now} and ${r.dueAt} < ${weekEnd}`),
        overdue: count(sql`${r.dueAt} < ${now}`),
        needsAttention: count(sql`${r.status} in ('needs_attention', 'needs_review')`),
        awaitingApproval: count(sql`${r.status} = 'awaiting_approval'`),
      })
      .from(r)
      .where(inArray(r.status, [...open]));
    return row ?? { open: 0, dueThisWeek: 0, overdue: 0, needsAttention: 0, awaitingApproval: 0 };
  }

  // --- reports (src/admin/reports.ts) -------------------------------------------------------
  // The period is the requests *received* in [from, to): each is counted once, with its outcome.
  // Two grouped scans, no expression with a parameter in a GROUP BY (PostgreSQL matches the
  // grouped expression to the selected one textually) and no per-row CASE sums (measured: the
  // sort of one composite key costs less than evaluating many sums per row).

  /** Requests received in the period, counted per type, channel and outcome. */
  reportOutcomes(from: number, to: number): Promise<ReportOutcome[]> {
    const { requests: r } = this.t;
    const extended = sql<boolean>`${r.extendedMonths} > 0`.mapWith(Boolean);
    const onTime = sql<boolean | null>`${r.completedAt} <= ${r.dueAt}`.mapWith(Boolean);
    return this.h.q
      .select({ type: r.type, channel: r.channel, status: r.status, verified: r.verified, extended, onTime, code: r.statusReasonCode, n: sql<number>`count(*)`.mapWith(Number) })
      .from(r)
      .where(and(gte(r.receivedAt, from), lt(r.receivedAt, to)))
      .groupBy(r.type, r.channel, r.status, r.verified, extended, onTime, r.statusReasonCode);
  }

  /**
   * How long the completed requests of the period took, as a histogram in tenths of a day
   * (rounded half up: the precision the reports show), per type and channel: compact however many
   * requests there are, and enough for exact nearest-rank percentiles at that precision.
   */
  reportDurations(from: number, to: number): Promise<{ type: RequestType; channel: Channel; tenths: number; n: number }[]> {
    const { requests: r } = this.t;
    const tenths = sql<number>`(${r.completedAt} - ${r.receivedAt} + 4320000) / 8640000`.mapWith(Number);
    return this.h.q
      .select({ type: r.type, channel: r.channel, tenths, n: sql<number>`count(*)`.mapWith(Number) })
      .from(r)
      .where(and(gte(r.receivedAt, from), lt(r.receivedAt, to), eq(r.status, 'completed')))
      .groupBy(r.type, r.channel, tenths);
  }
}
