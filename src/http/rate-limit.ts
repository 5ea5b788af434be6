/**
 * The API rate limiter (OUBLI_API_RATE_LIMIT requests per minute per API key): fixed one-minute
 * windows counted in the database (src/db/stores/limits.ts), so the limit holds for a key
 * whatever instance behind a load balancer each request reaches.
 */
import type { Deps } from '../deps.js';

export const RATE_WINDOW_MS = 60_000;

/**
 * Counts one request of the key; answers undefined while under the limit, else the seconds
 * until its window ends (Retry-After).
 */
export async function takeApiRequest(deps: Pick<Deps, 'db' | 'now' | 'config'>, keyId: string): Promise<number | undefined> {
  const now = deps.now();
  const windowStart = now - (now % RATE_WINDOW_MS);
  const taken = await deps.db.tx((t) => t.limits.takeApiRequest(keyId, windowStart));
  if (taken.count <= deps.config.apiRateLimit) return undefined;
  return Math.max(1, Math.ceil((taken.windowStart + RATE_WINDOW_MS - now) / 1000));
}
