/**
 * Consent registry over HTTP, with the 1M × 5 data set of consent-1-load.bench.ts loaded (it
 * is loaded here first when missing). The server runs in a child process (its own core);
 * autocannon drives it from this one, 50 connections, 127.0.0.1 only. Baselines in the same
 * run: a bare Hono hello-world for HTTP, raw better-sqlite3 batched inserts for the batch.
 */
import Database from '../../connectors/sql/sqlite-binding.js';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openDatabase } from '../../src/db/client.js';
import { createApiKey } from '../../src/auth/api-keys.js';
import { BENCH_PURPOSES, benchCtx, emailOf, loadFixture } from './consent-fixture.js';
import { load, report } from './util.js';

const FIXTURE = join(tmpdir(), 'oubli-bench-consent.db');
const people = Number(process.env.BENCH_PEOPLE ?? 1_000_000);
const dir = dirname(fileURLToPath(import.meta.url));

function countPeople(): number {
  if (!existsSync(FIXTURE)) return 0;
  const db = new Database(FIXTURE, { readonly: true });
  try {
    return db.prepare('select count(*) from subjects').pluck().get() as number;
  } catch {
    return 0;
  } finally {
    db.close();
  }
}

if (countPeople() < people) {
  console.log(`no ${people.toLocaleString('en')}-people fixture: loading it (see consent-1-load.bench.ts)`);
  const r = loadFixture(FIXTURE, people, (s) => console.log(s));
  console.log(`  loaded in ${(r.ms / 1000).toFixed(1)} s`);
}

// An API key for the run.
const db = openDatabase(FIXTURE);
const key = createApiKey(benchCtx(db), { name: 'bench', scopes: ['consents:read', 'consents:write'] }).key;
db.$client.close();
const authorization = `Bearer ${key}`;

async function server(mode: 'hello' | 'app'): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(dir, 'consent-server.ts'), mode, FIXTURE], {
    stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
  });
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (b: Buffer) => {
      out += b.toString();
      const m = /PORT (\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.once('exit', (code) => reject(new Error(`bench server exited (${code})`)));
  });
  return { url: `http://127.0.0.1:${port}`, child };
}
function cpuOf(child: ChildProcess): Promise<number> {
  return new Promise((resolve) => {
    child.once('message', (m: { cpu: number }) => resolve(m.cpu));
    child.send('cpu');
  });
}
/** Load plus the server's CPU µs per request over the same window. */
async function measure(child: ChildProcess, opts: Parameters<typeof load>[0]) {
  const before = await cpuOf(child);
  const r = await load(opts);
  const after = await cpuOf(child);
  const requests = r.rps * Number(opts.duration ?? 5);
  return { ...r, cpuPerReq: requests > 0 ? (after - before) / requests : 0 };
}
function stop(child: ChildProcess): Promise<void> {
  return new Promise((r) => {
    child.once('exit', () => r());
    child.kill('SIGTERM');
  });
}

const rand = (n: number) => Math.floor(Math.random() * n);
const SECONDS = 5;

// 1. Baseline: bare Hono hello-world.
const hello = await server('hello');
await load({ url: hello.url, duration: 2 });
const base = await measure(hello.child, { url: hello.url, duration: SECONDS });
await stop(hello.child);

const app = await server('app');

// Reference: the app's own floor, /healthz through the same global middleware stack
// (request id, security headers, body limit) without auth or database.
await load({ url: `${app.url}/healthz`, duration: 2 });
const floor = await measure(app.child, { url: `${app.url}/healthz`, duration: SECONDS });

// 2. The hot path: 2,000 random people out of the 1M, cycled. The requests are built up front
// (autocannon caches them) so the client's CPU is not what is measured.
const reads = Array.from({ length: 2000 }, () => ({
  method: 'GET' as const,
  path: `/v1/subjects/email:${encodeURIComponent(emailOf(rand(people)))}/consents`,
}));
const getOpts: Parameters<typeof load>[0] = { url: app.url, headers: { authorization }, requests: reads };
await load({ ...getOpts, duration: 3 });
const hot = await measure(app.child, { ...getOpts, duration: SECONDS });

// 3. Single writes: one event per request, a random person (existing or new) and purpose.
const DECISIONS = ['granted', 'refused', 'withdrawn'];
const event = () =>
  JSON.stringify({
    subject: { type: 'email', value: emailOf(rand(people * 1.1)) },
    purpose: BENCH_PURPOSES[rand(5)],
    decision: DECISIONS[rand(3)],
    source: { channel: 'web' },
  });
const postOpts: Parameters<typeof load>[0] = {
  url: app.url,
  headers: { authorization, 'content-type': 'application/json' },
  requests: Array.from({ length: 2000 }, () => ({ method: 'POST' as const, path: '/v1/consents', body: event() })),
};
const writes = await measure(app.child, { ...postOpts, duration: SECONDS });

// 4. Batches of 10,000 events (NDJSON), sent one after the other, end to end.
const BATCHES = 10;
const bodies = Array.from({ length: BATCHES }, () => Array.from({ length: 10_000 }, event).join('\n'));
await fetch(`${app.url}/v1/consents/batch`, { method: 'POST', headers: { authorization, 'content-type': 'application/x-ndjson' }, body: bodies[0] });
const tb = performance.now();
let batchFailures = 0;
for (const body of bodies) {
  const res = await fetch(`${app.url}/v1/consents/batch`, { method: 'POST', headers: { authorization, 'content-type': 'application/x-ndjson' }, body });
  if (res.status !== 201) batchFailures++;
  await res.arrayBuffer();
}
const batchMs = performance.now() - tb;
await stop(app.child);

// Baseline for the batch: raw better-sqlite3, the same number of rows into a table shaped like
// consent_events (same indexes), 10,000 rows per transaction.
const rawPath = join(tmpdir(), `oubli-bench-raw-batch-${process.pid}.db`);
const raw = new Database(rawPath);
raw.pragma('journal_mode = WAL');
raw.pragma('synchronous = NORMAL');
raw.exec(`create table e (id text primary key, subject_id text, purpose_id text, decision text, occurred_at integer, channel text);
  create index e_s on e (subject_id, occurred_at); create index e_p on e (purpose_id, occurred_at, decision);`);
const ins = raw.prepare('insert into e values (?, ?, ?, ?, ?, ?)');
const tr = performance.now();
let n = 0;
for (let b = 0; b < BATCHES; b++) {
  raw.transaction(() => {
    for (let i = 0; i < 10_000; i++, n++) ins.run(`evt_${n}`, `sub_${rand(people)}`, BENCH_PURPOSES[rand(5)], 'granted', Date.now(), 'web');
  })();
}
const rawMs = performance.now() - tr;
raw.close();
for (const f of [rawPath, `${rawPath}-wal`, `${rawPath}-shm`]) rmSync(f, { force: true });

const pct = (hot.rps / base.rps) * 100;
const batchRate = (BATCHES * 10_000) / (batchMs / 1000);
report(`consent registry over HTTP (${people.toLocaleString('en')} people × 5 purposes loaded, 50 connections, ${SECONDS} s each)`, [
  {
    metric: 'GET /v1/subjects/{id}/consents req/s',
    value: `${Math.round(hot.rps).toLocaleString('en')}/s (${pct.toFixed(0)} %)`,
    baseline: `${Math.round(base.rps).toLocaleString('en')}/s hello`,
    target: '≥ 60 % of hello-world',
    ok: pct >= 60 && hot.errors === 0 && hot.non2xx === 0,
  },
  {
    metric: 'reference: GET /healthz through the app',
    value: `${Math.round(floor.rps).toLocaleString('en')}/s (${((floor.rps / base.rps) * 100).toFixed(0)} %)`,
    baseline: `${Math.round(base.rps).toLocaleString('en')}/s hello`,
    target: '— (middleware floor)',
    ok: true,
  },
  {
    metric: 'server CPU per request: GET consents vs hello',
    value: `${hot.cpuPerReq.toFixed(0)} µs`,
    baseline: `${base.cpuPerReq.toFixed(0)} µs hello`,
    target: `— (healthz ${floor.cpuPerReq.toFixed(0)} µs; ${((base.cpuPerReq / hot.cpuPerReq) * 100).toFixed(0)} % of hello by CPU)`,
    ok: true,
  },
  { metric: 'GET /v1/subjects/{id}/consents p99', value: `${hot.p99} ms`, baseline: `${base.p99} ms hello`, target: '≤ 15 ms', ok: hot.p99 <= 15 },
  {
    metric: `POST /v1/consents events/s (errors ${writes.errors}, non-2xx ${writes.non2xx})`,
    value: `${Math.round(writes.rps).toLocaleString('en')}/s`,
    baseline: `p99 ${writes.p99} ms, ${writes.cpuPerReq.toFixed(0)} µs CPU`,
    target: '≥ 3,000/s',
    ok: writes.rps >= 3000 && writes.non2xx === 0,
  },
  {
    metric: `POST /v1/consents/batch events/s (${BATCHES} × 10,000, failures ${batchFailures})`,
    value: `${Math.round(batchRate).toLocaleString('en')}/s`,
    baseline: `${Math.round(n / (rawMs / 1000)).toLocaleString('en')}/s raw`,
    target: '≥ 100,000/s',
    ok: batchRate >= 100_000 && batchFailures === 0,
  },
]);
