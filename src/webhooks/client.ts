/**
 * The outbound client webhook deliveries use (connectors/net): the receiver's address checked
 * at connect time, no redirect followed (a 3xx is a failed attempt), an answer within 15 s
 * (Standard Webhooks: "2xx within 15 s = delivered"), and only the first 64 KiB of a receiver's
 * answer read — it is kept as a short excerpt for the DPO, never needed whole.
 *
 * One client per process, held in Deps: its keep-alive pool per receiver origin is what lets a
 * fan-out reuse connections instead of opening one per delivery.
 */
import { OutboundClient, type Resolver } from '../../connectors/net/index.js';

export const WEBHOOK_TIMEOUT_MS = 15_000;
export const WEBHOOK_MAX_RESPONSE_BYTES = 64 * 1024;
/** Sockets kept per receiver origin. */
export const WEBHOOK_CONNECTIONS_PER_ORIGIN = 16;

export interface WebhookClientOptions {
  /** OUBLI_WEBHOOK_ALLOW_PRIVATE: receivers on loopback and private networks (tests, the demo). */
  allowPrivate: boolean;
  /** Name resolution (tests pass a stub). */
  resolve?: Resolver;
}

export function createWebhookClient(opts: WebhookClientOptions): OutboundClient {
  return new OutboundClient({
    privateNetworks: opts.allowPrivate,
    timeoutMs: WEBHOOK_TIMEOUT_MS,
    maxResponseBytes: WEBHOOK_MAX_RESPONSE_BYTES,
    connectionsPerOrigin: WEBHOOK_CONNECTIONS_PER_ORIGIN,
    userAgent: 'oubli-webhooks',
    ...(opts.resolve ? { resolve: opts.resolve } : {}),
  });
}
