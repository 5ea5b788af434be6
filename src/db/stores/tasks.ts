/**
 * The engine's queue: tasks (one connector call, or an export build, each) claimed with a lease.
 *
 * Claims follow pg-boss / graphile-worker: one statement
 *   UPDATE tasks SET status = 'running', lease… WHERE id IN
 *     (SELECT id FROM tasks WHERE <due> ORDER BY next_attempt_at LIMIT n FOR UPDATE SKIP LOCKED)
 *   RETURNING *
 * so that instances claiming at once take different rows instead of waiting on each other (on
 * SQLite, whose single writer serialises claims, the same statement without the lock clause).
 * Due tasks and expired leases are two index-friendly statements, not one OR that would scan.
 */
import { and, asc, eq, gt, inArray, lte, notInArray, sql, type SQL } from 'drizzle-orm';
import type { Database, Handle, Q } from '../database.js';
import { forUpdate } from '../dialect.js';
import { FINALIZE_CONNECTOR, type Task, type TaskCounts, type TaskPhase, type TaskStatus, type tasks } from '../schema/tasks.js';

const p = sql.placeholder;

export type NewTask = Pick<typeof tasks.$inferInsert, 'id' | 'requestId' | 'connectorId' | 'phase' | 'round' | 'identityWatermark'> & { now: number };

export interface Lease {
  owner: string;
  now: number;
  /** Lease end. */
  until: number;
}

/** One connector's figures (./tasks.ts connectorStats). */
export interface ConnectorStats {
  connectorId: string;
  /** finishedAt of its latest task done; null when none ever was. */
  lastDoneAt: number | null;
  /** Tasks done / failed since the window's start. */
  done: number;
  failed: number;
  /** Tasks waiting for the silo's callback, and when the oldest of them was created. */
  waiting: number;
  oldestWaitingAt: number | null;
}

const OPEN: TaskStatus[] = ['queued', 'running', 'waiting'];

function statements(db: Database) {
  const { tasks: t, requests: r } = db.tables;
  const claimWhere = (due: SQL | undefined) => (q: Q) =>
    q
      .update(t)
      .set({
        status: 'running',
        attempts: sql`${t.attempts} + 1`,
        leaseOwner: sql`${p('owner')}`,
        leaseExpiresAt: sql`${p('until')}`,
      })
      .where(inArray(t.id, forUpdate(db, q.select({ id: t.id }).from(t).where(due).orderBy(asc(t.nextAttemptAt)).limit(p('limit')), { skipLocked: true })))
      .returning();
  return {
    insert: db.statement('tasks.insert', (q) =>
      q.insert(t).values({
        id: p('id'),
        requestId: p('requestId'),
        connectorId: p('connectorId'),
        phase: p('phase'),
        round: p('round'),
        status: 'queued',
        attempts: 0,
        nextAttemptAt: p('now'),
        identityWatermark: p('identityWatermark'),
        createdAt: p('now'),
      }),
    ),
    ofRequest: db.statement<Task>('tasks.ofRequest', (q) =>
      q.select().from(t).where(eq(t.requestId, p('requestId'))).orderBy(asc(t.round), asc(t.createdAt), asc(t.connectorId)),
    ),
    doneAccessOf: db.statement<Task>('tasks.doneAccessOf', (q) =>
      q
        .select()
        .from(t)
        .where(and(eq(t.requestId, p('requestId')), eq(t.phase, 'access'), eq(t.connectorId, p('connectorId')), eq(t.status, 'done'))),
    ),
    openCount: db.statement<{ n: number }>('tasks.openCount', (q) =>
      q
        .select({ n: sql<number>`count(*)`.mapWith(Number) })
        .from(t)
        .where(and(eq(t.requestId, p('requestId')), inArray(t.status, OPEN))),
    ),
    due: db.statement<{ id: string }>('tasks.due', (q) =>
      q
        .select({ id: t.id })
        .from(t)
        .where(and(eq(t.connectorId, p('connectorId')), eq(t.status, 'queued'), lte(t.nextAttemptAt, p('now'))))
        .limit(1),
    ),
    running: db.statement<{ n: number }>('tasks.running', (q) =>
      q
        .select({ n: sql<number>`count(*)`.mapWith(Number) })
        .from(t)
        .where(and(eq(t.connectorId, p('connectorId')), eq(t.status, 'running'), gt(t.leaseExpiresAt, p('now')))),
    ),
    claimDue: db.statement<Task>(
      'tasks.claimDue',
      claimWhere(and(eq(t.connectorId, p('connectorId')), eq(t.status, 'queued'), lte(t.nextAttemptAt, p('now')))),
    ),
    claimExpired: db.statement<Task>(
      'tasks.claimExpired',
      claimWhere(and(eq(t.connectorId, p('connectorId')), eq(t.status, 'running'), lte(t.leaseExpiresAt, p('now')))),
    ),
    finish: db.statement<{ subjectId: string | null }>('tasks.finish', (q) =>
      q
        .update(t)
        .set({
          status: sql`${p('status')}`,
          result: sql`${p('result')}`,
          lastErrorCode: sql`${p('code')}`,
          lastError: sql`${p('error')}`,
          leaseOwner: null,
          leaseExpiresAt: null,
          finishedAt: sql`${p('finishedAt')}`,
          nextAttemptAt: sql`${p('next')}`,
        })
        .where(and(eq(t.id, p('id')), eq(t.status, 'running'), eq(t.leaseOwner, p('owner'))))
        // The request's person comes back with it: the outcome's audit entry names them.
        .returning({ subjectId: sql<string | null>`(select ${r.subjectId} from ${r} where ${r.id} = ${t.requestId})` }),
    ),
    setResult: db.statement('tasks.setResult', (q) =>
      q
        .update(t)
        .set({ result: sql`${p('result')}` })
        .where(eq(t.id, p('id'))),
    ),
    extendLease: db.statement('tasks.extendLease', (q) =>
      q
        .update(t)
        .set({ leaseExpiresAt: sql`${p('until')}` })
        .where(and(eq(t.id, p('id')), eq(t.status, 'running'), eq(t.leaseOwner, p('owner')))),
    ),
    status: db.statement<{ status: TaskStatus }>('tasks.status', (q) => q.select({ status: t.status }).from(t).where(eq(t.id, p('id')))),
  };
}

/** JSON text of a result for the prepared updates (both dialects parse it into their JSON column). */
const json = (v: unknown) => (v === null || v === undefined ? null : JSON.stringify(v));

export class TaskStore {
  constructor(private readonly h: Handle) {}

  private get s() {
    return this.h.db.cached('tasks', statements);
  }

  private get t() {
    return this.h.db.tables;
  }

  async insert(task: NewTask): Promise<void> {
    await this.s.insert.run(this.h, task);
  }

  /**
   * Several tasks at once (a planning round). Measured exception, as in the audit store: on
   * SQLite one prepared single-row insert each; on PostgreSQL one multi-row insert (one round
   * trip, not one per task).
   */
  async insertMany(rows: NewTask[]): Promise<void> {
    if (rows.length === 0) return;
    if (this.h.db.dialect === 'sqlite' || rows.length === 1) {
      for (const r of rows) await this.s.insert.run(this.h, r);
      return;
    }
    await this.h.q.insert(this.t.tasks).values(
      rows.map(({ now, ...r }) => ({ ...r, status: 'queued' as const, attempts: 0, nextAttemptAt: now, createdAt: now })),
    );
  }

  /** A request's tasks by round, then creation. */
  ofRequest(requestId: string): Promise<Task[]> {
    return this.s.ofRequest.all(this.h, { requestId });
  }

  /** The connector's finished access calls for the request (what an erasure there may use). */
  doneAccessOf(requestId: string, connectorId: string): Promise<Task[]> {
    return this.s.doneAccessOf.all(this.h, { requestId, connectorId });
  }

  /** Tasks of the request still queued, running or waiting for a callback. */
  async openCount(requestId: string): Promise<number> {
    return (await this.s.openCount.first(this.h, { requestId }))?.n ?? 0;
  }

  /** Tasks by connector and status (what /metrics shows): one grouped count over the connector index. */
  countsByConnectorAndStatus(): Promise<{ connectorId: string; status: TaskStatus; n: number }[]> {
    const { tasks: t } = this.t;
    return this.h.q
      .select({ connectorId: t.connectorId, status: t.status, n: sql<number>`count(*)`.mapWith(Number) })
      .from(t)
      .groupBy(t.connectorId, t.status);
  }

  /** Whether some task of this connector is due (a cheap look before a claim transaction). */
  async hasDue(connectorId: string, now: number): Promise<boolean> {
    return (await this.s.due.first(this.h, { connectorId, now })) !== undefined;
  }

  /**
   * Which of these connectors have a due task (a cheap look before a claim transaction).
   * With `full`, one already running that many tasks under a live lease (on every instance)
   * is left out, but for `full.except`: its claim would find no slot. The claim transaction
   * counts again under the connector's lock; this look only spares it when it cannot claim.
   * Measured exception: on PostgreSQL one round trip for all of them (an index probe per id);
   * on SQLite, in process, one prepared probe each.
   */
  async connectorsWithDue(ids: readonly string[], now: number, enough = ids.length, full?: { at: number; except: string }): Promise<Set<string>> {
    const out = new Set<string>();
    if (this.h.db.dialect === 'sqlite') {
      for (const id of ids) {
        if (out.size >= enough) break;
        if (full && id !== full.except && (await this.runningCount(id, now)) >= full.at) continue;
        if (await this.hasDue(id, now)) out.add(id);
      }
      return out;
    }
    const { tasks: t } = this.t;
    // PostgreSQL only (the handle is typed as SQLite's: see database.ts): node-postgres's execute().
    const pgq = this.h.q as unknown as { execute(q: SQL): Promise<{ rows: { c: string }[] }> };
    const { rows } = await pgq.execute(
      sql`select c from jsonb_array_elements_text(${JSON.stringify(ids)}::jsonb) with ordinality as u(c, n) where exists (select 1 from ${t} where ${t.connectorId} = u.c and ${t.status} = 'queued' and ${t.nextAttemptAt} <= ${now})${
        full
          ? sql` and (u.c = ${full.except} or (select count(*) from ${t} where ${t.connectorId} = u.c and ${t.status} = 'running' and ${t.leaseExpiresAt} > ${now}) < ${full.at})`
          : sql``
      } order by n limit ${enough}`,
    );
    for (const r of rows) out.add(r.c);
    return out;
  }

  /** Tasks of this connector running under a live lease, on every instance. */
  async runningCount(connectorId: string, now: number): Promise<number> {
    return (await this.s.running.first(this.h, { connectorId, now }))?.n ?? 0;
  }

  /** Claims up to `limit` due tasks of this connector, oldest due first. */
  async claimDue(connectorId: string, lease: Lease, limit: number): Promise<Task[]> {
    if (limit <= 0) return [];
    const rows = await this.s.claimDue.all(this.h, { connectorId, ...lease, limit });
    return rows.sort((a, b) => a.nextAttemptAt - b.nextAttemptAt);
  }

  /** Claims up to `limit` tasks of this connector whose worker's lease ran out (it crashed). */
  claimExpired(connectorId: string, lease: Lease, limit: number): Promise<Task[]> {
    if (limit <= 0) return Promise.resolve([]);
    return this.s.claimExpired.all(this.h, { connectorId, ...lease, limit });
  }

  /**
   * Claims due tasks of connectors not in `known` whose due time is before `dueBefore`: no
   * instance runs them (a connector removed from the config). The claimant fails them.
   */
  async claimOrphans(known: readonly string[], dueBefore: number, lease: Lease, limit: number): Promise<Task[]> {
    const { tasks: t } = this.t;
    const ignore = [...known, FINALIZE_CONNECTOR];
    const pick = forUpdate(
      this.h.db,
      this.h.q
        .select({ id: t.id })
        .from(t)
        .where(and(eq(t.status, 'queued'), lte(t.nextAttemptAt, dueBefore), notInArray(t.connectorId, ignore)))
        .limit(limit),
      { skipLocked: true },
    );
    return this.h.q
      .update(t)
      .set({ status: 'running', attempts: sql`${t.attempts} + 1`, leaseOwner: lease.owner, leaseExpiresAt: lease.until })
      .where(inArray(t.id, pick))
      .returning();
  }

  /**
   * Records the outcome of a claimed task: only its lease holder can (a worker that lost its
   * lease, or whose task was cancelled, changes nothing). Null when it was not the holder;
   * else the registry subject of the task's request (whom its audit entry names), if any.
   */
  async finish(v: {
    id: string;
    owner: string;
    status: TaskStatus;
    result: TaskCounts | null;
    code: string | null;
    error: string | null;
    finishedAt: number | null;
    next: number;
  }): Promise<{ subjectId: string | null } | null> {
    return (await this.s.finish.first(this.h, { ...v, result: json(v.result) })) ?? null;
  }

  async setResult(id: string, result: TaskCounts): Promise<void> {
    await this.s.setResult.run(this.h, { id, result: json(result) });
  }

  /** Sets the result of a task `owner` holds (before its call: what every attempt must send alike); false when it lost it. */
  async setHeldResult(id: string, owner: string, result: TaskCounts): Promise<boolean> {
    const { tasks: t } = this.t;
    const rows = await this.h.q
      .update(t)
      .set({ result })
      .where(and(eq(t.id, id), eq(t.status, 'running'), eq(t.leaseOwner, owner)))
      .returning({ id: t.id });
    return rows.length === 1;
  }

  /** Keeps a long step's lease alive; false when it was lost. */
  async extendLease(id: string, owner: string, until: number): Promise<boolean> {
    return (await this.s.extendLease.run(this.h, { id, owner, until })) === 1;
  }

  /** Gives a claimed task back untouched (shutdown): queued again, the attempt not counted. */
  async release(id: string, owner: string): Promise<void> {
    const { tasks: t } = this.t;
    await this.h.q
      .update(t)
      .set({ status: 'queued', attempts: sql`case when ${t.attempts} > 0 then ${t.attempts} - 1 else 0 end`, leaseOwner: null, leaseExpiresAt: null })
      .where(and(eq(t.id, id), eq(t.status, 'running'), eq(t.leaseOwner, owner)));
  }

  /** Cancels the request's open tasks; a worker still running one can no longer record it. */
  async cancelOpen(requestId: string, now: number): Promise<void> {
    const { tasks: t } = this.t;
    await this.h.q
      .update(t)
      .set({ status: 'cancelled', leaseOwner: null, finishedAt: now })
      .where(and(eq(t.requestId, requestId), inArray(t.status, OPEN)));
  }

  /** Queues the request's failed tasks again, attempts reset; answers how many. */
  async requeueFailed(requestId: string, now: number): Promise<number> {
    const { tasks: t } = this.t;
    const rows = await this.h.q
      .update(t)
      .set({ status: 'queued', attempts: 0, nextAttemptAt: now, finishedAt: null })
      .where(and(eq(t.requestId, requestId), eq(t.status, 'failed')))
      .returning({ id: t.id });
    return rows.length;
  }

  /** Connectors (finalize included) with a task whose lease ran out: a worker died holding it. */
  async connectorsWithExpiredLeases(now: number, limit = 64): Promise<string[]> {
    const { tasks: t } = this.t;
    const rows = await this.h.q
      .selectDistinct({ connectorId: t.connectorId })
      .from(t)
      .where(and(eq(t.status, 'running'), lte(t.leaseExpiresAt, now)))
      .limit(limit);
    return rows.map((r) => r.connectorId);
  }

  async get(id: string): Promise<Task | undefined> {
    const { tasks: t } = this.t;
    const [row] = await this.h.q.select().from(t).where(eq(t.id, id)).limit(1);
    return row;
  }

  /**
   * Takes a task that waits for its silo's answer (a callback, a reminder's answer, its
   * deadline) as a claim would — `running` under `lease`, so that only the taker records its
   * outcome (`finish`) — but without counting an attempt. With `dueBy`, only when its next
   * check is due by then (the sweep). Null when it no longer waits: answered, cancelled, or
   * taken by another.
   */
  async claimWaiting(id: string, lease: Lease, dueBy?: number): Promise<Task | null> {
    const { tasks: t } = this.t;
    const [row] = await this.h.q
      .update(t)
      .set({ status: 'running', leaseOwner: lease.owner, leaseExpiresAt: lease.until })
      .where(and(eq(t.id, id), eq(t.status, 'waiting'), dueBy === undefined ? undefined : lte(t.nextAttemptAt, dueBy)))
      .returning();
    return row ?? null;
  }

  /** Waiting tasks whose next check (a reminder or the deadline) is due, oldest first. */
  waitingDue(now: number, limit: number): Promise<Task[]> {
    const { tasks: t } = this.t;
    return this.h.q
      .select()
      .from(t)
      .where(and(eq(t.status, 'waiting'), lte(t.nextAttemptAt, now)))
      .orderBy(asc(t.nextAttemptAt))
      .limit(limit);
  }

  /**
   * Moves a waiting task's next check on (a reminder sent): compare-and-set on the check it was
   * due at, so that of two sweeps only one sends it. False when the task changed meanwhile.
   */
  async rescheduleWaiting(id: string, dueAt: number, next: number, result: TaskCounts): Promise<boolean> {
    const { tasks: t } = this.t;
    const rows = await this.h.q
      .update(t)
      .set({ nextAttemptAt: next, result })
      .where(and(eq(t.id, id), eq(t.status, 'waiting'), eq(t.nextAttemptAt, dueAt)))
      .returning({ id: t.id });
    return rows.length === 1;
  }

  async status(id: string): Promise<TaskStatus | undefined> {
    return (await this.s.status.first(this.h, { id }))?.status;
  }

  /** Phases of the request's failed tasks. */
  async failedPhases(requestId: string): Promise<Set<TaskPhase>> {
    const { tasks: t } = this.t;
    const rows = await this.h.q
      .select({ phase: t.phase })
      .from(t)
      .where(and(eq(t.requestId, requestId), eq(t.status, 'failed')));
    return new Set(rows.map((r) => r.phase));
  }

  /**
   * Per connector, for the dashboard's silos page: its latest success, what finished since
   * `since` (done, failed) and its tasks waiting for a callback (how many, the oldest by
   * creation). One grouped scan of the queue (the page is read by staff now and then, not on a
   * hot path); connectors with no task are absent.
   */
  async connectorStats(since: number): Promise<ConnectorStats[]> {
    const { tasks: t } = this.t;
    const n = (cond: SQL) => sql<number>`coalesce(sum(case when ${cond} then 1 else 0 end), 0)`.mapWith(Number);
    return this.h.q
      .select({
        connectorId: t.connectorId,
        lastDoneAt: sql<number | null>`max(case when ${t.status} = 'done' then ${t.finishedAt} end)`.mapWith(Number),
        done: n(sql`${t.status} = 'done' and ${t.finishedAt} >= ${since}`),
        failed: n(sql`${t.status} = 'failed' and ${t.finishedAt} >= ${since}`),
        waiting: n(sql`${t.status} = 'waiting'`),
        oldestWaitingAt: sql<number | null>`min(case when ${t.status} = 'waiting' then ${t.createdAt} end)`.mapWith(Number),
      })
      .from(t)
      .groupBy(t.connectorId);
  }
}
