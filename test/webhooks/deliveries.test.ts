/**
 * Durable webhook deliveries, through the real path: an endpoint registered over HTTP, a change
 * made over HTTP (a consent, a request), the delivery row written with it, sent by the Deliverer
 * to a real receiver on 127.0.0.1 that verifies it with the official `standardwebhooks` package.
 */
import { Webhook } from 'standardwebhooks';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ServerResponse } from 'node:http';
import { eq } from 'drizzle-orm';
import { Deliverer, KEEP_DELIVERED_MS, KEEP_FAILED_MS } from '../../src/webhooks/deliverer.js';
import { RETRY_DELAYS_MS, MAX_ATTEMPTS, DISABLE_AFTER_MS } from '../../src/webhooks/retry.js';
import { ROTATION_OVERLAP_MS } from '../../src/webhooks/signing.js';
import { startReceiver, streamBytes, type Received, type Receiver } from '../helpers/receiver.js';
import { consentApp, grant } from '../consent/helpers.js';
import { call } from '../helpers/http.js';
import { ALICE, syntheticSilos } from '../helpers/synthetic-connector.js';
import { auditTexts, auditTypes } from '../auth/helpers.js';

type Answer = (r: Received, res: ServerResponse) => unknown;

let t: Awaited<ReturnType<typeof consentApp>>;
let rx: Receiver;
let answer: Answer;
const deliverers: Deliverer[] = [];

const ok: Answer = (_r, res) => {
  res.writeHead(204);
  res.end();
};

beforeEach(async () => {
  t = await consentApp({ env: { OUBLI_WEBHOOK_ALLOW_PRIVATE: '1' } });
  // Standard Webhooks receivers refuse a timestamp more than 5 minutes from their own clock.
  t.deps.clock.set(Date.now());
  answer = ok;
  rx = await startReceiver((r, res) => answer(r, res));
});

afterEach(async () => {
  for (const d of deliverers.splice(0)) await d.stop();
  await rx.close();
});

function deliverer(opts: ConstructorParameters<typeof Deliverer>[2] = {}): Deliverer {
  const d = new Deliverer(t.deps, t.deps.webhookClient, opts);
  deliverers.push(d);
  return d;
}

async function subscribe(events: string[] = ['consent.updated'], extra: Record<string, unknown> = {}, path = '/hook') {
  const r = await call(t.app, 'POST', '/v1/webhooks', { headers: t.auth, body: { url: `${rx.url}${path}`, events, ...extra } });
  expect(r.status, r.text).toBe(201);
  return r.json as { id: string; secret?: string; publicKey?: string };
}

async function deliveries(endpointId: string) {
  const r = await call(t.app, 'GET', `/v1/webhooks/${endpointId}/deliveries?limit=200`, { headers: t.auth });
  expect(r.status, r.text).toBe(200);
  return r.json.deliveries as { id: string; status: string; attempts: number; lastStatus: number | null; lastError: string | null; nextAttemptAt: string | null }[];
}

const verifyWith = (secret: string, r: Received) => new Webhook(secret).verify(r.body, r.headers as Record<string, string>) as { type: string; data: Record<string, unknown> };

describe('webhook deliveries', () => {
  it('a consent change is delivered, signed (verified by the standardwebhooks package), with a thin payload', async () => {
    const e = await subscribe();
    expect(e.secret).toMatch(/^whsec_/);
    expect((await t.post(grant('zoe@example.com'))).status).toBe(201);
    await deliverer().runUntilIdle();
    expect(rx.received).toHaveLength(1);
    const msg = verifyWith(e.secret!, rx.received[0]!);
    expect(msg.type).toBe('consent.updated');
    expect(msg.data).toMatchObject({ purpose: 'newsletter', decision: 'granted', channel: 'web' });
    expect(String(msg.data.subject)).toMatch(/^sub_/);
    // Never the identity itself.
    expect(rx.received[0]!.body).not.toContain('zoe');
    const [d] = await deliveries(e.id);
    expect(d).toMatchObject({ status: 'delivered', attempts: 1, lastStatus: 204, id: rx.received[0]!.headers['webhook-id'] });
  });

  it('a repeat of the current decision announces nothing; an unsubscribed event type is not sent', async () => {
    await subscribe(['request.received']);
    await t.post(grant('zoe@example.com'));
    await t.post(grant('zoe@example.com'));
    await deliverer().runUntilIdle();
    expect(rx.received).toHaveLength(0);
  });

  it('a failed attempt is retried within 10 s, then on a schedule of more than three days, then fails', async () => {
    const total = RETRY_DELAYS_MS.reduce((a, b) => a + b, 0);
    expect(RETRY_DELAYS_MS[0]).toBeLessThanOrEqual(9_000); // with +10 % jitter: within 10 s
    expect(total).toBeGreaterThan(3 * 24 * 3600_000);
    const e = await subscribe();
    // The first message always fails; the others succeed (so the endpoint is not failing for days).
    let failing: unknown;
    answer = (r, res) => {
      failing ??= r.headers['webhook-id'];
      res.writeHead(r.headers['webhook-id'] === failing ? 500 : 204);
      res.end('boom');
    };
    await t.post(grant('zoe@example.com'));
    const d = deliverer();
    await d.runUntilIdle();
    let [row] = await deliveries(e.id);
    expect(row).toMatchObject({ status: 'pending', attempts: 1, lastStatus: 500, lastError: 'HTTP 500' });
    const due = Date.parse(row!.nextAttemptAt!) - t.deps.now();
    expect(due).toBeGreaterThan(4000);
    expect(due).toBeLessThanOrEqual(10_000);
    // Not before it is due.
    await d.runUntilIdle();
    expect(rx.received).toHaveLength(1);
    for (let n = 2; n <= MAX_ATTEMPTS; n++) {
      t.deps.clock.advance(RETRY_DELAYS_MS[n - 2]! * 1.2);
      await t.post(grant(`other${n}@example.com`));
      await d.runUntilIdle();
      expect(rx.received.filter((r) => r.headers['webhook-id'] === failing)).toHaveLength(n);
    }
    row = (await deliveries(e.id)).find((x) => x.id === failing);
    expect(row).toMatchObject({ status: 'failed', attempts: MAX_ATTEMPTS, nextAttemptAt: null });
    t.deps.clock.advance(30 * 24 * 3600_000);
    await d.runUntilIdle();
    expect(rx.received.filter((r) => r.headers['webhook-id'] === failing)).toHaveLength(MAX_ATTEMPTS);
    expect((await call(t.app, 'GET', `/v1/webhooks/${e.id}`, { headers: t.auth })).json.status).toBe('enabled');
  });

  it('2xx after 15 s is a failure (timeout) and the attempt is retried', async () => {
    const e = await subscribe();
    let first = true;
    answer = (_r, res) => {
      if (first) {
        first = false;
        return; // never answers: the client gives up after its time limit
      }
      res.writeHead(200);
      res.end();
    };
    const client = (await import('../../src/webhooks/client.js')).createWebhookClient({ allowPrivate: true });
    // A shorter limit than the real 15 s, for the test's sake; the policy is the same.
    const slow = new Deliverer(t.deps, new (client.constructor as typeof import('../../connectors/net/index.js').OutboundClient)({ privateNetworks: true, timeoutMs: 300 }));
    deliverers.push(slow);
    await client.close();
    await t.post(grant('zoe@example.com'));
    await slow.runUntilIdle();
    let [row] = await deliveries(e.id);
    expect(row!.status).toBe('pending');
    expect(row!.lastError).toMatch(/^TIMEOUT/);
    t.deps.clock.advance(10_000);
    await slow.runUntilIdle();
    [row] = await deliveries(e.id);
    expect(row).toMatchObject({ status: 'delivered', attempts: 2 });
  });

  it('3xx is a failed attempt: the redirect is not followed', async () => {
    const e = await subscribe();
    answer = (r, res) => {
      if (r.path === '/hook') {
        res.writeHead(302, { location: `${rx.url}/elsewhere` });
        res.end();
      } else ok(r, res);
    };
    await t.post(grant('zoe@example.com'));
    await deliverer().runUntilIdle();
    expect(rx.received.map((r) => r.path)).toEqual(['/hook']);
    const [row] = await deliveries(e.id);
    expect(row).toMatchObject({ status: 'pending', lastStatus: 302 });
    expect(row!.lastError).toMatch(/redirects are not followed/);
  });

  it('a 10 MB answer is cut at the cap and the delivery still recorded', async () => {
    const e = await subscribe();
    answer = (_r, res) => streamBytes(res, 10 * 1024 * 1024);
    await t.post(grant('zoe@example.com'));
    await deliverer().runUntilIdle();
    const [row] = await deliveries(e.id);
    expect(row!.status).toBe('delivered');
    const stored = await t.deps.db.webhooks.delivery(row!.id);
    expect(stored!.lastResponse!.length).toBeLessThanOrEqual(1024);
  });

  it('429 and 503 with Retry-After are retried no sooner than asked', async () => {
    const e = await subscribe();
    answer = (_r, res) => {
      res.writeHead(429, { 'retry-after': '120' });
      res.end();
    };
    await t.post(grant('zoe@example.com'));
    const d = deliverer();
    await d.runUntilIdle();
    const [row] = await deliveries(e.id);
    expect(Date.parse(row!.nextAttemptAt!) - t.deps.now()).toBeGreaterThanOrEqual(120_000);
    t.deps.clock.advance(60_000);
    await d.runUntilIdle();
    expect(rx.received).toHaveLength(1);
    t.deps.clock.advance(61_000);
    answer = ok;
    await d.runUntilIdle();
    expect(rx.received).toHaveLength(2);
  });

  it('410 Gone disables the endpoint at once, audited; nothing more is sent until it is enabled', async () => {
    const e = await subscribe();
    answer = (_r, res) => {
      res.writeHead(410);
      res.end();
    };
    await t.post(grant('zoe@example.com'));
    const d = deliverer();
    await d.runUntilIdle();
    const ep = await call(t.app, 'GET', `/v1/webhooks/${e.id}`, { headers: t.auth });
    expect(ep.json).toMatchObject({ status: 'disabled', disabledReason: 'the receiver answered 410 Gone' });
    expect(await auditTypes(t.deps)).toContain('webhook.disabled');
    await t.post(grant('zoe@example.com', 'targeted-ads'));
    await d.runUntilIdle();
    expect(rx.received).toHaveLength(1);
    // Events while disabled are kept as failed: recoverable once it is enabled again.
    answer = ok;
    expect((await call(t.app, 'POST', `/v1/webhooks/${e.id}/recover`, { headers: t.auth, body: { since: new Date(0).toISOString() } })).status).toBe(409);
    expect((await call(t.app, 'PATCH', `/v1/webhooks/${e.id}`, { headers: t.auth, body: { enabled: true } })).json.status).toBe('enabled');
    const rec = await call(t.app, 'POST', `/v1/webhooks/${e.id}/recover`, { headers: t.auth, body: { since: new Date(0).toISOString() } });
    expect(rec.status, rec.text).toBe(202);
    expect(rec.json.requeued).toBe(2);
    // Each recovered message starts a fresh retry schedule (not one last try).
    expect((await deliveries(e.id)).map((x) => x.attempts)).toEqual([0, 0]);
    await d.runUntilIdle();
    expect(rx.received).toHaveLength(3);
    expect((await deliveries(e.id)).every((x) => x.status === 'delivered')).toBe(true);
  });

  it('an endpoint failing for three days without one success is disabled and the DPO told', async () => {
    const e = await subscribe();
    answer = (_r, res) => {
      res.writeHead(503);
      res.end();
    };
    const d = deliverer();
    for (let i = 0; i < 8; i++) {
      await t.post(grant(`p${i}@example.com`));
      await d.runUntilIdle();
      t.deps.clock.advance(Math.ceil(DISABLE_AFTER_MS / 7));
    }
    await d.runUntilIdle();
    const ep = await call(t.app, 'GET', `/v1/webhooks/${e.id}`, { headers: t.auth });
    expect(ep.json.status).toBe('disabled');
    expect(ep.json.disabledReason).toMatch(/three days/);
    const entry = (await auditTexts(t.deps)).find((x) => x.includes('"webhook.disabled"'));
    expect(entry).toBeDefined();
    expect((await deliveries(e.id)).every((x) => x.status === 'failed')).toBe(true);
  });

  it('messages of one request reach an endpoint in order, one at a time, even when the first is retried', async () => {
    const e = await subscribe(['consent.updated']);
    let fail = true;
    answer = (_r, res) => {
      // Only the very first attempt fails.
      res.writeHead(fail ? 500 : 204);
      fail = false;
      res.end();
    };
    // Three changes of one person: same order key (the subject).
    await t.post(grant('zoe@example.com'));
    await t.post({ ...grant('zoe@example.com'), decision: 'withdrawn' });
    await t.post(grant('zoe@example.com'));
    // Another person's change is not held back by zoe's.
    await t.post(grant('ann@example.com'));
    const d = deliverer();
    await d.runUntilIdle();
    const first = rx.received.map((r) => JSON.parse(r.body).data.decision);
    expect(first).toEqual(['granted', 'granted']); // zoe's first (failed, blocks the rest) and ann's
    t.deps.clock.advance(10_000);
    await d.runUntilIdle();
    expect(rx.received).toHaveLength(5);
    expect(rx.received[0]!.headers['webhook-id']).not.toBe(rx.received[1]!.headers['webhook-id']);
    const ids = rx.received.map((r) => r.headers['webhook-id']);
    // The retried message kept its id; the next two came after it, in order.
    expect(ids[2]).toBe(ids[0]);
    expect(rx.received.slice(2).map((r) => JSON.parse(r.body).data.decision)).toEqual(['granted', 'withdrawn', 'granted']);
    expect((await deliveries(e.id)).every((x) => x.status === 'delivered')).toBe(true);
  });

  it('a rotated secret: both signatures for 24 h, so a receiver holding either verifies; then only the new one', async () => {
    const e = await subscribe();
    await t.post(grant('a@example.com'));
    const d = deliverer();
    await d.runUntilIdle();
    const rot = await call(t.app, 'POST', `/v1/webhooks/${e.id}/rotate-secret`, { headers: t.auth });
    expect(rot.status, rot.text).toBe(200);
    const fresh = rot.json.secret as string;
    expect(fresh).not.toBe(e.secret);
    await t.post(grant('b@example.com'));
    await d.runUntilIdle();
    const during = rx.received[1]!;
    expect(String(during.headers['webhook-signature']).split(' ')).toHaveLength(2);
    expect(verifyWith(e.secret!, during).type).toBe('consent.updated');
    expect(verifyWith(fresh, during).type).toBe('consent.updated');
    t.deps.clock.advance(ROTATION_OVERLAP_MS + 1000);
    // Receivers check the timestamp against real time: sign this one "now" again.
    t.deps.clock.set(Date.now());
    const row = await t.deps.db.webhooks.endpoint(e.id);
    await t.deps.db.tx((tx) => tx.webhooks.updateEndpoint(e.id, { previousUntil: t.deps.now() - 1 }, row!.updatedAt + 1));
    await t.post(grant('c@example.com'));
    await d.runUntilIdle();
    const after = rx.received[2]!;
    expect(String(after.headers['webhook-signature']).split(' ')).toHaveLength(1);
    expect(verifyWith(fresh, after).type).toBe('consent.updated');
    expect(() => verifyWith(e.secret!, after)).toThrow();
  });

  it('a secret rotated while a delivery is in flight: that attempt verifies with the old secret, its retry with either', async () => {
    const e = await subscribe();
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    answer = async (_r, res) => {
      if (rx.received.length === 1) {
        await held;
        res.writeHead(500);
      } else res.writeHead(204);
      res.end();
    };
    await t.post(grant('zoe@example.com'));
    const d = deliverer();
    const running = d.runUntilIdle();
    while (rx.received.length === 0) await new Promise((r) => setTimeout(r, 5));
    const fresh = (await call(t.app, 'POST', `/v1/webhooks/${e.id}/rotate-secret`, { headers: t.auth })).json.secret as string;
    release();
    await running;
    const first = rx.received[0]!;
    expect(verifyWith(e.secret!, first).type).toBe('consent.updated');
    expect(() => verifyWith(fresh, first)).toThrow();
    t.deps.clock.advance(10_000);
    await d.runUntilIdle();
    const retry = rx.received[1]!;
    expect(retry.headers['webhook-id']).toBe(first.headers['webhook-id']);
    expect(verifyWith(e.secret!, retry).type).toBe('consent.updated');
    expect(verifyWith(fresh, retry).type).toBe('consent.updated');
    expect((await deliveries(e.id))[0]!.status).toBe('delivered');
  });

  it('v1a endpoints are signed with Ed25519; the public key is given once and listed in the webhook JWKS', async () => {
    const e = await subscribe(['consent.updated'], { scheme: 'v1a' });
    expect(e.publicKey).toMatch(/^whpk_/);
    expect(e.secret).toBeUndefined();
    const jwks = await call(t.app, 'GET', '/v1/webhooks/jwks.json', { headers: t.auth });
    expect(jwks.json.keys).toHaveLength(1);
    await t.post(grant('zoe@example.com'));
    await deliverer().runUntilIdle();
    const { createPublicKey, verify } = await import('node:crypto');
    const r = rx.received[0]!;
    const key = createPublicKey({ key: jwks.json.keys[0], format: 'jwk' });
    const content = Buffer.from(`${r.headers['webhook-id']}.${r.headers['webhook-timestamp']}.${r.body}`);
    const sig = String(r.headers['webhook-signature']);
    expect(sig.startsWith('v1a,')).toBe(true);
    expect(verify(null, content, key, Buffer.from(sig.slice(4), 'base64'))).toBe(true);
  });

  it('redeliver sends a finished message again with the same webhook-id', async () => {
    const e = await subscribe();
    await t.post(grant('zoe@example.com'));
    const d = deliverer();
    await d.runUntilIdle();
    const [row] = await deliveries(e.id);
    const r = await call(t.app, 'POST', `/v1/webhooks/deliveries/${row!.id}/redeliver`, { headers: t.auth });
    expect(r.status, r.text).toBe(202);
    expect((await call(t.app, 'POST', `/v1/webhooks/deliveries/${row!.id}/redeliver`, { headers: t.auth })).status).toBe(409);
    await d.runUntilIdle();
    expect(rx.received).toHaveLength(2);
    expect(rx.received[1]!.headers['webhook-id']).toBe(rx.received[0]!.headers['webhook-id']);
    expect((await call(t.app, 'POST', '/v1/webhooks/deliveries/msg_nope/redeliver', { headers: t.auth })).status).toBe(404);
  });

  it('request events: received, verified, erasure.requested and completed, in order, thin', async () => {
    const e = await subscribe(['request.received', 'request.verified', 'erasure.requested', 'request.completed', 'request.failed']);
    t.deps.connectors = syntheticSilos([ALICE]).all;
    const created = await call(t.app, 'POST', '/v1/requests', {
      headers: t.auth,
      body: { type: 'erasure', identities: [{ type: 'email', value: ALICE.email }], verified: true },
    });
    expect(created.status, created.text).toBe(201);
    const { Engine } = await import('../../src/engine/worker.js');
    await new Engine(t.deps).runUntilIdle();
    await deliverer().runUntilIdle();
    const types = rx.received.map((r) => verifyWith(e.secret!, r).type);
    expect(types[0]).toBe('request.received');
    expect(types).toContain('request.completed');
    expect(types.indexOf('erasure.requested')).toBeLessThan(types.indexOf('request.completed'));
    for (const r of rx.received) {
      expect(r.body).not.toContain('alice');
      expect(JSON.parse(r.body).data.requestId).toBe(created.json.id);
    }
  });

  it('a delivery written pending just as its endpoint was disabled (a race) fails unsent, recoverable', async () => {
    const e = await subscribe();
    await t.post(grant('zoe@example.com'));
    // The disable as a concurrent transaction that read no pending delivery would leave it.
    await t.deps.db.tx((tx) => tx.webhooks.disable(e.id, 'race', t.deps.now()));
    await deliverer().runUntilIdle();
    expect(rx.received).toHaveLength(0);
    const [row] = await deliveries(e.id);
    expect(row).toMatchObject({ status: 'failed', lastError: 'ENDPOINT_DISABLED' });
    expect((await call(t.app, 'GET', `/v1/webhooks/${e.id}`, { headers: t.auth })).json.failingSince).toBeNull();
  });

  it('finished deliveries are pruned: delivered after 30 days, failed after 90 (still recoverable until then)', async () => {
    const e = await subscribe();
    await t.post(grant('zoe@example.com'));
    const d = deliverer();
    await d.runUntilIdle();
    answer = (_r, res) => {
      res.writeHead(410);
      res.end();
    };
    await t.post(grant('zoe@example.com', 'targeted-ads'));
    await d.runUntilIdle();
    expect((await deliveries(e.id)).map((x) => x.status).sort()).toEqual(['delivered', 'failed']);
    t.deps.clock.advance(KEEP_DELIVERED_MS + 1000);
    expect(await d.prune()).toBe(1);
    expect((await deliveries(e.id)).map((x) => x.status)).toEqual(['failed']);
    t.deps.clock.advance(KEEP_FAILED_MS - KEEP_DELIVERED_MS);
    expect(await d.prune()).toBe(1);
    expect(await deliveries(e.id)).toHaveLength(0);
  });

  it('a change that rolls back writes no delivery and sends nothing', async () => {
    const e = await subscribe();
    await t.deps.db
      .tx(async (tx) => {
        const { emitWebhooks } = await import('../../src/webhooks/events.js');
        await emitWebhooks(t.deps, tx, [{ type: 'consent.updated', data: { x: 1 }, at: t.deps.now() }]);
        throw new Error('rolled back');
      })
      .catch(() => {});
    await deliverer().runUntilIdle();
    expect(rx.received).toHaveLength(0);
    expect(await deliveries(e.id)).toHaveLength(0);
  });

  it('two deliverers on one database send each message once', async () => {
    const e = await subscribe();
    for (let i = 0; i < 40; i++) await t.post(grant(`p${i}@example.com`));
    const a = deliverer({ claimBatch: 5, maxInFlight: 5 });
    const b = deliverer({ claimBatch: 5, maxInFlight: 5 });
    await Promise.all([a.runUntilIdle(), b.runUntilIdle()]);
    const ids = rx.received.map((r) => r.headers['webhook-id']);
    expect(ids).toHaveLength(40);
    expect(new Set(ids).size).toBe(40);
    expect(a.delivered + b.delivered).toBe(40);
    expect((await deliveries(e.id)).filter((x) => x.status === 'delivered')).toHaveLength(40);
  });

  it('a sender that died mid-attempt: its lease runs out and the message is sent again, same webhook-id', async () => {
    const e = await subscribe();
    await t.post(grant('zoe@example.com'));
    const now = t.deps.now();
    const [claimed] = await t.deps.db.tx((tx) => tx.webhooks.claim('dead-worker', now, now + 60_000, 10));
    expect(claimed).toBeDefined();
    const d = deliverer();
    await d.runUntilIdle();
    expect(rx.received).toHaveLength(0);
    t.deps.clock.advance(61_000);
    await d.runUntilIdle();
    expect(rx.received).toHaveLength(1);
    expect(rx.received[0]!.headers['webhook-id']).toBe(claimed!.id);
    // The dead worker's late outcome is not recorded.
    expect(await t.deps.db.tx((tx) => tx.webhooks.finish({ seq: claimed!.seq, owner: 'dead-worker', status: 'failed', nextAttemptAt: now, lastStatus: null, lastError: 'x', lastResponse: null, at: now }))).toBe(false);
    const [row] = await deliveries(e.id);
    expect(row!.status).toBe('delivered');
  });

  it('a DB administrator editing a delivery body, or inserting a delivery, gets nothing signed or sent', async () => {
    const e = await subscribe();
    await t.post(grant('zoe@example.com'));
    const { webhookDeliveries: d } = t.deps.db.tables;
    const [row] = await t.deps.db.q.select().from(d);
    const forged = row!.body.replace('"granted"', '"withdrawn"');
    await t.deps.db.tx((tx) => tx.q.update(d).set({ body: forged }).where(eq(d.seq, row!.seq)));
    await t.deps.db.tx((tx) => tx.q.insert(d).values({ ...row!, seq: undefined as never, id: 'msg_forged', body: forged, seal: Buffer.alloc(32) }));
    await deliverer().runUntilIdle();
    expect(rx.received).toHaveLength(0);
    const rows = await deliveries(e.id);
    expect(rows).toHaveLength(2);
    for (const x of rows) expect(x).toMatchObject({ status: 'failed', lastError: 'DELIVERY_TAMPERED: the row does not match its seal' });
  });

  it('audit.checkpoint subscribers get each new signed checkpoint (C2SP note)', async () => {
    const e = await subscribe(['audit.checkpoint']);
    await t.post(grant('zoe@example.com'));
    await t.deps.treeHeads.sign();
    await deliverer().runUntilIdle();
    expect(rx.received).toHaveLength(1);
    const msg = verifyWith(e.secret!, rx.received[0]!);
    expect(msg.type).toBe('audit.checkpoint');
    expect(String(msg.data.checkpoint)).toContain(`\n${msg.data.size}\n`);
    expect(msg.data.checkpoint).toBe(await t.deps.treeHeads.checkpoint());
  });

  it('secrets are sealed in the database: the row holds no whsec_, and a secret copied to another endpoint does not open', async () => {
    const a = await subscribe();
    const b = await subscribe();
    const rows = await t.deps.db.q.select().from(t.deps.db.tables.webhookEndpoints);
    for (const r of rows) expect(Buffer.from(r.secret).toString('latin1')).not.toContain('whsec_');
    const ra = rows.find((r) => r.id === a.id)!;
    await t.deps.db.tx((tx) => tx.q.update(tx.db.tables.webhookEndpoints).set({ secret: ra.secret }).where(eq(tx.db.tables.webhookEndpoints.id, b.id)));
    await t.post(grant('zoe@example.com'));
    await deliverer().runUntilIdle();
    // a's message goes out; b's cannot be signed and is not sent with a's secret.
    expect(rx.received).toHaveLength(1);
    expect(verifyWith(a.secret!, rx.received[0]!).type).toBe('consent.updated');
  });
});
