/**
 * The dashboard's silos and webhooks page, read: each connector with its health (the shared,
 * cached checks of src/deployment/health.ts — codes, fixed messages and the index report's
 * warnings, never a silo's own words), its latest success, its failure rate over the last
 * seven days and its oldest task waiting for a callback; each webhook endpoint with its state
 * and its latest deliveries. The levers (redeliver, recover) are src/webhooks/endpoints.ts's.
 */
import type { Ctx } from '../deps.js';
import type { PublicHealth } from '../deployment/health.js';
import { getEndpoint, listDeliveries, listEndpoints, recover, updateEndpoint, type PublicDelivery, type PublicEndpoint } from '../webhooks/endpoints.js';
import { RETRY_DELAYS_MS } from '../webhooks/retry.js';

/** The failure rate's window. */
export const SILO_WINDOW_MS = 7 * 86_400_000;
/** Deliveries shown per endpoint. */
export const RECENT_DELIVERIES = 20;

export interface SiloRow {
  id: string;
  title: string;
  health: PublicHealth | null;
  lastSuccessAt: number | null;
  done: number;
  failed: number;
  /** failed / (done + failed) over the window; null when nothing finished. */
  failureRate: number | null;
  waiting: number;
  oldestWaitingAt: number | null;
}

export interface EndpointRow {
  endpoint: PublicEndpoint;
  deliveries: PublicDelivery[];
}

export async function silosView(ctx: Ctx): Promise<SiloRow[]> {
  const stats = new Map((await ctx.db.tasks.connectorStats(ctx.now() - SILO_WINDOW_MS)).map((s) => [s.connectorId, s]));
  return Promise.all(
    ctx.connectors.map(async (conn) => {
      const s = stats.get(conn.id);
      const done = s?.done ?? 0;
      const failed = s?.failed ?? 0;
      return {
        id: conn.id,
        title: conn.title,
        health: await ctx.health.get(conn, ctx.logger),
        lastSuccessAt: s?.lastDoneAt ?? null,
        done,
        failed,
        failureRate: done + failed === 0 ? null : failed / (done + failed),
        waiting: s?.waiting ?? 0,
        oldestWaitingAt: s?.oldestWaitingAt ?? null,
      };
    }),
  );
}

export async function webhooksView(ctx: Ctx): Promise<EndpointRow[]> {
  const endpoints = await listEndpoints(ctx);
  return Promise.all(endpoints.map(async (endpoint) => ({ endpoint, deliveries: (await listDeliveries(ctx, endpoint.id, RECENT_DELIVERIES)).deliveries })));
}

/** A delivery's retries span: a delivery that failed was created at most this long before its endpoint's first failure. */
const RETRY_SPAN_MS = RETRY_DELAYS_MS.reduce((a, b) => a + b, 0) * 1.1;

/**
 * Brings a disabled endpoint back: enabled again, then every failed delivery since its trouble
 * began queued again, in order (receivers deduplicate by webhook-id, so one delivered meanwhile
 * is harmless). An enabled endpoint has its failures since the same time recovered.
 */
export async function recoverEndpoint(ctx: Ctx, endpointId: string): Promise<{ requeued: number }> {
  const before = await getEndpoint(ctx, endpointId);
  const trouble = before.failingSince ?? before.disabledAt;
  const since = Math.max(0, (trouble ? Date.parse(trouble) : ctx.now()) - RETRY_SPAN_MS);
  if (before.status === 'disabled') await updateEndpoint(ctx, endpointId, { enabled: true });
  return recover(ctx, endpointId, since);
}
