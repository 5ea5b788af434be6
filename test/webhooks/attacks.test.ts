/**
 * Outbound webhooks under attack (the security review of i9): a hostile receiver's answer, a
 * burst of rotations, a receiver URL in a deprecated IPv6 form that carries an IPv4 address,
 * and a deployment started with another master key.
 */
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import pino from 'pino';
import { Webhook } from 'standardwebhooks';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ServerResponse } from 'node:http';
import { judgeAddress } from '../../connectors/net/addresses.js';
import { createWebhookClient } from '../../src/webhooks/client.js';
import { Deliverer } from '../../src/webhooks/deliverer.js';
import { startReceiver, type Received, type Receiver } from '../helpers/receiver.js';
import { consentApp, grant } from '../consent/helpers.js';
import { call } from '../helpers/http.js';

type Answer = (r: Received, res: ServerResponse) => unknown;

let t: Awaited<ReturnType<typeof consentApp>>;
let rx: Receiver;
let answer: Answer;
const deliverers: Deliverer[] = [];

beforeEach(async () => {
  t = await consentApp({ env: { OUBLI_WEBHOOK_ALLOW_PRIVATE: '1' } });
  t.deps.clock.set(Date.now());
  answer = (_r, res) => {
    res.writeHead(204);
    res.end();
  };
  rx = await startReceiver((r, res) => answer(r, res));
});

afterEach(async () => {
  for (const d of deliverers.splice(0)) await d.stop();
  await rx.close();
});

function deliverer(deps = t.deps): Deliverer {
  const d = new Deliverer(deps, deps.webhookClient);
  deliverers.push(d);
  return d;
}

async function subscribe() {
  const r = await call(t.app, 'POST', '/v1/webhooks', { headers: t.auth, body: { url: `${rx.url}/hook`, events: ['consent.updated'] } });
  expect(r.status, r.text).toBe(201);
  return r.json as { id: string; secret: string };
}

async function deliveries(endpointId: string) {
  const r = await call(t.app, 'GET', `/v1/webhooks/${endpointId}/deliveries`, { headers: t.auth });
  expect(r.status, r.text).toBe(200);
  return r.json.deliveries as { status: string; lastError: string | null; lastResponse: string | null }[];
}

describe('a hostile receiver', () => {
  it("its answer's excerpt keeps no control, bidi, zero-width or separator characters", async () => {
    const e = await subscribe();
    const hostile = 'ok\u202e\u2066gnp.exe\u2069\u200b\u200f\u2028\u2029\u0085\u009b31m\ufeff\u0007\u001b[2J end';
    answer = (_r, res) => {
      res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' });
      res.end(hostile);
    };
    await t.post(grant('zoe@example.com'));
    await deliverer().runUntilIdle();
    const [d] = await deliveries(e.id);
    expect(d!.lastError).toBe('HTTP 500');
    expect(d!.lastResponse).toMatch(/^ok.*end$/);
    expect(d!.lastResponse).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u200b-\u200f\u2028-\u202e\u2066-\u2069\ufeff]/);
  });
});

describe('a burst of rotations', () => {
  it('every secret handed out signs the next message: concurrent rotations do not lose one', async () => {
    for (let round = 0; round < 5; round++) {
      const e = await subscribe();
      const rotations = await Promise.all([0, 1].map(() => call(t.app, 'POST', `/v1/webhooks/${e.id}/rotate-secret`, { headers: t.auth })));
      const given = rotations.filter((r) => r.status === 200).map((r) => r.json.secret as string);
      for (const r of rotations) expect([200, 409], r.text).toContain(r.status);
      expect(given.length).toBeGreaterThan(0);
      rx.received.length = 0;
      await t.post(grant(`zoe${round}@example.com`));
      await deliverer().runUntilIdle();
      expect(rx.received).toHaveLength(1);
      // A receiver given any of these secrets verifies the message.
      for (const s of given) expect(() => new Webhook(s).verify(rx.received[0]!.body, rx.received[0]!.headers as Record<string, string>)).not.toThrow();
      expect((await call(t.app, 'DELETE', `/v1/webhooks/${e.id}`, { headers: t.auth })).status).toBe(204);
    }
  });
});

describe('a burst of redeliveries and recoveries', () => {
  it('10 redeliveries and 10 recoveries at once: one 202 each way, each message sent once more, no lease left behind', async () => {
    const e = await subscribe();
    await t.post(grant('zoe@example.com'));
    await deliverer().runUntilIdle();
    const [d] = (await call(t.app, 'GET', `/v1/webhooks/${e.id}/deliveries`, { headers: t.auth })).json.deliveries as { id: string }[];
    const redo = await Promise.all(Array.from({ length: 10 }, () => call(t.app, 'POST', `/v1/webhooks/deliveries/${d!.id}/redeliver`, { headers: t.auth })));
    expect(redo.map((r) => r.status).sort()).toEqual([202, ...Array(9).fill(409)]);
    await deliverer().runUntilIdle();
    expect(rx.received.map((r) => r.headers['webhook-id'])).toEqual([d!.id, d!.id]);
    // Failed, then recovered ten times at once: queued once, sent once.
    answer = (_r, res) => {
      res.writeHead(410);
      res.end();
    };
    await t.post(grant('zoe@example.com', 'targeted-ads'));
    await deliverer().runUntilIdle();
    answer = (_r, res) => {
      res.writeHead(204);
      res.end();
    };
    expect((await call(t.app, 'PATCH', `/v1/webhooks/${e.id}`, { headers: t.auth, body: { enabled: true } })).status).toBe(200);
    const since = new Date(t.deps.now() - 60_000).toISOString();
    const rec = await Promise.all(Array.from({ length: 10 }, () => call(t.app, 'POST', `/v1/webhooks/${e.id}/recover`, { headers: t.auth, body: { since } })));
    expect(rec.map((r) => r.json.requeued).reduce((a, b) => a + b, 0)).toBe(1);
    rx.received.length = 0;
    await deliverer().runUntilIdle();
    expect(rx.received).toHaveLength(1);
    const rows = await t.deps.db.webhooks.deliveries(e.id, 10);
    for (const r of rows) expect(r).toMatchObject({ status: 'delivered', leaseOwner: null });
  });
});

describe('receiver URLs', () => {
  it('IPv4-compatible IPv6 (::a.b.c.d, deprecated) is refused like any special-purpose address', async () => {
    for (const a of ['::127.0.0.1', '::7f00:1', '::10.0.0.1', '::a9fe:a9fe', '::808:808']) expect(judgeAddress(a, false).allowed, a).toBe(false);
    // :: and ::1 keep their own verdicts; IPv4-mapped still judged as its IPv4.
    expect(judgeAddress('::1', true).allowed).toBe(true);
    expect(judgeAddress('::', true).allowed).toBe(false);
    expect(judgeAddress('::ffff:8.8.8.8', false).allowed).toBe(true);
    t.deps.webhookClient = createWebhookClient({ allowPrivate: false });
    for (const url of ['http://[::127.0.0.1]/x', 'http://[::7f00:1]:8080/x', 'http://[0:0:0:0:0:0:a9fe:a9fe]/latest/meta-data/']) {
      const r = await call(t.app, 'POST', '/v1/webhooks', { headers: t.auth, body: { url, events: ['consent.updated'] } });
      expect(r.status, url).toBe(400);
      expect(r.json.error.code, url).toBe('WEBHOOK_ADDRESS_FORBIDDEN');
    }
  });
});

describe('another master key', () => {
  it('nothing is sent, unsigned or otherwise; the failure is logged as an error, and the JWKS refuses loudly', async () => {
    const e = await subscribe();
    const v1a = await call(t.app, 'POST', '/v1/webhooks', { headers: t.auth, body: { url: `${rx.url}/a`, events: ['consent.updated'], scheme: 'v1a' } });
    expect(v1a.status).toBe(201);
    await t.post(grant('zoe@example.com'));
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk, _enc, done) {
        lines.push(String(chunk));
        done();
      },
    });
    const wrongKey = { ...t.deps, secrets: { ...t.deps.secrets, masterKey: randomBytes(32) }, logger: pino({ level: 'warn' }, sink) };
    await deliverer(wrongKey).runUntilIdle();
    expect(rx.received).toHaveLength(0);
    const [d] = await deliveries(e.id);
    expect(d!.status).not.toBe('delivered');
    expect(lines.some((l) => JSON.parse(l).level >= 50), lines.join('')).toBe(true);
    // The webhook key set does not answer with keys it cannot vouch for.
    const { createApp } = await import('../../src/app.js');
    const jwks = await call(createApp(wrongKey), 'GET', '/v1/webhooks/jwks.json', { headers: t.auth });
    expect(jwks.status).toBe(500);
    expect(jwks.text).not.toContain('whsk_');
  });
});
