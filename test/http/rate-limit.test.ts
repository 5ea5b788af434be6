/**
 * The API rate limiter (OUBLI_API_RATE_LIMIT), counted in the database: the limit per key and
 * minute, Retry-After until the window ends, a fresh count in the next window, keys counted
 * apart, and a clock that lags behind another instance's counting into the newer window.
 * (Across real instances: test/cli/instances.test.ts.)
 */
import { describe, expect, it } from 'vitest';
import { createTestApp } from '../helpers/deps.js';
import { bearer, call } from '../helpers/http.js';
import { TEST_STORE } from '../helpers/db.js';
import { takeApiRequest } from '../../src/http/rate-limit.js';

describe(`API rate limit (${TEST_STORE})`, () => {
  it('answers 429 RATE_LIMITED past the limit, with Retry-After until the window ends; the next window starts afresh', async () => {
    const { app, deps } = await createTestApp({ env: { OUBLI_API_RATE_LIMIT: '3' } });
    deps.clock.set(Date.parse('2026-03-01T09:00:40.000Z'));
    const a = await bearer(deps, ['audit:read'], 'a');
    const b = await bearer(deps, ['audit:read'], 'b');
    const get = (h: { authorization: string }) => call(app, 'GET', '/v1/audit/tree-head', { headers: { authorization: h.authorization } });
    for (let i = 0; i < 3; i++) expect((await get(a)).status).toBe(200);
    const limited = await get(a);
    expect(limited.status).toBe(429);
    expect(limited.json.error.code).toBe('RATE_LIMITED');
    expect(limited.headers.get('retry-after')).toBe('20');
    expect((await get(b)).status).toBe(200); // another key has its own count
    deps.clock.set(Date.parse('2026-03-01T09:01:00.000Z'));
    expect((await get(a)).status).toBe(200);
  });

  it('a request stamped in an older window (a lagging clock) counts into the newer one instead of restarting it', async () => {
    const { deps } = await createTestApp({ env: { OUBLI_API_RATE_LIMIT: '2' } });
    const t = Date.parse('2026-03-01T09:01:00.500Z');
    const at = (ms: number) => ({ ...deps, now: () => ms });
    expect(await takeApiRequest(at(t), 'key_x')).toBeUndefined();
    expect(await takeApiRequest(at(t - 1000), 'key_x')).toBeUndefined(); // 09:00:59.5 elsewhere
    expect(await takeApiRequest(at(t - 900), 'key_x')).toBe(61); // still the 09:01 window: over the limit
  });
});
