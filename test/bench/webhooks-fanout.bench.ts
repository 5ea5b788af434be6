/**
 * Issue 9's fan-out target: 10,000 events to 10 endpoints on loopback ≥ 2,000 deliveries/s
 * with signing, through the whole durable path — the deliveries written with the consent
 * changes that announce them (one batch of 10,000 events → 100,000 delivery rows), claimed with
 * leases, signed, POSTed through the SSRF-safe client, their outcomes recorded — beside the
 * baseline of raw `fetch` POSTing the same 100,000 bodies to the same receivers, same concurrency.
 *
 * The receivers (10 ports: 10 origins, 10 connection pools) run in a worker thread, as a
 * subscriber would run elsewhere; both sides talk to the same ones. Embedded SQLite by default;
 * BENCH_DATABASE_URL=postgres://… runs the store on PostgreSQL.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import pino from 'pino';
import { loadConfig } from '../../src/config.js';
import { buildDeps } from '../../src/runtime.js';
import type { Ctx } from '../../src/deps.js';
import { createPurpose } from '../../src/consent/purposes.js';
import { recordConsentBatch, type BatchLine } from '../../src/consent/record.js';
import { createEndpoint } from '../../src/webhooks/endpoints.js';
import { Deliverer } from '../../src/webhooks/deliverer.js';
import { report } from './util.js';

const EVENTS = Number(process.env.BENCH_EVENTS ?? 10_000);
const ENDPOINTS = 10;
const IN_FLIGHT = 64;
const TARGET = 2_000;
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

/** Ten receivers in a worker thread; answers their ports and a way to read their counts. */
async function startReceivers(): Promise<{ ports: number[]; received(): Promise<{ total: number; unique: number }>; stop(): Promise<void> }> {
  const worker = new Worker(
    `
    const { createServer } = require('node:http');
    const { parentPort } = require('node:worker_threads');
    const ids = new Set(); let total = 0; const servers = [];
    let pending = ${ENDPOINTS};
    const ports = [];
    for (let e = 0; e < ${ENDPOINTS}; e++) {
      const s = createServer((req, res) => {
        req.resume();
        req.on('end', () => {
          total++;
          const id = req.headers['webhook-id'];
          if (id) ids.add(id + '@' + e);
          res.writeHead(204); res.end();
        });
      });
      s.keepAliveTimeout = 60000;
      s.listen(0, '127.0.0.1', () => { ports[e] = s.address().port; if (--pending === 0) parentPort.postMessage({ ports }); });
      servers.push(s);
    }
    parentPort.on('message', (m) => {
      if (m === 'count') parentPort.postMessage({ total, unique: ids.size });
      if (m === 'reset') { total = 0; ids.clear(); parentPort.postMessage({ reset: true }); }
      if (m === 'stop') { for (const s of servers) { s.closeAllConnections(); s.close(); } parentPort.postMessage({ stopped: true }); }
    });
    `,
    { eval: true },
  );
  const ask = <T>(m: string) => new Promise<T>((resolve) => worker.once('message', resolve).postMessage(m));
  const { ports } = await new Promise<{ ports: number[] }>((resolve) => worker.once('message', resolve));
  return {
    ports,
    received: () => ask('count'),
    stop: async () => {
      await ask('stop');
      await worker.terminate();
    },
  };
}

async function rawFetch(urls: string[], bodies: string[]): Promise<number> {
  let next = 0;
  const n = bodies.length * urls.length;
  const t = performance.now();
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      while (next < n) {
        const i = next++;
        const r = await fetch(urls[i % urls.length]!, { method: 'POST', headers: { 'content-type': 'application/json', 'webhook-id': `raw_${i}` }, body: bodies[Math.floor(i / urls.length)]!, redirect: 'manual' });
        await r.arrayBuffer();
        if (r.status !== 204) throw new Error(`raw fetch answered ${r.status}`);
      }
    }),
  );
  return n / ((performance.now() - t) / 1000);
}

async function main() {
  const rx = await startReceivers();
  const urls = rx.ports.map((p) => `http://127.0.0.1:${p}/hooks`);
  const deps = await buildDeps(
    loadConfig({
      OUBLI_DATA_DIR: mkdtempSync(join(tmpdir(), 'oubli-bench-fanout-')),
      OUBLI_LOG_LEVEL: 'silent',
      OUBLI_WEBHOOK_ALLOW_PRIVATE: '1',
      ...(process.env.BENCH_DATABASE_URL ? { OUBLI_DATABASE_URL: process.env.BENCH_DATABASE_URL } : {}),
    }),
    { logger: pino({ level: 'silent' }) },
  );
  const ctx: Ctx = { ...deps, actor: { type: 'system', id: 'bench' } };
  await createPurpose(ctx, { id: 'newsletter', title: { fr: 'Lettre', en: 'Newsletter' }, text: { fr: 'Lettre.', en: 'Newsletter.' }, legalBasis: 'dpv:Consent', channels: ['email'] });
  for (const url of urls) await createEndpoint(ctx, { url, events: ['consent.updated'] });

  // The events: 10,000 people granting, in one batch (one transaction, 100,000 delivery rows).
  const lines: BatchLine[] = Array.from({ length: EVENTS }, (_, i) => ({
    line: i + 1,
    ok: true,
    value: { subject: { type: 'email', value: `fan${i}@example.com` }, purpose: 'newsletter', decision: 'granted', source: { channel: 'web' } } as never,
  }));
  const w0 = performance.now();
  await recordConsentBatch(ctx, lines);
  const writeMs = performance.now() - w0;
  const deliveries = (await deps.db.webhooks.counts()).pending;

  // Baseline: raw fetch of bodies of the same size, same receivers, same concurrency.
  const sample = (await deps.db.webhooks.deliveries((await deps.db.webhooks.endpoints())[0]!.id, 1))[0]!.body;
  const bodies = Array.from({ length: EVENTS }, () => sample);
  await rawFetch(urls, bodies.slice(0, 500)); // warm-up
  const raw = await rawFetch(urls, bodies);

  await new Promise<void>((r) => setTimeout(r, 200));
  const before = await rx.received();
  const d = new Deliverer(deps, deps.webhookClient, { maxInFlight: IN_FLIGHT, claimBatch: 100 });
  const t0 = performance.now();
  await d.runUntilIdle();
  const secs = (performance.now() - t0) / 1000;
  const after = await rx.received();
  const left = await deps.db.webhooks.counts();
  const perS = d.delivered / secs;
  const got = after.total - before.total;

  report(`Webhook fan-out: ${fmt(EVENTS)} consent events × ${ENDPOINTS} endpoints on 127.0.0.1 (${deps.db.dialect}; ${IN_FLIGHT} in flight)`, [
    { metric: 'delivery rows written with the batch', value: fmt(deliveries), baseline: `${(writeMs / 1000).toFixed(1)} s`, target: `= ${fmt(EVENTS * ENDPOINTS)}`, ok: deliveries === EVENTS * ENDPOINTS },
    { metric: 'durable signed deliveries/s', value: fmt(perS), baseline: `${fmt(raw)} fetch`, target: `≥ ${fmt(TARGET)}/s`, ok: perS >= TARGET },
    { metric: 'received by the receivers / delivered', value: `${fmt(got)} / ${fmt(d.delivered)}`, baseline: '—', target: 'equal, none left', ok: got === d.delivered && left.pending === 0 && left.failed === 0 },
  ]);
  await deps.db.close();
  await rx.stop();
  process.exit(0);
}

await main();
