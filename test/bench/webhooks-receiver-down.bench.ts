/**
 * Issue 9: "a receiver down for its first 60 s, and oubli restarted in between: every event
 * delivered after it returns, none lost, duplicates only with the same webhook-id" — with real
 * processes and real time: `oubli serve` (embedded SQLite) takes consent events over HTTP while
 * its one subscriber is down, is killed with SIGKILL mid-run (its claims left behind) and started
 * again, takes more events; the receiver comes up 60 s after the first event. The bench waits
 * until everything arrived (the retry schedule: 5 s, then 5 min — so about five minutes) and
 * counts what the receiver got. Baseline: the events sent, each of which must arrive.
 * BENCH_DOWN_S and BENCH_EVENTS change the scenario's size.
 */
import { createServer } from 'node:http';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { oubli, serve, type Served } from '../cli/helpers.js';
import { report } from './util.js';
import { freePort } from '../helpers/receiver.js';

const EVENTS = Number(process.env.BENCH_EVENTS ?? 1000);
const DOWN_S = Number(process.env.BENCH_DOWN_S ?? 60);
const DEADLINE_S = DOWN_S + 8 * 60;
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function main() {
  const dataDir = mkdtempSync(join(tmpdir(), 'oubli-bench-down-'));
  const env = { OUBLI_WEBHOOK_ALLOW_PRIVATE: '1', HOST: '127.0.0.1' };
  const made = await oubli(['apikey', 'create', '--name', 'bench', '--scopes', 'consents:write,webhooks:write,admin'], { dataDir, env });
  const key = made.stdout.trim().split('\n').at(-1)!;
  const headers = { authorization: `Bearer ${key}`, 'content-type': 'application/json' };
  let server: Served = await serve({ dataDir, env });
  const api = (path: string, body: unknown) => fetch(`${server.url}${path}`, { method: 'POST', headers, body: JSON.stringify(body) });

  const port = await freePort();
  if ((await api('/v1/purposes', { id: 'newsletter', title: { fr: 'Lettre', en: 'Newsletter' }, text: { fr: 'Lettre.', en: 'Newsletter.' }, legalBasis: 'dpv:Consent', channels: ['email'] })).status !== 201) throw new Error('purpose');
  if ((await api('/v1/webhooks', { url: `http://127.0.0.1:${port}/hook`, events: ['consent.updated'] })).status !== 201) throw new Error('webhook');

  const t0 = Date.now();
  const post = async (from: number, to: number) => {
    for (let i = from; i < to; i += 20) {
      await Promise.all(
        Array.from({ length: Math.min(20, to - i) }, async (_, k) => {
          const r = await api('/v1/consents', { subject: { type: 'email', value: `down${i + k}@example.com` }, purpose: 'newsletter', decision: 'granted', source: { channel: 'web' } });
          if (r.status !== 201) throw new Error(`consent ${i + k}: ${r.status}`);
        }),
      );
    }
  };
  await post(0, EVENTS / 2);
  // Let it attempt (and fail) for a while, then kill it without warning and start it again.
  await sleep(7_000);
  server.child.kill('SIGKILL');
  await new Promise((r) => server.child.once('exit', r));
  server = await serve({ dataDir, env });
  await post(EVENTS / 2, EVENTS);

  // The receiver comes up DOWN_S after the first event.
  await sleep(Math.max(0, t0 + DOWN_S * 1000 - Date.now()));
  const seen = new Map<string, string>();
  let received = 0;
  let mismatched = 0;
  const rx = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received++;
      const id = String(req.headers['webhook-id']);
      const body = Buffer.concat(chunks).toString();
      if (seen.has(id) && seen.get(id) !== body) mismatched++;
      seen.set(id, body);
      res.writeHead(204);
      res.end();
    });
  });
  await new Promise<void>((r) => rx.listen(port, '127.0.0.1', r));
  const up = Date.now();
  while (seen.size < EVENTS && Date.now() - t0 < DEADLINE_S * 1000) await sleep(1000);
  const drainS = (Date.now() - up) / 1000;
  const people = new Set([...seen.values()].map((b) => JSON.parse(b).data.subject as string));
  await server.stop();
  rx.closeAllConnections();
  rx.close();

  report(`Receiver down ${DOWN_S} s, oubli killed (SIGKILL) and restarted meanwhile: ${fmt(EVENTS)} consent events`, [
    { metric: 'events delivered after the receiver returned', value: fmt(people.size), baseline: `${fmt(EVENTS)} sent`, target: 'all', ok: people.size === EVENTS },
    { metric: 'lost', value: fmt(EVENTS - people.size), baseline: '0', target: '0', ok: people.size === EVENTS },
    { metric: 'duplicates (same webhook-id, same body)', value: fmt(received - seen.size), baseline: '—', target: 'only same id', ok: mismatched === 0 && seen.size === EVENTS },
    { metric: 'time to deliver all after the receiver came up', value: `${drainS.toFixed(0)} s`, baseline: 'retry at 5 s, then 5 min', target: 'informative', ok: true },
  ]);
  process.exit(people.size === EVENTS && mismatched === 0 ? 0 : 1);
}

await main();
