/**
 * Sends webhook deliveries: claims due ones (src/db/stores/webhooks.ts: leases, SKIP LOCKED, one
 * at a time per order key), signs each attempt (Standard Webhooks: the same `webhook-id`, this
 * attempt's `webhook-timestamp`), POSTs it through the SSRF-safe client (no redirect followed,
 * 15 s, the answer read up to a cap), and records what happened — group-committed, so a fan-out
 * of thousands of messages costs a few transactions, not one per message.
 *
 * What an answer means:
 * - 2xx within 15 s: delivered;
 * - 410 Gone: the receiver asks to stop — the endpoint is disabled (the DPO told);
 * - anything else (3xx included: redirects are not followed), no answer, a refused connection:
 *   a failed attempt, retried on the schedule of ./retry.ts (429/502/503/504's Retry-After
 *   honoured); after the last attempt the delivery has failed. An endpoint that has not had one
 *   success for three days is disabled.
 *
 * Crash safety: a delivery is `pending` until its outcome commits; a sender that dies leaves its
 * lease to run out and the delivery becomes due again (the receiver may get it twice, with the
 * same `webhook-id`: Standard Webhooks receivers deduplicate by it). One deliverer per process;
 * any number of processes may share a database.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { OutboundClient } from '../../connectors/net/index.js';
import { OutboundError, retryAfterMs } from '../../connectors/net/index.js';
import type { Ctx, Deps } from '../deps.js';
import type { Stores } from '../db/handle.js';
import type { WebhookDelivery, WebhookEndpoint } from '../db/schema/webhooks.js';
import type { AttemptRecord } from '../db/stores/webhooks.js';
import { GroupCommit } from '../db/group-commit.js';
import { BackgroundLoop } from '../background-loop.js';
import { AppError } from '../errors.js';
import { WEBHOOK_CHANNEL } from './events.js';
import { disableEndpoint } from './endpoints.js';
import { endpointSigners } from './secrets.js';
import { deliverySealKey, sealHolds } from './delivery-seal.js';
import { signWebhook, type WebhookSigner } from './signing.js';
import { DISABLE_AFTER_MS, nextAttemptAt } from './retry.js';

export const WEBHOOK_ACTOR = { type: 'system', id: 'webhooks' } as const;

/** Delivered messages are kept 30 days (the endpoint's history), failed ones 90 (to recover). */
export const KEEP_DELIVERED_MS = 30 * 86_400_000;
export const KEEP_FAILED_MS = 90 * 86_400_000;
const PRUNE_EVERY_MS = 3_600_000;
const PRUNE_LEASE = 'webhooks.prune';

export interface DelivererOptions {
  /** Names this process in delivery leases. */
  workerId: string;
  /** Deliveries in flight at once (this process). */
  maxInFlight: number;
  /** Most deliveries claimed per statement. */
  claimBatch: number;
  /** How often to look for due retries and expired leases when nothing wakes the deliverer. */
  pollMs: number;
  /** How long a claimed delivery is this process's: longer than the 15 s an attempt may take. */
  leaseMs: number;
}

export function delivererOptions(opts: Partial<DelivererOptions> = {}): DelivererOptions {
  return {
    workerId: opts.workerId ?? `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`,
    maxInFlight: opts.maxInFlight ?? 64,
    claimBatch: opts.claimBatch ?? 100,
    pollMs: opts.pollMs ?? 1000,
    leaseMs: opts.leaseMs ?? 60_000,
  };
}

/**
 * The first bytes of a receiver's answer, kept for the operator: text only — no control
 * characters (C0 but tab and line feed, C1), no bidi overrides or isolates, zero-width
 * characters, line or paragraph separators, nor BOM: a hostile receiver cannot make the
 * excerpt display as something else (as connectors/callback.ts cleanMessage keeps a silo's).
 */
const RESPONSE_EXCERPT_BYTES = 1024;
// biome-ignore lint/suspicious/noControlCharactersInRegex: stripping them is the point
const NOT_KEPT = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff\ufffd]/g;
function excerpt(body: Buffer): string | null {
  if (body.length === 0) return null;
  return body.subarray(0, RESPONSE_EXCERPT_BYTES).toString('utf8').replace(NOT_KEPT, '') || null;
}

interface Attempt {
  delivery: WebhookDelivery;
  record: AttemptRecord;
  /** The receiver answered 410 Gone. */
  gone: boolean;
  /** An attempt that reached for the receiver and failed (counts toward disabling the endpoint). */
  failed: boolean;
}

export class Deliverer {
  readonly opts: DelivererOptions;
  private readonly ctx: Ctx;
  private readonly inflight = new Map<number, Promise<void>>();
  private readonly controller = new AbortController();
  private readonly outcomes: GroupCommit<Attempt, void>;
  private readonly sealKey: Buffer;
  /** Signers per endpoint, until its secret changes (a rotation). */
  private readonly signers = new Map<string, { sealed: Buffer; previousUntil: number | null; signers: WebhookSigner[]; until: number }>();
  private readonly loop: BackgroundLoop;
  private pumping: Promise<void> | null = null;
  private lastPrune = Number.NEGATIVE_INFINITY;
  /** Attempts recorded by this process (the benchmark reads it). */
  delivered = 0;
  failedAttempts = 0;

  constructor(
    private readonly deps: Deps,
    private readonly client: OutboundClient,
    opts: Partial<DelivererOptions> = {},
  ) {
    this.opts = delivererOptions(opts);
    this.ctx = { ...deps, actor: WEBHOOK_ACTOR };
    this.sealKey = deliverySealKey(deps.secrets.masterKey);
    this.loop = new BackgroundLoop({ db: deps.db, channel: WEBHOOK_CHANNEL, pollMs: this.opts.pollMs, logger: deps.logger, name: 'webhook deliverer', turn: () => this.turn() });
    this.outcomes = new GroupCommit(deps.db, { max: 256, run: (t, items) => this.recordAll(t, items) });
  }

  start(): void {
    this.loop.start();
  }

  /** Stops claiming, aborts attempts in flight (released at once, due again) and waits for them. */
  async stop(): Promise<void> {
    await this.loop.stop(() => this.controller.abort());
    await Promise.allSettled([...this.inflight.values()]);
  }

  /** Sends everything due now, and waits for the outcomes (tests; the server runs the loop). */
  async runUntilIdle(): Promise<void> {
    for (;;) {
      await this.pump();
      if (this.inflight.size === 0) {
        await this.pump();
        if (this.inflight.size === 0) return;
      }
      await Promise.race(this.inflight.values());
    }
  }

  private async turn(): Promise<void> {
    if (this.deps.now() - this.lastPrune >= PRUNE_EVERY_MS) await this.prune();
    await this.pump();
  }

  /** Drops old finished deliveries, by one instance at a time (the lease holder). */
  async prune(): Promise<number> {
    const now = this.deps.now();
    this.lastPrune = now;
    return this.deps.db.tx(async (t) => {
      if (!(await t.leases.acquire(PRUNE_LEASE, this.opts.workerId, now, now + PRUNE_EVERY_MS))) return 0;
      return t.webhooks.prune(now - KEEP_DELIVERED_MS, now - KEEP_FAILED_MS);
    });
  }

  /** Claims and starts what there is room for; one pump at a time. */
  private pump(): Promise<void> {
    this.pumping ??= this.claimAndSend().finally(() => (this.pumping = null));
    return this.pumping;
  }

  private async claimAndSend(): Promise<void> {
    const refill = Math.max(1, Math.floor(Math.min(this.opts.maxInFlight, this.opts.claimBatch) / 2));
    for (;;) {
      const room = Math.min(this.opts.maxInFlight - this.inflight.size, this.opts.claimBatch);
      if (room <= 0 || this.controller.signal.aborted) return;
      // Refill in batches, not one claim per freed slot: on PostgreSQL a claim is a round trip
      // or three, whatever its size.
      if (this.inflight.size > 0 && room < refill) return;
      const now = this.deps.now();
      const claimed = await this.deps.db.tx((t) => t.webhooks.claim(this.opts.workerId, now, now + this.opts.leaseMs, room));
      if (claimed.length === 0) return;
      const endpoints = new Map((await this.deps.db.webhooks.endpoints()).map((e) => [e.id, e]));
      for (const d of claimed) {
        const run = this.send(d, endpoints.get(d.endpointId)).finally(() => {
          this.inflight.delete(d.seq);
          this.loop.wake();
        });
        this.inflight.set(d.seq, run);
      }
      if (claimed.length < room) return;
    }
  }

  private signersOf(e: WebhookEndpoint, now: number): WebhookSigner[] {
    const cached = this.signers.get(e.id);
    // Rebuilt when the secret changed (each sealing differs: its nonce) and when a rotation's overlap ends.
    if (cached && cached.sealed.equals(e.secret) && cached.previousUntil === e.previousUntil && now < cached.until) return cached.signers;
    const signers = endpointSigners(this.deps.secrets.masterKey, e, now);
    const until = e.previousUntil !== null && now < e.previousUntil ? e.previousUntil : Number.POSITIVE_INFINITY;
    this.signers.set(e.id, { sealed: e.secret, previousUntil: e.previousUntil, signers, until });
    return signers;
  }

  /** One attempt: sign, POST, judge the answer, record it. Never throws. */
  private async send(d: WebhookDelivery, endpoint: WebhookEndpoint | undefined): Promise<void> {
    // Disabled (or deleted) while this delivery was being written: it fails, recoverable, unsent.
    if (!endpoint || endpoint.status !== 'enabled') return this.settleUnsent(d, 'ENDPOINT_DISABLED');
    // Written or edited by someone without the master key: never signed, never sent.
    if (!sealHolds(this.sealKey, d)) {
      this.deps.logger.error({ delivery: d.id, endpoint: d.endpointId }, 'webhook delivery row does not match its seal: not sent');
      return this.settleUnsent(d, 'DELIVERY_TAMPERED: the row does not match its seal');
    }
    let status: number | null = null;
    let error: string | null = null;
    let response: string | null = null;
    let retryAfter: number | null = null;
    const started = this.deps.now();
    try {
      const headers = signWebhook({ id: d.id, timestamp: Math.floor(started / 1000), body: d.body }, this.signersOf(endpoint, started));
      const res = await this.client.request({
        url: endpoint.url,
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: d.body,
        signal: this.controller.signal,
      });
      status = res.status;
      response = excerpt(res.body);
      if (status < 200 || status > 299) {
        error = status >= 300 && status < 400 ? `HTTP ${status} (redirects are not followed)` : `HTTP ${status}`;
        retryAfter = retryAfterMs(res.headers['retry-after'], this.deps.now());
      }
    } catch (err) {
      if (this.controller.signal.aborted) {
        await this.release(d);
        return;
      }
      error = err instanceof OutboundError || err instanceof AppError ? `${err.code}: ${err.message}` : 'the attempt failed';
      if (!(err instanceof OutboundError)) this.deps.logger.warn({ err, delivery: d.id }, 'webhook attempt failed unexpectedly');
    }
    const at = this.deps.now();
    const ok = error === null;
    const next = ok ? null : nextAttemptAt(at, d.attempts, status, retryAfter);
    const record: AttemptRecord = {
      seq: d.seq,
      owner: this.opts.workerId,
      status: ok ? 'delivered' : status === 410 || next === null ? 'failed' : 'pending',
      nextAttemptAt: next ?? at,
      lastStatus: status,
      lastError: error?.slice(0, 500) ?? null,
      lastResponse: response,
      at,
    };
    try {
      await this.outcomes.submit({ delivery: d, record, gone: status === 410, failed: !ok });
      if (ok) this.delivered++;
      else this.failedAttempts++;
    } catch (err) {
      // Not recorded: the lease runs out and the delivery is attempted again.
      this.deps.logger.error({ err, delivery: d.id }, 'could not record a webhook attempt');
    }
  }

  /** Fails a delivery without sending it. */
  private async settleUnsent(d: WebhookDelivery, why: string): Promise<void> {
    const at = this.deps.now();
    const record: AttemptRecord = { seq: d.seq, owner: this.opts.workerId, status: 'failed', nextAttemptAt: at, lastStatus: null, lastError: why, lastResponse: null, at };
    await this.outcomes.submit({ delivery: d, record, gone: false, failed: false }).catch(() => {});
  }

  /** A shutdown cut the attempt short: due again at once (another instance may take it). */
  private async release(d: WebhookDelivery): Promise<void> {
    const now = this.deps.now();
    await this.outcomes
      .submit({ delivery: d, gone: false, failed: false, record: { seq: d.seq, owner: this.opts.workerId, status: 'pending', nextAttemptAt: now, lastStatus: null, lastError: 'SHUTDOWN: the attempt was interrupted', lastResponse: null, at: now } })
      .catch(() => {});
  }

  /** Records a group of attempts and what they mean for their endpoints. */
  private async recordAll(t: Stores, items: Attempt[]): Promise<void[]> {
    const succeeded = new Set<string>();
    const failing = new Set<string>();
    const gone = new Set<string>();
    const recorded = await t.webhooks.finishMany(items.map((a) => a.record));
    for (const a of items) {
      if (!recorded.has(a.record.seq)) continue; // no longer ours (the lease ran out)
      const endpoint = a.delivery.endpointId;
      if (a.record.status === 'delivered') succeeded.add(endpoint);
      else if (a.gone) gone.add(endpoint);
      else if (a.failed) failing.add(endpoint);
    }
    const now = this.deps.now();
    for (const id of succeeded) await t.webhooks.succeeded(id);
    for (const id of gone) await disableEndpoint(this.ctx, t, id, 'the receiver answered 410 Gone', now);
    for (const id of failing) {
      if (succeeded.has(id) || gone.has(id)) continue;
      const since = await t.webhooks.failing(id, now);
      if (since !== null && now - since >= DISABLE_AFTER_MS) await disableEndpoint(this.ctx, t, id, 'failing for three days without one success', now);
    }
    return items.map(() => undefined);
  }
}
