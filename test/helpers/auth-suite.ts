/**
 * The shared auth suite every protected route runs: no credentials → 401, a key without the
 * route's scope → 403, an unknown or revoked key → 401, each with its machine-readable code.
 */
import { describe, expect, it } from 'vitest';
import type { App } from '../../src/app.js';
import type { Deps } from '../../src/deps.js';
import { SCOPES, type Scope } from '../../src/db/schema/api-keys.js';
import { revokeApiKey } from '../../src/auth/api-keys.js';
import { bearer, call } from './http.js';
import { systemCtx } from './deps.js';

export interface ProtectedRoute {
  method: string;
  path: string;
  scope: Scope;
  body?: unknown;
}

export function authSuite(name: string, setup: () => Promise<{ app: App; deps: Deps }>, routes: ProtectedRoute[]) {
  describe(`auth: ${name}`, () => {
    for (const r of routes) {
      const label = `${r.method} ${r.path}`;
      it(`${label} without credentials → 401 UNAUTHENTICATED`, async () => {
        const { app } = await setup();
        const res = await call(app, r.method, r.path, { body: r.body });
        expect(res.status).toBe(401);
        expect(res.json.error.code).toBe('UNAUTHENTICATED');
      });
      it(`${label} with a key lacking ${r.scope} → 403 INSUFFICIENT_SCOPE`, async () => {
        const { app, deps } = await setup();
        const others = SCOPES.filter((s) => s !== r.scope && s !== 'admin');
        const { authorization } = await bearer(deps, others.length ? others : ['audit:read']);
        const res = await call(app, r.method, r.path, { body: r.body, headers: { authorization } });
        expect(res.status).toBe(403);
        expect(res.json.error.code).toBe('INSUFFICIENT_SCOPE');
      });
      it(`${label} with an unknown or revoked key → 401 INVALID_API_KEY`, async () => {
        const { app, deps } = await setup();
        const unknown = await call(app, r.method, r.path, {
          body: r.body,
          headers: { authorization: 'Bearer oubli_sk_thisKeyDoesNotExist0000000000000000000000' },
        });
        expect(unknown.status).toBe(401);
        expect(unknown.json.error.code).toBe('INVALID_API_KEY');
        const { authorization, keyId } = await bearer(deps, [r.scope]);
        await revokeApiKey(systemCtx(deps), keyId);
        const revoked = await call(app, r.method, r.path, { body: r.body, headers: { authorization } });
        expect(revoked.status).toBe(401);
        expect(revoked.json.error.code).toBe('INVALID_API_KEY');
      });
    }
  });
}
