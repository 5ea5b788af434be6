/**
 * The webhook connector: an internal system that erases (and exports) its own data, told so by
 * a signed webhook, answering at once or later through oubli's callback.
 *
 * Each call POSTs one Standard Webhooks message (the `webhook-id`, `webhook-timestamp` and
 * `webhook-signature` headers, v1 HMAC or v1a Ed25519 per the secret), body:
 *
 *   { "type": "erasure.requested" | "access.requested", "timestamp": "<first ask, ISO 8601>",
 *     "data": { "requestId", "connector", "identities": [{ "type", "hash" | "value" }],
 *               "callbackUrl", "callbackToken", "answerBy" } }
 *
 * Every call of one task — a retry, a reminder — sends the same message (same `webhook-id`,
 * body and token; only `webhook-timestamp` and the signature are the attempt's), so the system
 * deduplicates by `webhook-id` and answers whenever it is done.
 *
 * The answer (connectors/callback.ts, the same body as a callback):
 * - 2xx with `{status: "completed", …}`: the result, now;
 * - 2xx with `{status: "failed", message}`: the task fails for good (SILO_FAILED);
 * - any other 2xx (202, an empty body, `{status: "accepted"}`): Pending — the task waits for
 *   the callback, reminded every `remindEvery`, failed after `answerWithin`;
 * - 2xx longer than `maxResponseBytes`: cut, not parsed, fatal (SILO_BAD_RESPONSE);
 * - 3xx (not followed), 401/403, 410 and any other 4xx: fatal; 408, 429, 5xx, timeouts and
 *   connection failures: retryable, no sooner than a `Retry-After`.
 * Without a callback (the conformance suite) an answer must come at once. A dry run (the
 * erasure preview) sends nothing: access says it cannot be previewed, erase answers Pending.
 *
 * Logs and errors name the connector, the event and the status — never an identity, the
 * token, the secret or a body.
 *
 * (The one connector importing from src/: the signing of src/webhooks/signing.ts, pure
 * node:crypto shared with oubli's own webhook deliveries, so both sign alike.)
 */
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { signerFromSecret, signWebhook, type WebhookSigner } from '../../src/webhooks/signing.js';
import { accessOfAnswer, AnswerError, CallbackAnswerSchema, cleanMessage, erasureOfAnswer } from '../callback.js';
import { OutboundClient, OutboundError, type Resolver } from '../net/client.js';
import { retryAfterMs } from '../net/retry-after.js';
import type { AccessResult, Connector, ConnectorContext, ErasureResult, Health, Identity, Pending } from '../types.js';
import { ConnectorError } from '../types.js';
import { parseWebhookConfig, type ParsedWebhookConfig, type WebhookConnectorConfig } from './config.js';

export interface WebhookConnectorOptions {
  /** OUBLI_WEBHOOK_ALLOW_PRIVATE: receivers on loopback and private networks (tests, the demo). */
  allowPrivate?: boolean;
  /** Name resolution for the outbound client (tests pass a stub). */
  resolve?: Resolver;
  /** Clock of the `webhook-timestamp` header (receivers check it against theirs). */
  now?: () => number;
}

export interface WebhookConnector extends Connector {
  readonly config: ParsedWebhookConfig;
  close(): Promise<void>;
}

type Event = 'erasure.requested' | 'access.requested';

/** An identity as the system receives it. */
export type SentIdentity = { type: string; value: string } | { type: string; hash: string };

export function presentIdentity(cfg: Pick<ParsedWebhookConfig, 'identities' | 'hashKey'>, i: Identity): SentIdentity {
  if (cfg.identities === 'clear') return { type: i.type, value: i.value };
  const hash = cfg.hashKey ? createHmac('sha256', cfg.hashKey).update(i.value, 'utf8').digest('hex') : createHash('sha256').update(i.value, 'utf8').digest('hex');
  return { type: i.type, hash };
}

function fail(cfg: ParsedWebhookConfig, code: string, message: string, retryable: boolean, options?: { cause?: unknown; retryAfterMs?: number }): ConnectorError {
  return new ConnectorError(code, `connector "${cfg.id}": ${message}`, retryable, options);
}

export function webhookConnector(input: WebhookConnectorConfig, opts: WebhookConnectorOptions = {}): WebhookConnector {
  const cfg = parseWebhookConfig(input);
  const signer: WebhookSigner = signerFromSecret(cfg.secret);
  const now = opts.now ?? Date.now;
  const client = new OutboundClient({
    privateNetworks: opts.allowPrivate ? true : cfg.allowPrivateNetwork,
    timeoutMs: cfg.timeoutMs,
    maxResponseBytes: cfg.maxResponseBytes,
    connectionsPerOrigin: 8,
    userAgent: 'oubli-webhooks',
    ...(opts.resolve ? { resolve: opts.resolve } : {}),
  });
  const lookup = new Set(cfg.lookupBy);

  /** The message of this call: the same for every call of one task (see the header). */
  function message(event: Event, who: Identity[], ctx: ConnectorContext): { id: string; body: string; answerBy: number | null } {
    const cb = ctx.callback;
    const since = cb?.since ?? now();
    const answerBy = cb ? (cb.answerBy ?? since + cfg.answerWithin) : null;
    const data = {
      requestId: ctx.requestId,
      connector: cfg.id,
      identities: who.map((i) => presentIdentity(cfg, i)),
      ...(cb ? { callbackUrl: cb.url, callbackToken: cb.token, answerBy: new Date(answerBy!).toISOString() } : {}),
    };
    return { id: cb?.messageId ?? `msg_${randomBytes(12).toString('hex')}`, body: JSON.stringify({ type: event, timestamp: new Date(since).toISOString(), data }), answerBy };
  }

  /** Sends the message; the system's answer as JSON, `undefined` for "no result in it". */
  async function send(event: Event, who: Identity[], ctx: ConnectorContext): Promise<{ answer: unknown; msg: ReturnType<typeof message> }> {
    ctx.signal.throwIfAborted();
    const msg = message(event, who, ctx);
    const headers = { ...signWebhook({ id: msg.id, timestamp: Math.floor(now() / 1000), body: msg.body }, [signer]), 'content-type': 'application/json' };
    let res;
    try {
      res = await client.request({ url: cfg.url, method: 'POST', headers, body: msg.body, signal: ctx.signal });
    } catch (err) {
      if (!(err instanceof OutboundError)) throw err;
      if (err.code === 'TIMEOUT') throw fail(cfg, 'SILO_TIMEOUT', `${event}: ${err.message}`, true, { cause: err });
      if (err.code === 'ADDRESS_FORBIDDEN') throw fail(cfg, 'SILO_ADDRESS_FORBIDDEN', `${event}: ${err.message} (set allowPrivateNetwork for a system on an internal network)`, false, { cause: err });
      if (err.code === 'URL_NOT_ALLOWED') throw fail(cfg, 'CONNECTOR_CONFIG', `${event}: ${err.message}`, false, { cause: err });
      throw fail(cfg, 'SILO_UNAVAILABLE', `${event}: ${err.message}`, err.retryable, { cause: err });
    }
    const status = res.status;
    ctx.log.debug({ connector: cfg.id, event, status, ms: Math.round(res.durationMs), reminder: ctx.callback?.reminder }, 'webhook sent');
    if (status >= 200 && status <= 299) {
      if (res.truncated) throw fail(cfg, 'SILO_BAD_RESPONSE', `${event} answered ${status} with more than ${cfg.maxResponseBytes} bytes (cut, not read): post large results to the callback`, false);
      const text = res.body.toString('utf8').trim();
      if (text === '') return { answer: undefined, msg };
      try {
        return { answer: JSON.parse(text) as unknown, msg };
      } catch {
        return { answer: undefined, msg }; // an acknowledgement page, not a result
      }
    }
    if (status >= 300 && status <= 399) throw fail(cfg, 'SILO_REDIRECT', `${event} answered a redirect (${status}), which is not followed: configure the URL it points to`, false);
    if (status === 408 || status === 429 || status >= 500) {
      const wait = retryAfterMs(res.headers['retry-after']);
      throw fail(cfg, status === 429 ? 'SILO_RATE_LIMITED' : 'SILO_UNAVAILABLE', `${event} answered ${status}`, true, wait !== null ? { retryAfterMs: wait } : undefined);
    }
    if (status === 401 || status === 403) throw fail(cfg, 'SILO_AUTH', `${event} answered ${status}: the system refused the message (is its signing secret the connector's?)`, false);
    if (status === 410) throw fail(cfg, 'SILO_GONE', `${event} answered 410: the system no longer takes these events`, false);
    throw fail(cfg, 'SILO_REJECTED', `${event} answered ${status}`, false);
  }

  /** A result now, a failure, or — with a callback to answer to — Pending. */
  function settle<T>(event: Event, answer: unknown, msg: ReturnType<typeof message>, ctx: ConnectorContext, result: (a: ReturnType<typeof CallbackAnswerSchema.parse>) => T): T | Pending {
    const status = (answer as { status?: unknown } | null)?.status;
    if (status === 'completed' || status === 'failed') {
      const parsed = CallbackAnswerSchema.safeParse(answer);
      if (!parsed.success) {
        const where = parsed.error.issues.slice(0, 3).map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
        throw fail(cfg, 'MALFORMED_RESULT', `${event}: the answer does not fit the contract — ${where}`, false);
      }
      if (parsed.data.status === 'failed') {
        const said = parsed.data.message ? `: ${cleanMessage(parsed.data.message)}` : '';
        throw fail(cfg, 'SILO_FAILED', `${event}: the system reported a failure${said}`, false);
      }
      try {
        return result(parsed.data);
      } catch (err) {
        if (err instanceof AnswerError) throw fail(cfg, 'MALFORMED_RESULT', `${event}: ${err.message}`, false);
        throw err;
      }
    }
    if (!ctx.callback) throw fail(cfg, 'CALLBACK_UNAVAILABLE', `${event}: the system accepted the message without a result, and this call has no callback to answer to`, false);
    return {
      pending: true,
      ref: msg.id,
      answerBy: msg.answerBy!,
      ...(cfg.remindEvery !== false ? { remindEveryMs: cfg.remindEvery } : {}),
    };
  }

  const sent = (who: Identity[]) => who.filter((i) => lookup.has(i.type));

  const connector: WebhookConnector = {
    id: cfg.id,
    title: cfg.title,
    lookupBy: [...cfg.lookupBy],
    capabilities: { ...cfg.capabilities, callback: true },
    config: cfg,

    async access(who: Identity[], ctx: ConnectorContext): Promise<AccessResult | Pending> {
      ctx.signal.throwIfAborted();
      if (ctx.dryRun) throw fail(cfg, 'NOT_PREVIEWABLE', 'the system answers by webhook: the preview does not ask it', false);
      const mine = sent(who);
      if (mine.length === 0) return { collections: [], discovered: [] };
      const { answer, msg } = await send('access.requested', mine, ctx);
      return settle('access.requested', answer, msg, ctx, (a) => accessOfAnswer(a) as AccessResult);
    },

    async erase(who: Identity[], ctx: ConnectorContext): Promise<ErasureResult | Pending> {
      ctx.signal.throwIfAborted();
      // A preview changes nothing and tells nobody: what the system would erase is unknown.
      if (ctx.dryRun) return { pending: true, ref: 'not previewed' };
      const mine = sent(who);
      if (mine.length === 0) return { collections: [] };
      const { answer, msg } = await send('erasure.requested', mine, ctx);
      return settle('erasure.requested', answer, msg, ctx, erasureOfAnswer);
    },

    async close() {
      await client.close();
    },
  };

  if (cfg.healthUrl) {
    const url = cfg.healthUrl;
    connector.health = async (ctx: ConnectorContext): Promise<Health> => {
      const t = performance.now();
      const ms = () => Math.round(performance.now() - t);
      try {
        const res = await client.request({ url, method: 'GET', signal: ctx.signal, maxResponseBytes: 4096 });
        if (res.status >= 200 && res.status <= 299) return { ok: true, latencyMs: ms() };
        return { ok: false, code: 'SILO_UNAVAILABLE', message: `health check answered ${res.status}`, latencyMs: ms() };
      } catch (err) {
        if (!(err instanceof OutboundError)) throw err;
        return { ok: false, code: err.code === 'TIMEOUT' ? 'SILO_TIMEOUT' : 'SILO_UNAVAILABLE', message: err.message, latencyMs: ms() };
      }
    };
  }
  return connector;
}
