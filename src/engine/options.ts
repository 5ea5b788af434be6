/** The engine's knobs (defaults from the config), and the retry schedule. */
import { randomBytes } from 'node:crypto';
import type { Deps } from '../deps.js';

export interface EngineOptions {
  workerId: string;
  /** Per connector call. */
  timeoutMs: number;
  /** Attempts before a task fails for good. */
  maxAttempts: number;
  /** Concurrent calls per connector, across every instance on the database. */
  concurrency: number;
  /** Concurrent calls in all, on this instance (a request fanning out to 1,000 silos must not open 1,000 at once). */
  maxInFlight: number;
  /** Export builds at once on this instance (each streams a person's records to disk). */
  finalizeConcurrency: number;
  /** Lease = timeout + margin: a live worker always records before its lease runs out. */
  leaseMarginMs: number;
  backoffBaseMs: number;
  backoffMaxMs: number;
  /** Longest sleep of the background loop when nothing wakes it. */
  pollMs: number;
  sweepEveryMs: number;
  /**
   * A task of a connector no instance has configured fails once it has been due this long
   * (not at once: during a rolling deploy another instance may already have the connector).
   */
  orphanGraceMs: number;
  random: () => number;
}

export const ENGINE_ACTOR = { type: 'system', id: 'engine' } as const;

export function engineOptions(deps: Pick<Deps, 'config'>, opts: Partial<EngineOptions>): EngineOptions {
  return {
    workerId: `wrk_${randomBytes(6).toString('hex')}`,
    timeoutMs: deps.config.taskTimeoutMs,
    maxAttempts: deps.config.taskMaxAttempts,
    concurrency: deps.config.connectorConcurrency,
    maxInFlight: 64,
    finalizeConcurrency: 2,
    leaseMarginMs: 5000,
    backoffBaseMs: 1000,
    backoffMaxMs: 5 * 60_000,
    pollMs: 1000,
    sweepEveryMs: 60_000,
    orphanGraceMs: 10 * 60_000,
    random: Math.random,
    ...opts,
  };
}

/** The lease a claim takes: a connector call's time limit plus a margin to record its outcome. */
export function leaseMs(opts: Pick<EngineOptions, 'timeoutMs' | 'leaseMarginMs'>): number {
  return opts.timeoutMs + opts.leaseMarginMs;
}

/** Exponential backoff with full jitter in [base·2^(n-1)/2, base·2^(n-1)], capped. */
export function backoffDelay(attempt: number, baseMs: number, maxMs: number, random: () => number): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}
