import { createApp } from '../../src/app.js';
import type { Connector } from '../../connectors/types.js';
import { Engine, type EngineOptions } from '../../src/engine/worker.js';
import { createTestDeps } from '../helpers/deps.js';
import { bearer, call } from '../helpers/http.js';
import type { Scope } from '../../src/db/schema/api-keys.js';

/** An app + engine over the given connectors; the engine is driven by hand (runUntilIdle). */
export function engineHarness(
  connectors: Connector[],
  opts: { engine?: Partial<EngineOptions>; requireApproval?: string[]; uniqueIdentityTypes?: string[]; env?: Record<string, string> } = {},
) {
  const deps = createTestDeps({ env: opts.env });
  deps.connectors = connectors;
  deps.requireApproval = opts.requireApproval ?? [];
  if (opts.uniqueIdentityTypes) deps.uniqueIdentityTypes = opts.uniqueIdentityTypes;
  const app = createApp(deps);
  const engine = new Engine(deps, { random: () => 0.5, backoffBaseMs: 1000, ...opts.engine });
  // Two principals, as separation of duties asks: an internal system that opens (and verifies)
  // requests, and the DPO who decides on them.
  const all: Scope[] = ['requests:read', 'requests:write', 'requests:verify', 'audit:read'];
  const auth = { authorization: bearer(deps, all).authorization };
  const api = (method: string, path: string, body?: unknown) => call(app, method, path, { body, headers: auth });
  const dpoAuth = { authorization: bearer(deps, ['requests:read', 'requests:verify', 'requests:approve', 'audit:read'], 'dpo').authorization };
  const dpo = (method: string, path: string, body?: unknown) => call(app, method, path, { body, headers: dpoAuth });
  /** Opens a verified request and returns its id. */
  async function submit(type: 'access' | 'portability' | 'erasure', identities: { type: string; value: string }[], extra: Record<string, unknown> = {}) {
    const res = await api('POST', '/v1/requests', { type, identities, verified: true, ...extra });
    if (res.status !== 201) throw new Error(`submit failed: ${res.status} ${res.text}`);
    return res.json.id as string;
  }
  const auditTypes = (requestId?: string) =>
    (deps.db.$client.prepare(`select type from audit_entries ${requestId ? 'where request_id = ?' : ''} order by idx`).pluck().all(...(requestId ? [requestId] : [])) as string[]);
  const auditData = (type: string) =>
    (deps.db.$client.prepare('select entry from audit_entries where type = ? order by idx').pluck().all(type) as string[]).map((e) => JSON.parse(e) as { data: Record<string, unknown>; subjectRef?: string; requestId?: string });
  /** Every audit entry, as stored (to scan for values that must never appear). */
  const auditText = () => (deps.db.$client.prepare('select entry from audit_entries order by idx').pluck().all() as string[]).join('\n');
  return { deps, app, engine, api, auth, dpo, dpoAuth, submit, auditTypes, auditData, auditText };
}
