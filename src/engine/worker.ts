/**
 * The durable task runner's lifecycle: start, the loop, stop. One per process; any number of
 * processes (instances) may share a database. The jobs are in their own modules:
 * - ./claim.ts       which due tasks to take (leases, global per-connector concurrency);
 * - ./run-task.ts    one connector call, outside any transaction, with a time limit;
 * - ./finalize.ts    the export step of access / portability requests (a claimed task too);
 * - ./outcomes.ts    recording outcomes, group-committed, with what they move on;
 * - ./maintenance.ts the periodic clean-up, one instance at a time.
 *
 * Crash safety (kill -9 at any point):
 * - before the outcome commits, the task stays `running` with a lease; once the lease expires
 *   another worker (or this one after restart) claims it again. Access has no side effect and
 *   erase is idempotent by contract, so the re-run is harmless;
 * - once `done` commits, the task is never claimed again: a finished side effect is not redone;
 * - stage changes and the tasks they create commit with the outcome that triggers them.
 *
 * Wake-ups: a commit that creates work notifies the `engine` channel (PostgreSQL NOTIFY reaches
 * every instance); the loop also polls every `pollMs`, for retries that come due and leases
 * that run out.
 */
import { unlink } from 'node:fs/promises';
import type { Connector } from '../../connectors/types.js';
import { ConnectorError } from '../../connectors/types.js';
import type { Ctx, Deps } from '../deps.js';
import type { Task } from '../db/schema/tasks.js';
import { AppError } from '../errors.js';
import { addEffects, applyEffects, ENGINE_CHANNEL, noEffects, type Effects } from '../requests/advance.js';
import { timeLimit } from '../requests/silo-call.js';
import { removeSpool } from '../requests/spool.js';
import { Scheduler } from './claim.js';
import { buildRequestExport } from './finalize.js';
import { runMaintenance } from './maintenance.js';
import { ENGINE_ACTOR, engineOptions, type EngineOptions } from './options.js';
import { OutcomeRecorder, type Outcome } from './outcomes.js';
import { BackgroundLoop } from '../background-loop.js';
import { callConnector } from './run-task.js';
import { startSeries } from './waiting.js';

export { backoffDelay, type EngineOptions } from './options.js';

/** Longest an erased person's rows stay in the store's write-ahead log after their erasure commits. */
const CHECKPOINT_DELAY_MS = 200;

export class Engine {
  readonly opts: EngineOptions;
  private readonly ctx: Ctx;
  private readonly connectors: Map<string, Connector>;
  private readonly scheduler: Scheduler;
  private readonly outcomes: OutcomeRecorder;
  private readonly inflight = new Map<string, Promise<void>>();
  private readonly perConnector = new Map<string, number>();
  private readonly controllers = new Set<AbortController>();
  private readonly loop: BackgroundLoop;
  private lastSweep = Number.NEGATIVE_INFINITY;
  private checkLeases = true;
  /** Pumps run one at a time (the loop, runUntilIdle and kicks may ask at once). */
  private pumping: Promise<unknown> = Promise.resolve();
  /** Effects of recorded outcomes not applied yet (see schedule). */
  private pending: Effects | null = null;
  private flushTimer: NodeJS.Timeout | null = null;
  /** Wall time spent inside connector calls (ms), for the overhead benchmark. */
  connectorMs = 0;

  constructor(
    private readonly deps: Deps,
    opts: Partial<EngineOptions> = {},
  ) {
    this.opts = engineOptions(deps, opts);
    this.ctx = { ...deps, actor: ENGINE_ACTOR };
    this.connectors = new Map(deps.connectors.map((c) => [c.id, c]));
    this.scheduler = new Scheduler(deps, this.opts, [...this.connectors.keys()]);
    this.outcomes = new OutcomeRecorder(this.ctx, this.opts);
    this.loop = new BackgroundLoop({
      db: deps.db,
      channel: ENGINE_CHANNEL,
      pollMs: this.opts.pollMs,
      logger: deps.logger,
      name: 'engine',
      turn: () => this.turn(),
      // A quiet moment: look for leases to take over.
      onQuiet: () => (this.checkLeases = true),
    });
  }

  /** Starts the background loop (the server does; tests call runUntilIdle instead). */
  start(): void {
    this.loop.start();
  }

  /** Aborts calls in flight (their tasks are released for another run) and waits for them. */
  async stop(): Promise<void> {
    await this.loop.stop(() => {
      for (const c of this.controllers) c.abort(new ConnectorError('SHUTDOWN', 'service shutting down', true));
    });
    await Promise.allSettled([...this.inflight.values()]);
    await this.flushEffects();
  }

  private async turn(): Promise<void> {
    if (this.deps.now() - this.lastSweep >= this.opts.sweepEveryMs) await this.sweep();
    await this.pump();
  }

  /** Runs every due task (and whatever they lead to) until nothing is due or running. */
  async runUntilIdle(): Promise<void> {
    this.checkLeases = true;
    for (;;) {
      const started = await this.pump();
      if (this.inflight.size === 0 && started === 0) break;
      if (this.inflight.size > 0) await Promise.race(this.inflight.values());
    }
    await this.flushEffects();
  }

  /** Claims due tasks within the limits and starts them; answers how many. */
  private pump(): Promise<number> {
    const run = this.pumping.then(() => this.pumpOnce());
    this.pumping = run.catch(() => undefined);
    return run;
  }

  private async pumpOnce(): Promise<number> {
    if (this.loop.stopping) return 0;
    const checkLeases = this.checkLeases;
    this.checkLeases = false;
    const claimed = await this.scheduler.claim({ inflight: this.inflight.size, running: (id) => this.perConnector.get(id) ?? 0 }, checkLeases);
    let started = 0;
    for (const task of claimed) {
      // Still running here (its lease was renewed by the claim): that run records it.
      if (this.inflight.has(task.id)) continue;
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
        this.loop.wake();
      });
    this.inflight.set(key, wrapped);
  }

  private async execute(task: Task): Promise<void> {
    const ac = new AbortController();
    this.controllers.add(ac);
    const cancel = task.phase === 'finalize' ? () => undefined : timeLimit(ac, this.opts.timeoutMs);
    // The task as its outcome must see it (with the start of its series of calls, once recorded).
    let current = task;
    try {
      if (task.phase === 'finalize') {
        await this.finalize(task);
        return;
      }
      const connector = this.connectors.get(task.connectorId);
      if (!connector) throw new ConnectorError('UNKNOWN_CONNECTOR', `connector "${task.connectorId}" is not configured`, false);
      // Only an access call needs the request's type: whether to keep the records it finds.
      const req = task.phase === 'access' ? await this.deps.db.requests.progress(task.requestId) : undefined;
      if (task.phase === 'access' && !req) throw new ConnectorError('REQUEST_MISSING', 'the request no longer exists', false);
      const keepRecords = req !== undefined && req.type !== 'erasure';
      current = await startSeries(this.ctx, task, this.opts.workerId, connector.capabilities.callback === true);
      const outcome = await callConnector(this.ctx, { task: current, connector, keepRecords, signal: ac.signal, timed: (ms) => (this.connectorMs += ms) });
      const r = await this.record({ kind: 'done', task: current, ...outcome });
      if (r) this.deps.logger.debug({ taskId: task.id, connector: task.connectorId, phase: task.phase }, 'connector task done');
    } catch (err) {
      if (this.loop.stopping && ac.signal.aborted && (ac.signal.reason as ConnectorError | undefined)?.code === 'SHUTDOWN') {
        await this.deps.db.tx((t) => t.tasks.release(task.id, this.opts.workerId));
        return;
      }
      await this.recordFailure(current, err);
    } finally {
      cancel();
      this.controllers.delete(ac);
    }
  }

  private async finalize(task: Task): Promise<void> {
    const built = await buildRequestExport(this.ctx, this.opts, task);
    let r;
    try {
      r = await this.outcomes.submit({ kind: 'exported', task, built });
    } catch (err) {
      if (built) await unlink(built.file).catch(() => undefined);
      throw err;
    }
    this.schedule(r.fx);
    if (r.discard) await unlink(r.discard).catch(() => undefined);
    if (r.exported) await removeSpool(this.deps.config.dataDir, task.requestId);
  }

  /** Records an outcome; true when this worker still held the task. */
  private async record(o: Outcome): Promise<boolean> {
    const r = await this.outcomes.submit(o);
    this.schedule(r.fx);
    return r.recorded;
  }

  private async recordFailure(task: Task, err: unknown): Promise<void> {
    const ce = err instanceof ConnectorError ? err : null;
    const code = ce?.code ?? (err instanceof AppError ? err.code : 'CONNECTOR_ERROR');
    const retryable = ce ? ce.retryable : !(err instanceof AppError);
    const message = (err instanceof Error ? err.message : String(err)).slice(0, 500);
    const r = await this.outcomes.submit({ kind: 'failed', task, code, message, retryable, ...(ce?.retryAfterMs !== undefined ? { retryAfterMs: ce.retryAfterMs } : {}) });
    this.schedule(r.fx);
    if (!r.recorded) return;
    this.deps.logger.warn({ taskId: task.id, connector: task.connectorId, code, attempts: task.attempts, final: r.final }, 'connector task failed');
  }

  /**
   * Applies the effects of recorded outcomes after their commits: new work is announced at the
   * end of this turn (one NOTIFY for all its outcomes); erasures are checkpointed within
   * CHECKPOINT_DELAY_MS, one checkpoint for all those that completed meanwhile.
   */
  private schedule(fx: Effects): void {
    if (fx.tasks === 0 && fx.forgotten === 0) return;
    this.pending = addEffects(this.pending ?? noEffects(), fx);
    if (fx.tasks > 0) setImmediate(() => void this.flushEffects());
    else this.flushTimer ??= setTimeout(() => void this.flushEffects(), CHECKPOINT_DELAY_MS);
  }

  private async flushEffects(): Promise<void> {
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.flushTimer = null;
    const fx = this.pending;
    this.pending = null;
    if (!fx) return;
    try {
      await applyEffects(this.deps, fx);
    } catch (err) {
      this.deps.logger.warn({ err }, 'engine could not apply the effects of its outcomes');
    }
    if (fx.tasks > 0) this.loop.wake();
  }

  /** The periodic clean-up (./maintenance.ts): expiries, retention, leftover files. */
  async sweep(): Promise<void> {
    this.lastSweep = this.deps.now();
    const fx = await runMaintenance(this.ctx, this.opts.workerId, this.opts.sweepEveryMs);
    if (fx) this.schedule(fx);
  }
}
