/**
 * The durable task runner. One per process; several processes (or instances) may share a
 * database: a task is claimed with a lease in a write transaction, the connector is called
 * OUTSIDE any transaction with a timeout, and the outcome is recorded only by the lease holder.
 *
 * Crash safety (kill -9 at any point):
 * - before the outcome commits, the task stays `running` with a lease; once the lease expires
 *   another worker (or this one after restart) claims it again. Access has no side effect and
 *   erase is idempotent by contract, so the re-run is harmless;
 * - once `done` commits, the task is never claimed again: a finished side effect is not redone;
 * - stage changes and the tasks they create commit with the outcome that triggers them.
 */
import { randomBytes } from 'node:crypto';
import { unlink } from 'node:fs/promises';
import type { Connector, ConnectorContext } from '../../connectors/types.js';
import { ConnectorError, isPending } from '../../connectors/types.js';
import { writeTx, type Sqlite } from '../db/client.js';
import type { Ctx, Deps } from '../deps.js';
import type { TaskCounts } from '../db/schema/tasks.js';
import { maskIdentity } from '../identity.js';
import { AppError } from '../errors.js';
import { attributeAccess, type CallIdentity, type Discovery } from './attribution.js';
import { erasableIds, includedIds, searchableIds } from './identities.js';
import { advance, auditRequest, ENGINE_ACTOR, MAX_IDENTITIES, outcomeCounts } from './plan.js';
import { validateAccess, validateErasure } from './results.js';
import { removeSpool, spoolFile, writeSpool } from './spool.js';
import { sweepRequests } from './sweep.js';
import { getRequestLite, getRequestRow, identitiesOf, stmts, tasksOf, toTask, type TaskRow } from './store.js';
import { buildExport } from '../requests/export.js';

export interface EngineOptions {
  workerId: string;
  /** Per connector call. */
  timeoutMs: number;
  /** Attempts before a task fails for good. */
  maxAttempts: number;
  /** Concurrent calls per connector. */
  concurrency: number;
  /** Concurrent calls in all (a request fanning out to 1,000 silos must not open 1,000 at once). */
  maxInFlight: number;
  /** Lease = timeout + margin: a live worker always records before its lease runs out. */
  leaseMarginMs: number;
  backoffBaseMs: number;
  backoffMaxMs: number;
  /** Longest sleep of the background loop when nothing wakes it. */
  pollMs: number;
  sweepEveryMs: number;
  random: () => number;
}

const wakers = new WeakMap<Sqlite, Set<() => void>>();

/** Tells the engines on this database that there is work (called after a commit). */
export function notifyEngine(db: { $client: Sqlite }): void {
  for (const w of wakers.get(db.$client) ?? []) w();
}

/** Exponential backoff with full jitter in [base·2^(n-1)/2, base·2^(n-1)], capped. */
export function backoffDelay(attempt: number, baseMs: number, maxMs: number, random: () => number): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

export class Engine {
  readonly opts: EngineOptions;
  private readonly ctx: Ctx;
  private readonly connectors: Map<string, Connector>;
  private readonly connectorIds: string[];
  private rr = 0;
  private readonly searchable: Set<string>;
  private readonly inflight = new Map<string, Promise<void>>();
  private readonly perConnector = new Map<string, number>();
  private readonly controllers = new Set<AbortController>();
  private readonly finalizing = new Set<string>();
  private stopped = true;
  private loopDone: Promise<void> | null = null;
  private kick: (() => void) | null = null;
  private lastSweep = 0;
  /** Requests that reached `finalize` (in this process, or found by the periodic scan). */
  private readonly toFinalize = new Set<string>();
  private scanFinalize = true;
  private checkLeases = true;
  private readonly waker = () => {
    this.scanFinalize = true;
    this.kick?.();
  };
  /** Wall time spent inside connector calls (ms), for the overhead benchmark. */
  connectorMs = 0;

  constructor(
    private readonly deps: Deps,
    opts: Partial<EngineOptions> = {},
  ) {
    this.opts = {
      workerId: `wrk_${randomBytes(6).toString('hex')}`,
      timeoutMs: deps.config.taskTimeoutMs,
      maxAttempts: deps.config.taskMaxAttempts,
      concurrency: deps.config.connectorConcurrency,
      maxInFlight: 64,
      leaseMarginMs: 5000,
      backoffBaseMs: 1000,
      backoffMaxMs: 5 * 60_000,
      pollMs: 1000,
      sweepEveryMs: 60_000,
      random: Math.random,
      ...opts,
    };
    this.ctx = { ...deps, actor: ENGINE_ACTOR };
    this.savepoint = deps.db.$client.transaction((fn: () => boolean) => fn());
    this.connectors = new Map(deps.connectors.map((c) => [c.id, c]));
    this.connectorIds = [...this.connectors.keys()];
    this.searchable = new Set(deps.connectors.flatMap((c) => c.lookupBy));
  }

  /** Starts the background loop (the server does; tests call runUntilIdle instead). */
  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    let set = wakers.get(this.deps.db.$client);
    if (!set) wakers.set(this.deps.db.$client, (set = new Set()));
    set.add(this.waker);
    this.loopDone = this.loop();
  }

  /** Aborts calls in flight (their tasks are released for another run) and waits for them. */
  async stop(): Promise<void> {
    this.stopped = true;
    wakers.get(this.deps.db.$client)?.delete(this.waker);
    for (const c of this.controllers) c.abort(new ConnectorError('SHUTDOWN', 'service shutting down', true));
    this.kick?.();
    await this.loopDone;
    await Promise.allSettled([...this.inflight.values()]);
  }

  private async loop(): Promise<void> {
    while (!this.stopped) {
      try {
        if (this.deps.now() - this.lastSweep >= this.opts.sweepEveryMs) await this.sweep();
        this.pump();
      } catch (err) {
        this.deps.logger.error({ err }, 'engine loop error');
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          // A quiet moment: look for leases to take over and requests to finalize.
          this.scanFinalize = true;
          this.checkLeases = true;
          resolve();
        }, this.opts.pollMs);
        this.kick = () => {
          clearTimeout(timer);
          this.kick = null;
          // Outcomes finishing in the same turn share one pump.
          setImmediate(resolve);
        };
      });
    }
  }

  /** Runs every due task (and whatever they lead to) until nothing is due or running. */
  async runUntilIdle(): Promise<void> {
    this.scanFinalize = true;
    this.checkLeases = true;
    for (;;) {
      const started = this.pump();
      if (this.inflight.size === 0 && started === 0) return;
      if (this.inflight.size > 0) await Promise.race(this.inflight.values());
    }
  }

  /** Claims due tasks within the concurrency limits and starts them; also starts finalizers. */
  private pump(): number {
    let started = 0;
    if (this.scanFinalize) {
      this.scanFinalize = false;
      for (const id of stmts(this.deps.db).finalizing.all() as string[]) this.toFinalize.add(id);
    }
    for (const id of this.toFinalize) {
      this.toFinalize.delete(id);
      if (this.finalizing.has(id) || this.inflight.has(`fin:${id}`)) continue;
      this.track(`fin:${id}`, this.finalize(id));
      started++;
    }
    for (const task of this.claim()) {
      this.perConnector.set(task.connectorId, (this.perConnector.get(task.connectorId) ?? 0) + 1);
      this.track(task.id, this.execute(task).finally(() => this.perConnector.set(task.connectorId, (this.perConnector.get(task.connectorId) ?? 1) - 1)));
      started++;
    }
    return started;
  }

  private track(key: string, p: Promise<void>): void {
    const wrapped = p
      .catch((err: unknown) => this.deps.logger.error({ err, key }, 'engine job failed'))
      .finally(() => {
        this.inflight.delete(key);
        this.kick?.();
      });
    this.inflight.set(key, wrapped);
  }

  private claim(): TaskRow[] {
    if (this.stopped && this.loopDone) return [];
    const now = this.deps.now();
    const s = stmts(this.deps.db);
    const until = now + this.opts.timeoutMs + this.opts.leaseMarginMs;
    // Candidates are read without the write lock; the guarded UPDATE in the transaction below
    // is what claims them (a task another worker took meanwhile is skipped).
    const candidates = (() => {
      const room = new Map<string, number>();
      // Only as many due tasks per connector as it has free slots: with thousands queued, a
      // claim reads a handful of rows, not the whole queue.
      const due: unknown[] = [];
      let total = this.opts.maxInFlight - this.inflight.size;
      // Round-robin start, so that under the global cap no connector starves the others.
      const ids = this.connectorIds;
      const start = this.rr++ % Math.max(1, ids.length);
      for (let k = 0; k < ids.length; k++) {
        const id = ids[(start + k) % ids.length]!;
        if (total <= 0) break;
        const free = Math.min(total, this.opts.concurrency - (this.perConnector.get(id) ?? 0));
        if (free <= 0) continue;
        const rows = s.dueTasksOf.all({ now, connector: id, limit: free });
        total -= rows.length;
        due.push(...rows);
      }
      // Leases of crashed workers, and tasks of connectors no longer configured (they fail):
      // checked on the loop's timer, not after every outcome.
      if (this.checkLeases) {
        this.checkLeases = false;
        due.push(...s.expiredLeases.all({ now, limit: 256 }));
        for (const raw of s.dueTasks.all({ now, limit: 256 })) if (!this.connectors.has((raw as TaskRow).connectorId)) due.push(raw);
      }
      const out: TaskRow[] = [];
      for (const raw of due) {
        const t = toTask(raw);
        if (this.inflight.has(t.id)) continue;
        const used = (this.perConnector.get(t.connectorId) ?? 0) + (room.get(t.connectorId) ?? 0);
        if (used >= this.opts.concurrency) continue;
        room.set(t.connectorId, (room.get(t.connectorId) ?? 0) + 1);
        out.push(t);
      }
      return out;
    })();
    if (candidates.length === 0) return [];
    return writeTx(this.deps.db, () => {
      const claimed: TaskRow[] = [];
      for (const t of candidates) {
        if (s.claim.run({ id: t.id, owner: this.opts.workerId, until, now }).changes !== 1) continue;
        claimed.push({ ...t, attempts: t.attempts + 1, status: 'running', leaseOwner: this.opts.workerId, leaseExpiresAt: until });
      }
      return claimed;
    });
  }

  private async execute(task: TaskRow): Promise<void> {
    const req = getRequestLite(this.deps.db, task.requestId);
    const connector = this.connectors.get(task.connectorId);
    const ac = new AbortController();
    this.controllers.add(ac);
    const timer = setTimeout(
      () => ac.abort(new ConnectorError('TIMEOUT', `no answer within ${this.opts.timeoutMs} ms`, true)),
      this.opts.timeoutMs,
    );
    try {
      if (!req) throw new ConnectorError('REQUEST_MISSING', 'the request no longer exists', false);
      if (!connector) throw new ConnectorError('UNKNOWN_CONNECTOR', `connector "${task.connectorId}" is not configured`, false);
      // Only identities held for the person (never a weak link or one under review); an
      // erasure only those this silo's access pass already searched by (so judged).
      const identities = identitiesOf(this.deps.db, req.id);
      const allowed = new Set(task.phase === 'access' ? searchableIds(connector, identities) : erasableIds(connector, tasksOf(this.deps.db, req.id), identities));
      const call: CallIdentity[] = identities
        .filter((i) => i.id <= task.identityWatermark && allowed.has(i.id))
        .map((i) => ({ id: i.id, type: i.type, value: i.value! }));
      const who = call.map(({ type, value }) => ({ type, value }));
      const searched = call.map((i) => i.id);
      const cctx: ConnectorContext = {
        signal: ac.signal,
        requestId: req.id,
        dryRun: false,
        log: this.deps.logger.child({ connector: connector.id, requestId: req.id, taskId: task.id }),
      };
      const t0 = performance.now();
      let raw: unknown;
      try {
        raw = await abortable<unknown>(task.phase === 'erase' ? connector.erase(who, cctx) : connector.access(who, cctx), ac.signal);
      } finally {
        this.connectorMs += performance.now() - t0;
      }
      if (task.phase === 'erase') {
        const r = validateErasure(raw);
        if (isPending(r)) {
          await this.recordDone(task, { collections: [], found: 0, deleted: 0, masked: 0, retained: 0, pendingRef: r.ref, searched }, [], 'waiting');
          return;
        }
        const counts: TaskCounts = { collections: r.collections.map((c) => ({ ...c })), found: 0, deleted: 0, masked: 0, retained: 0, searched };
        for (const c of r.collections) {
          counts.deleted += c.deleted;
          counts.masked += c.masked;
          counts.retained += c.retained;
        }
        await this.recordDone(task, counts, []);
      } else {
        const r = validateAccess(raw);
        raw = undefined;
        const attributed = attributeAccess(r, call, { connectorId: connector.id, defaultRegion: this.deps.config.phoneRegion });
        const counts: TaskCounts = {
          collections: r.collections.map((c) => ({ name: c.name, found: c.records.length, portable: c.portable, ...(c.matchedBy ? { matchedBy: c.matchedBy } : {}) })),
          found: r.collections.reduce((n, c) => n + c.records.length, 0),
          deleted: 0,
          masked: 0,
          retained: 0,
          discovered: r.discovered.length,
          searched,
        };
        // Only access/portability requests keep the records, spooled to disk before "done".
        if (task.phase === 'access' && req.type !== 'erasure') {
          await writeSpool(spoolFile(this.deps.config.dataDir, req.id, task.id), r.collections, attributed.origins);
        }
        await this.recordDone(task, counts, task.phase === 'access' ? attributed.discoveries : []);
      }
    } catch (err) {
      if (this.stopped && ac.signal.aborted && (ac.signal.reason as ConnectorError | undefined)?.code === 'SHUTDOWN') {
        this.release(task);
        return;
      }
      await this.recordFailure(task, err);
    } finally {
      clearTimeout(timer);
      this.controllers.delete(ac);
    }
  }

  private batch: { fn: () => boolean; resolve: (v: boolean) => void; reject: (e: unknown) => void }[] = [];
  /** Runs `fn` in a savepoint of the current transaction (one prepared wrapper, reused). */
  private readonly savepoint: (fn: () => boolean) => boolean;

  /**
   * Group commit: outcomes that arrive in the same turn of the event loop are recorded in one
   * write transaction (one WAL commit); one failing item cannot undo the others (see flush).
   * Until it commits, an outcome is not recorded: a crash re-runs the task.
   */
  private commit(fn: () => boolean): Promise<boolean> {
    return new Promise<boolean>((resolve, reject) => {
      this.batch.push({ fn, resolve, reject });
      if (this.batch.length === 1) setImmediate(() => this.flush());
    });
  }

  private flush(): void {
    const items = this.batch;
    this.batch = [];
    let results: ({ ok: true; v: boolean } | { ok: false; e: unknown })[];
    try {
      // Fast path: all in one transaction. Should one item throw, the whole transaction rolls
      // back and the batch is replayed with a savepoint per item (each item is a guarded,
      // self-contained change, so replaying it is safe).
      results = writeTx(this.deps.db, () => items.map((item) => ({ ok: true as const, v: item.fn() })));
    } catch {
      results = [];
      try {
        writeTx(this.deps.db, () => {
          for (const item of items) {
            try {
              results.push({ ok: true, v: this.savepoint(item.fn) });
            } catch (e) {
              results.push({ ok: false, e });
            }
          }
        });
      } catch (e) {
        for (const item of items) item.reject(e);
        return;
      }
    }
    items.forEach((item, i) => {
      const r = results[i]!;
      if (r.ok) item.resolve(r.v);
      else item.reject(r.e);
    });
  }

  private async recordDone(task: TaskRow, counts: TaskCounts, discovered: Discovery[], status: 'done' | 'waiting' = 'done'): Promise<void> {
    const ctx = { ...this.ctx, now: this.deps.now };
    const changed = await this.commit(() => {
      const now = this.deps.now();
      const ok = stmts(this.deps.db).finish.run({
        id: task.id,
        owner: this.opts.workerId,
        status,
        result: JSON.stringify(counts),
        code: null,
        error: null,
        now,
        finishedAt: now,
        next: task.nextAttemptAt,
      });
      if (ok.changes !== 1) return false; // lease lost or request cancelled: someone else owns the outcome
      const req = getRequestLite(this.deps.db, task.requestId)!;
      const { added: followed, limited, evidence } = this.addDiscovered(task, discovered);
      if (task.phase === 'access') stmts(this.deps.db).setTaskResult.run(JSON.stringify({ ...counts, evidence }), task.id);
      auditRequest(ctx, req, status === 'waiting' ? 'task.pending' : 'task.completed', {
        taskId: task.id,
        connector: task.connectorId,
        phase: task.phase,
        round: task.round,
        attempts: task.attempts,
        found: counts.found,
        deleted: counts.deleted,
        masked: counts.masked,
        retained: counts.retained,
        collections: counts.collections.map((c) => ({
          name: c.name,
          ...(task.phase === 'erase'
            ? { deleted: c.deleted, masked: c.masked, retained: c.retained, ...(c.retainedBecause ? { retainedBecause: c.retainedBecause } : {}), ...(c.retainedFields ? { retainedFields: c.retainedFields } : {}) }
            : { found: c.found }),
        })),
        ...(followed.length ? { discovered: followed } : {}),
        ...(limited ? { identityLimitReached: MAX_IDENTITIES } : {}),
      });
      advance(ctx, task.requestId);
      if (req.type !== 'erasure' && getRequestLite(this.deps.db, task.requestId)?.stage === 'finalize') this.toFinalize.add(task.requestId);
      return true;
    });
    if (changed) this.deps.logger.debug({ taskId: task.id, connector: task.connectorId, phase: task.phase }, 'connector task done');
  }

  /**
   * Stores the identities an access call found (bounded) and returns the call's evidence for
   * the judgement at the end of the round: every identity found, known before or not, by id.
   * New ones wait as `pending` until that judgement. One over the bound is still evidence
   * (`id: null`): a value nobody could check cannot make a record look consistent.
   */
  private addDiscovered(task: TaskRow, discovered: Discovery[]) {
    const s = stmts(this.deps.db);
    const added: { type: string; reason: string; weak?: true }[] = [];
    const evidence: NonNullable<TaskCounts['evidence']> = [];
    let count = s.identityCount.get(task.requestId) as number;
    let limited = false;
    for (const d of discovered) {
      const { identity } = d;
      let id = s.identityByValue.get(task.requestId, identity.type, identity.value) as number | undefined;
      if (id !== undefined) {
        if (!d.weak) s.strengthenIdentity.run(id);
      } else if (count >= MAX_IDENTITIES) {
        limited = true; // bounded expansion: the DPO sees it in the audit entry
      } else {
        const r = s.insertIdentity.run({
          requestId: task.requestId,
          type: identity.type,
          value: identity.value,
          masked: maskIdentity(identity),
          source: task.connectorId,
          collection: d.collection ?? null,
          reason: d.reason,
          round: task.round,
          searchable: this.searchable.has(identity.type) ? 1 : 0,
          state: 'pending',
          weak: d.weak ? 1 : 0,
          depth: 0,
          why: null,
        });
        id = Number(r.lastInsertRowid);
        count++;
        added.push({ type: identity.type, reason: d.reason, ...(d.weak ? { weak: true as const } : {}) });
      }
      evidence.push({ id: id ?? null, type: identity.type, by: d.by, ...(d.collection ? { collection: d.collection } : {}) });
    }
    return { added, limited, evidence };
  }

  private async recordFailure(task: TaskRow, err: unknown): Promise<void> {
    const ce = err instanceof ConnectorError ? err : null;
    const code = ce?.code ?? (err instanceof AppError ? err.code : 'CONNECTOR_ERROR');
    const retryable = ce ? ce.retryable : !(err instanceof AppError);
    const message = (err instanceof Error ? err.message : String(err)).slice(0, 500);
    const final = !retryable || task.attempts >= this.opts.maxAttempts;
    const ctx = this.ctx;
    const changed = await this.commit(() => {
      const now = this.deps.now();
      const next = final ? task.nextAttemptAt : now + backoffDelay(task.attempts, this.opts.backoffBaseMs, this.opts.backoffMaxMs, this.opts.random);
      const ok = stmts(this.deps.db).finish.run({
        id: task.id,
        owner: this.opts.workerId,
        status: final ? 'failed' : 'queued',
        result: null,
        code,
        error: message,
        now,
        finishedAt: final ? now : null,
        next,
      });
      if (ok.changes !== 1) return false;
      const req = getRequestRow(this.deps.db, task.requestId)!;
      // The code only: connector messages may quote the values they failed on.
      auditRequest(ctx, req, final ? 'task.failed' : 'task.retry_scheduled', {
        taskId: task.id,
        connector: task.connectorId,
        phase: task.phase,
        attempts: task.attempts,
        code,
        retryable,
        ...(final ? {} : { nextAttemptAt: new Date(next).toISOString() }),
      });
      if (final) advance(ctx, task.requestId);
      return true;
    });
    if (!changed) return;
    this.deps.logger.warn({ taskId: task.id, connector: task.connectorId, code, attempts: task.attempts, final }, 'connector task failed');
  }

  private release(task: TaskRow): void {
    this.deps.db.$client
      .prepare("update tasks set status = 'queued', attempts = max(0, attempts - 1), lease_owner = null, lease_expires_at = null where id = ? and status = 'running' and lease_owner = ?")
      .run(task.id, this.opts.workerId);
  }

  /** Access and portability: builds the ZIP from the spool, then completes the request. */
  private async finalize(requestId: string): Promise<void> {
    this.finalizing.add(requestId);
    try {
      const req = getRequestRow(this.deps.db, requestId);
      if (!req || req.status !== 'running' || req.stage !== 'finalize') return;
      const tasks = tasksOf(this.deps.db, requestId);
      const built = await buildExport(this.deps, req, tasks, includedIds(identitiesOf(this.deps.db, requestId)));
      const ctx = this.ctx;
      const done = writeTx(this.deps.db, () => {
        const now = this.deps.now();
        const expires = now + this.deps.config.exportTtlDays * 86_400_000;
        const r = this.deps.db.$client
          .prepare(
            "update requests set status = 'completed', stage = 'done', completed_at = ?, updated_at = ?, export_path = ?, export_expires_at = ? where id = ? and status = 'running' and stage = 'finalize'",
          )
          .run(now, now, built.path, expires, requestId);
        if (r.changes !== 1) return false;
        auditRequest(ctx, req, 'request.completed', {
          outcome: outcomeCounts(tasks),
          export: { files: Object.keys(built.files).length, bytes: built.bytes, expiresAt: new Date(expires).toISOString() },
        });
        return true;
      });
      if (!done) await unlink(built.path).catch(() => undefined);
      await removeSpool(this.deps.config.dataDir, requestId);
    } finally {
      this.finalizing.delete(requestId);
    }
  }

  /** The periodic clean-up (./sweep.ts): expiries, retention, leftover files. */
  async sweep(): Promise<void> {
    this.lastSweep = this.deps.now();
    await sweepRequests(this.ctx);
  }
}

/** Rejects as soon as `signal` aborts, even if the connector ignores it. */
function abortable<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason as Error);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason as Error);
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e as Error);
      },
    );
  });
}
