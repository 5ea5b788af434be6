/**
 * Nothing is lost when the receiver or oubli is down: a receiver down for its first 60 s and
 * the deliverer dying mid-attempt in between (its claims left behind, as kill -9 leaves them),
 * another one — a restarted process, on PostgreSQL another instance with its own pool — taking
 * over. Every event arrives once the receiver is back; a message that arrives twice carries the
 * same `webhook-id` (receivers deduplicate by it). The clock is the test's; the HTTP is real.
 * (test/bench/webhooks-receiver-down.bench.ts does the same with real processes and real time.)
 */
import { createServer, type Server } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { Deliverer } from '../../src/webhooks/deliverer.js';
import { consentApp, grant } from '../consent/helpers.js';
import { call } from '../helpers/http.js';
import { closePeerDeps, createPeerDeps } from '../helpers/deps.js';
import { freePort } from '../helpers/receiver.js';

const servers: Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
});

describe('webhook durability', () => {
  it('receiver down for 60 s, the deliverer killed mid-attempt and replaced: every event delivered, duplicates only by webhook-id', async () => {
    const t = await consentApp({ env: { OUBLI_WEBHOOK_ALLOW_PRIVATE: '1' } });
    const port = await freePort();
    const made = await call(t.app, 'POST', '/v1/webhooks', { headers: t.auth, body: { url: `http://127.0.0.1:${port}/hook`, events: ['consent.updated'] } });
    expect(made.status, made.text).toBe(201);
    const EVENTS = 120;
    for (let i = 0; i < EVENTS; i++) expect((await t.post(grant(`p${i}@example.com`))).status).toBe(201);

    // The receiver is down: every first attempt is refused.
    const first = new Deliverer(t.deps, t.deps.webhookClient, { workerId: 'first' });
    await first.runUntilIdle();
    expect((await t.deps.db.webhooks.counts()).pending).toBe(EVENTS);
    // 30 s in, the first retries fail too; then the process dies holding claims (kill -9).
    t.deps.clock.advance(30_000);
    await first.runUntilIdle();
    const start = t.deps.now();
    const abandoned = await t.deps.db.tx((tx) => tx.webhooks.claim('first', start + 300_000, start + 360_000, 10));
    expect(abandoned).toHaveLength(10);

    // Restarted: another process (on PostgreSQL another instance on its own pool).
    const peer = await createPeerDeps(t.deps);
    try {
      const second = new Deliverer(peer, peer.webhookClient, { workerId: 'second' });
      // 60 s in, the receiver is back on its port.
      t.deps.clock.advance(30_000);
      const got: { id: string; body: string }[] = [];
      const rx = createServer((req, res) => {
        const chunks: Buffer[] = [];
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', () => {
          got.push({ id: String(req.headers['webhook-id']), body: Buffer.concat(chunks).toString() });
          res.writeHead(204);
          res.end();
        });
      });
      servers.push(rx);
      await new Promise<void>((r) => rx.listen(port, '127.0.0.1', r));
      // Time passes; whatever comes due is sent.
      for (let s = 0; s < 12 && (await peer.db.webhooks.counts()).pending > 0; s++) {
        t.deps.clock.advance(60_000);
        await second.runUntilIdle();
      }
      const counts = await peer.db.webhooks.counts();
      expect(counts).toMatchObject({ pending: 0, failed: 0, delivered: EVENTS });
      const ids = new Map<string, string>();
      for (const m of got) {
        if (ids.has(m.id)) expect(ids.get(m.id)).toBe(m.body); // a duplicate is the same message
        ids.set(m.id, m.body);
      }
      expect(ids.size).toBe(EVENTS);
      const people = new Set([...ids.values()].map((b) => JSON.parse(b).data.subject));
      expect(people.size).toBe(EVENTS);
      // The abandoned claims were taken over once their lease ran out, with their own ids.
      for (const d of abandoned) expect(ids.has(d.id)).toBe(true);
      // The dead process's late word is refused.
      const late = abandoned[0]!;
      expect(await peer.db.tx((tx) => tx.webhooks.finish({ seq: late.seq, owner: 'first', status: 'failed', nextAttemptAt: 0, lastStatus: null, lastError: 'late', lastResponse: null, at: 0 }))).toBe(false);
    } finally {
      await closePeerDeps(peer, t.deps);
    }
  });
});
