/**
 * An oubli (app + engine, real store) with one webhook connector pointing at a real internal
 * system on 127.0.0.1 (test/helpers/internal-system.ts), and helpers to answer its callbacks
 * through the app as the system would.
 */
import { Writable } from 'node:stream';
import pino from 'pino';
import { webhookConnector, type WebhookConnectorConfig } from '../../connectors/webhook/index.js';
import type { Connector } from '../../connectors/types.js';
import { generateSecret } from '../../src/webhooks/signing.js';
import { Engine, type EngineOptions } from '../../src/engine/worker.js';
import { engineHarness } from '../engine/helpers.js';
import { call } from '../helpers/http.js';
import { startInternalSystem, type Person } from '../helpers/internal-system.js';

export const ALICE: Person = {
  email: 'alice.martin@example.com',
  customerId: 'C-1001',
  accounts: [{ id: 1, email: 'alice.martin@example.com', plan: 'pro' }],
  tickets: [{ id: 't1', subject: 'invoice question' }],
  invoices: [{ number: 'F-1001-1', cents: 4900 }],
};

export interface CallbackSetup {
  mode?: 'sync' | 'async';
  connector?: Partial<WebhookConnectorConfig>;
  others?: Connector[];
  engine?: Partial<EngineOptions>;
}

export async function callbackHarness(opts: CallbackSetup = {}) {
  const secret = generateSecret();
  const sys = await startInternalSystem(secret, opts.mode ?? 'async');
  sys.people.push(structuredClone(ALICE));
  const connector = webhookConnector(
    { driver: 'webhook', id: 'helpdesk', title: 'Helpdesk', url: sys.url, secret, lookupBy: ['email'], capabilities: { access: true, erasure: true }, timeoutMs: 2000, ...opts.connector } as WebhookConnectorConfig,
    { allowPrivate: true },
  );
  const h = await engineHarness([connector, ...(opts.others ?? [])]);
  // Every log line (the app's and the engine's), to check that no token or identity is ever written.
  const logs: string[] = [];
  h.deps.logger = pino({ level: 'debug' }, new Writable({ write: (chunk, _enc, cb) => (logs.push(String(chunk)), cb()) }));
  const engine = new Engine(h.deps, { random: () => 0.5, backoffBaseMs: 1000, ...opts.engine });
  const lastMessage = () => {
    const m = sys.messages.at(-1);
    if (!m) throw new Error('the system received no message');
    return m;
  };
  /** Posts an answer to a callback URL (or a bare token) through the app, as the system would. */
  const answer = (urlOrToken: string, body: unknown, raw?: string) => {
    const path = urlOrToken.startsWith('http') ? new URL(urlOrToken).pathname : `/v1/callbacks/${urlOrToken}`;
    return call(h.app, 'POST', path, raw !== undefined ? { raw } : { body });
  };
  const request = async (id: string) => (await h.api('GET', `/v1/requests/${id}`)).json;
  const tasksOf = (id: string) => h.deps.db.tasks.ofRequest(id);
  return { ...h, engine, sys, connector, secret, logs, lastMessage, answer, request, tasksOf };
}

export type CallbackHarness = Awaited<ReturnType<typeof callbackHarness>>;
