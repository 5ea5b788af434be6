import { createApp } from '../../src/app.js';
import type { Connector } from '../../connectors/types.js';
import { Engine, type EngineOptions } from '../../src/engine/worker.js';
import { createTestDeps } from '../helpers/deps.js';
import { bearer, call } from '../helpers/http.js';
import type { Scope } from '../../src/db/schema/api-keys.js';
import type { Deps } from '../../src/deps.js';

/** Every audit entry of the store, parsed, in order. */
export async function auditEntries(deps: Pick<Deps, 'db'>) {
  const out: { index: number; type: string; data: Record<string, unknown>; subjectRef?: string; requestId?: string; text: string }[] = [];
  for (let from = 0; ; ) {
    const rows = await deps.db.audit.entries(from, 5000);
    for (const r of rows) out.push({ ...(JSON.parse(r.entry) as { index: number; type: string; data: Record<string, unknown>; subjectRef?: string; requestId?: string }), text: r.entry });
    if (rows.length < 5000) return out;
    from = rows.at(-1)!.idx + 1;
  }
}

/** An app + engine over the given connectors; the engine is driven by hand (runUntilIdle). */
export async function engineHarness(
  connectors: Connector[],
  opts: { engine?: Partial<EngineOptions>; requireApproval?: string[]; uniqueIdentityTypes?: string[]; env?: Record<string, string> } = {},
) {
  const deps = await createTestDeps({ env: opts.env });
  deps.connectors = connectors;
  deps.requireApproval = opts.requireApproval ?? [];
  if (opts.uniqueIdentityTypes) deps.uniqueIdentityTypes = opts.uniqueIdentityTypes;
  const app = createApp(deps);
  const engine = new Engine(deps, { random: () => 0.5, backoffBaseMs: 1000, ...opts.engine });
  // Two principals, as separation of duties asks: an internal system that opens (and verifies)
  // requests, and the DPO who decides on them.
  const all: Scope[] = ['requests:read', 'requests:write', 'requests:verify', 'audit:read'];
  const auth = { authorization: (await bearer(deps, all)).authorization };
  const api = (method: string, path: string, body?: unknown) => call(app, method, path, { body, headers: auth });
  const dpoAuth = { authorization: (await bearer(deps, ['requests:read', 'requests:verify', 'requests:approve', 'audit:read'], 'dpo')).authorization };
  const dpo = (method: string, path: string, body?: unknown) => call(app, method, path, { body, headers: dpoAuth });
  /** Opens a verified request and returns its id. */
  async function submit(type: 'access' | 'portability' | 'erasure', identities: { type: string; value: string }[], extra: Record<string, unknown> = {}) {
    const res = await api('POST', '/v1/requests', { type, identities, verified: true, ...extra });
    if (res.status !== 201) throw new Error(`submit failed: ${res.status} ${res.text}`);
    return res.json.id as string;
  }
  const auditTypes = async (requestId?: string) => (await auditEntries(deps)).filter((e) => !requestId || e.requestId === requestId).map((e) => e.type);
  const auditData = async (type: string) => (await auditEntries(deps)).filter((e) => e.type === type);
  /** Every audit entry, as stored (to scan for values that must never appear). */
  const auditText = async () => (await auditEntries(deps)).map((e) => e.text).join('\n');
  /** Identity values the request still holds (destroyed once done with). */
  const identityValues = async (requestId: string) => (await deps.db.requests.identities(requestId)).filter((i) => i.value !== null).length;
  return { deps, app, engine, api, auth, dpo, dpoAuth, submit, auditTypes, auditData, auditText, identityValues };
}

export type Harness = Awaited<ReturnType<typeof engineHarness>>;
