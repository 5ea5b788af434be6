/**
 * Webhook signing and the outbound client (issue 9, first part), each beside a baseline
 * measured in the same run:
 *  - Standard Webhooks signatures per second — v1 (HMAC-SHA256), v1 during a rotation (two
 *    signatures), v1a (Ed25519) — vs a bare createHmac over the same signed content;
 *  - signed deliveries per second through the outbound client (connect-time address checks,
 *    keep-alive pool, total timeout, capped body) to a receiver on 127.0.0.1, vs raw `fetch`
 *    (undici's own pool) to the same receiver, same concurrency, same bodies.
 * The fan-out target of issue 9 (10,000 events to 10 endpoints ≥ 2,000 deliveries/s, durable)
 * comes with the delivery worker; this measures the two pieces it is built from.
 */
import { createHmac } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { OutboundClient } from '../../connectors/net/index.js';
import { generateKeyPair, generateSecret, signerFromSecret, signWebhook } from '../../src/webhooks/signing.js';
import { median, percentile, report } from './util.js';

const SIGNATURES = Number(process.env.BENCH_SIGNATURES ?? 200_000);
const DELIVERIES = Number(process.env.BENCH_DELIVERIES ?? 20_000);
const CONCURRENCY = 50;
const ENDPOINTS = 10;
const TARGET_DELIVERIES_PER_S = 2_000;
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

const body = JSON.stringify({
  type: 'request.completed',
  timestamp: new Date().toISOString(),
  data: { requestId: 'req_01j9z3x8k2m4n6p8r0s2t4v6w8', type: 'erasure', status: 'completed', connectors: 5, deleted: 12, retained: 2 },
});

function perSecond(n: number, fn: (i: number) => void): number {
  for (let i = 0; i < Math.min(5_000, n); i++) fn(i);
  const t = performance.now();
  for (let i = 0; i < n; i++) fn(i);
  return n / ((performance.now() - t) / 1000);
}

function signingFigures() {
  const s1 = signerFromSecret(generateSecret());
  const s2 = signerFromSecret(generateSecret());
  const ed = signerFromSecret(generateKeyPair().secretKey);
  const ts = Math.floor(Date.now() / 1000);
  const rawKey = (s1 as { key: Buffer }).key;
  const raw = perSecond(SIGNATURES, (i) => createHmac('sha256', rawKey).update(`msg_${i}.${ts}.${body}`).digest('base64'));
  const v1 = perSecond(SIGNATURES, (i) => signWebhook({ id: `msg_${i}`, timestamp: ts, body }, [s1]));
  const rotation = perSecond(SIGNATURES, (i) => signWebhook({ id: `msg_${i}`, timestamp: ts, body }, [s1, s2]));
  const v1a = perSecond(Math.max(1, SIGNATURES / 10), (i) => signWebhook({ id: `msg_${i}`, timestamp: ts, body }, [ed]));
  report(`Standard Webhooks signing (${body.length}-byte body, ${fmt(SIGNATURES)} messages)`, [
    { metric: 'v1 HMAC-SHA256 signatures/s', value: fmt(v1), baseline: `${fmt(raw)} raw`, target: `≥ ${fmt(TARGET_DELIVERIES_PER_S * 10)}/s`, ok: v1 >= TARGET_DELIVERIES_PER_S * 10 },
    { metric: 'v1 during a rotation (2 signatures)/s', value: fmt(rotation), baseline: `${fmt(raw / 2)} raw÷2`, target: `≥ ${fmt(TARGET_DELIVERIES_PER_S * 5)}/s`, ok: rotation >= TARGET_DELIVERIES_PER_S * 5 },
    { metric: 'v1a Ed25519 signatures/s', value: fmt(v1a), baseline: '—', target: `≥ ${fmt(TARGET_DELIVERIES_PER_S)}/s`, ok: v1a >= TARGET_DELIVERIES_PER_S },
  ]);
}

/** Sends `n` deliveries with `concurrency` in flight, spread over the endpoints; latencies in ms. */
async function run(n: number, concurrency: number, send: (i: number) => Promise<number>): Promise<{ perS: number; lat: number[] }> {
  const lat: number[] = [];
  let next = 0;
  const t = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < n) {
        const i = next++;
        const t0 = performance.now();
        const status = await send(i);
        if (status !== 204) throw new Error(`delivery ${i} answered ${status}`);
        lat.push(performance.now() - t0);
      }
    }),
  );
  return { perS: n / ((performance.now() - t) / 1000), lat };
}

async function deliveryFigures() {
  let received = 0;
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      received++;
      res.writeHead(204);
      res.end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  // Ten endpoints on one receiver: ten origins would need ten ports; paths keep the bodies apart.
  const urls = Array.from({ length: ENDPOINTS }, (_, e) => `http://127.0.0.1:${port}/hooks/${e}`);
  const signer = signerFromSecret(generateSecret());
  const ts = Math.floor(Date.now() / 1000);
  const signed = (i: number) => ({ 'content-type': 'application/json', ...signWebhook({ id: `msg_${i}`, timestamp: ts, body }, [signer]) });

  const client = new OutboundClient({ privateNetworks: true, timeoutMs: 15_000, maxResponseBytes: 64 * 1024 });
  const viaClient = (i: number) => client.request({ url: urls[i % ENDPOINTS]!, method: 'POST', headers: signed(i), body }).then((r) => r.status);
  const viaFetch = (i: number) =>
    fetch(urls[i % ENDPOINTS]!, { method: 'POST', headers: signed(i), body, redirect: 'manual' }).then(async (r) => {
      await r.arrayBuffer();
      return r.status;
    });

  // Warm both pools, then alternate the runs so neither always goes first.
  await run(2_000, CONCURRENCY, viaClient);
  await run(2_000, CONCURRENCY, viaFetch);
  const c1 = await run(DELIVERIES, CONCURRENCY, viaClient);
  const f1 = await run(DELIVERIES, CONCURRENCY, viaFetch);
  const c2 = await run(DELIVERIES, CONCURRENCY, viaClient);
  const f2 = await run(DELIVERIES, CONCURRENCY, viaFetch);
  const c = c1.perS > c2.perS ? c1 : c2;
  const f = f1.perS > f2.perS ? f1 : f2;
  await client.close();
  await new Promise<void>((r) => server.close(() => r()));

  report(`Signed deliveries to ${ENDPOINTS} endpoints on 127.0.0.1 (${fmt(DELIVERIES)} per run, ${CONCURRENCY} in flight, best of 2; receiver got ${fmt(received)})`, [
    { metric: 'outbound client deliveries/s (with signing)', value: fmt(c.perS), baseline: `${fmt(f.perS)} fetch`, target: `≥ ${fmt(TARGET_DELIVERIES_PER_S)}/s`, ok: c.perS >= TARGET_DELIVERIES_PER_S },
    { metric: 'outbound client vs raw fetch throughput', value: `${((c.perS / f.perS) * 100).toFixed(0)} %`, baseline: '100 %', target: '≥ 80 %', ok: c.perS >= 0.8 * f.perS },
    { metric: 'latency p50 / p99 (client)', value: `${median(c.lat).toFixed(2)} / ${percentile(c.lat, 99).toFixed(2)} ms`, baseline: `${median(f.lat).toFixed(2)} / ${percentile(f.lat, 99).toFixed(2)} ms`, target: 'informative', ok: true },
  ]);
}

signingFigures();
await deliveryFigures();
