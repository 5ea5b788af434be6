/**
 * Consent registry over HTTP, with the 1M × 5 data set of consent-1-load.bench.ts loaded (it
 * is loaded here first when missing). The server runs in a child process (its own core);
 * autocannon drives it from this one, 50 connections, 127.0.0.1 only. Baselines in the same
 * run: for the hot path, a minimal handler on the same stack doing only what the route must
 * (consent-server.ts `minimal`; a bare Hono hello-world is printed as the floor); raw
 * better-sqlite3 batched inserts for the batch. Today's main is measured beside this by
 * running the same bench at that commit (see the README's benchmark section).
 */
import Database from '../../connectors/sql/sqlite-binding.js';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createApiKey } from '../../src/auth/api-keys.js';
import { BENCH_PURPOSES, benchCtx, emailOf, loadFixture, openBenchDatabase } from './consent-fixture.js';
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
  const r = await loadFixture(FIXTURE, people, (s) => console.log(s));
  console.log(`  loaded in ${(r.ms / 1000).toFixed(1)} s`);
}

// An API key for the run.
const db = await openBenchDatabase(FIXTURE);
const key = (await createApiKey(await benchCtx(db), { name: 'bench', scopes: ['consents:read', 'consents:write'] })).key;
await db.close();
const authorization = `Bearer ${key}`;

async function server(mode: 'hello' | 'minimal' | 'app'): Promise<{ url: string; child: ChildProcess }> {
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

// 2. The reference for the hot path: the minimal same-stack handler, on the same requests.
const reads = Array.from({ length: 2000 }, () => ({
  method: 'GET' as const,
  path: `/v1/subjects/email:${encodeURIComponent(emailOf(rand(people)))}/consents`,
}));
const mini = await server('minimal');
const miniOpts: Parameters<typeof load>[0] = { url: mini.url, headers: { authorization }, requests: reads };
await load({ ...miniOpts, duration: 3 });
const reference = await measure(mini.child, { ...miniOpts, duration: SECONDS });
await stop(mini.child);

const app = await server('app');

// Reference: the app's own floor, /healthz through the same global middleware stack
// (request id, security headers, body limit) without auth or database.
await load({ url: `${app.url}/healthz`, duration: 2 });
const floor = await measure(app.child, { url: `${app.url}/healthz`, duration: SECONDS });

// 3. The hot path: the same 2,000 random people out of the 1M, cycled. The requests are built
// up front (autocannon caches them) so the client's CPU is not what is measured.
const getOpts: Parameters<typeof load>[0] = { url: app.url, headers: { authorization }, requests: reads };
await load({ ...getOpts, duration: 3 });
const hot = await measure(app.child, { ...getOpts, duration: SECONDS });

// 4. Single writes: one event per request, a random person (existing or new) and purpose.
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

// 5. Batches of 10,000 events (NDJSON), sent one after the other, end to end.
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

const pct = (hot.rps / reference.rps) * 100;
const batchRate = (BATCHES * 10_000) / (batchMs / 1000);
report(`consent registry over HTTP (${people.toLocaleString('en')} people × 5 purposes loaded, 50 connections, ${SECONDS} s each)`, [
  {
    metric: 'GET /v1/subjects/{id}/consents req/s',
    value: `${Math.round(hot.rps).toLocaleString('en')}/s (${pct.toFixed(0)} %)`,
    baseline: `${Math.round(reference.rps).toLocaleString('en')}/s minimal`,
    target: '≥ 75 % of the minimal same-stack handler',
    ok: pct >= 75 && hot.errors === 0 && hot.non2xx === 0 && reference.non2xx === 0,
  },
  {
    metric: 'server CPU per request: GET consents vs minimal',
    value: `${hot.cpuPerReq.toFixed(0)} µs`,
    baseline: `${reference.cpuPerReq.toFixed(0)} µs minimal`,
    target: `— (hello ${base.cpuPerReq.toFixed(0)} µs, healthz ${floor.cpuPerReq.toFixed(0)} µs)`,
    ok: true,
  },
  { metric: 'GET /v1/subjects/{id}/consents p99', value: `${hot.p99} ms`, baseline: `${reference.p99} ms minimal`, target: '≤ 15 ms', ok: hot.p99 <= 15 },
  {
    metric: 'reference: bare Hono hello-world, GET /healthz through the app',
    value: `${Math.round(base.rps).toLocaleString('en')}/s`,
    baseline: `${Math.round(floor.rps).toLocaleString('en')}/s healthz`,
    target: '— (floors, no target)',
    ok: true,
  },
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
    target: '≥ 50,000/s',
    ok: batchRate >= 50_000 && batchFailures === 0,
  },
]);
