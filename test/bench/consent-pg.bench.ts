/**
 * Consent writes on PostgreSQL (issue 8): single events, POST /v1/consents, driven at three
 * `oubli serve` processes on one PostgreSQL database at once (one shared data dir, the secrets
 * given by env as the README's "Several instances" section says), 50 connections in total split
 * over the three, autocannon in this process, 127.0.0.1 only. Same-run baseline: the same load
 * (50 connections) against ONE instance. Each run gets a fresh database. Each request is a new
 * random event (person, purpose, decision), so the connections do not send the same sequence.
 * Any non-2xx answer or connection error fails the bench (exit 1).
 * Needs PostgreSQL at OUBLI_BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type autocannon from 'autocannon';
import pg from 'pg';
import { BENCH_PURPOSES, emailOf } from './consent-fixture.js';
import { backendsCpu, load, machineCpu, processCpu, report, servicesCpu, type LoadResult } from './util.js';

const ROOT = resolve(import.meta.dirname, '../..');
const SERVER = process.env.OUBLI_BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const CONNECTIONS = 50;
const WARMUP_S = 2;
const SECONDS = 10;
const PEOPLE = 1_000_000;
const TARGET = 3000;

const urlOf = (db: string) => {
  const u = new URL(SERVER);
  u.pathname = `/${db}`;
  return u.toString();
};

const admin = new pg.Client({ connectionString: SERVER, connectionTimeoutMillis: 3000 });
admin.on('error', (err) => console.error(`admin connection: ${err.message}`));
try {
  await admin.connect();
} catch (err) {
  console.log(`PostgreSQL at ${SERVER} unreachable (${(err as Error).message}): bench skipped`);
  process.exit(0);
}

// Whatever happens (error, Ctrl-C), the servers die with this process; the database and the
// temporary directory of the run in progress are dropped by its `finally`, or by `interrupt`.
const children: ChildProcess[] = [];
let current: { name: string; dir: string } | null = null;
process.on('exit', () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  if (current) rmSync(current.dir, { recursive: true, force: true });
});
async function interrupt() {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  if (current) await admin.query(`drop database if exists ${current.name} with (force)`).catch(() => {});
  process.exit(130);
}
process.once('SIGINT', interrupt);
process.once('SIGTERM', interrupt);

/** The env every instance of one deployment shares (no OUBLI_* from the caller's shell). */
function deploymentEnv(database: string, dataDir: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('OUBLI_')) env[k] = v;
  const { privateKey } = generateKeyPairSync('ed25519');
  return {
    ...env,
    OUBLI_SIGNING_KEY: JSON.stringify(privateKey.export({ format: 'jwk' })),
    OUBLI_MASTER_KEY: randomBytes(32).toString('base64'),
    OUBLI_PSEUDONYM_KEY: randomBytes(32).toString('base64'),
    OUBLI_DATABASE_URL: urlOf(database),
    OUBLI_DATA_DIR: dataDir,
    OUBLI_LOG_LEVEL: 'warn',
    HOST: '127.0.0.1',
    PORT: '0',
  };
}

/** Starts `oubli serve` (cwd: the run's temp dir, which holds no oubli.config.ts: no connectors). */
function start(env: NodeJS.ProcessEnv, cwd: string): Promise<string> {
  const child = spawn(process.execPath, [join(ROOT, 'bin/oubli.js'), 'serve'], { env, cwd, stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  return new Promise((ok, fail) => {
    let out = '';
    const timer = setTimeout(() => fail(new Error('oubli serve did not listen within 60 s')), 60_000);
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        ok(m[1]!);
      }
    });
    child.once('exit', (c) => {
      clearTimeout(timer);
      fail(new Error(`oubli serve exited ${c}`));
    });
  });
}

async function stopAll(): Promise<void> {
  await Promise.all(
    children.splice(0).map(
      (c) =>
        new Promise<void>((r) => {
          if (c.exitCode !== null || c.signalCode !== null) return r();
          const kill = setTimeout(() => c.kill('SIGKILL'), 10_000);
          c.once('exit', () => {
            clearTimeout(kill);
            r();
          });
          c.kill('SIGTERM');
        }),
    ),
  );
}

const rand = (n: number) => Math.floor(Math.random() * n);
const DECISIONS = ['granted', 'refused', 'withdrawn'];
const event = () =>
  JSON.stringify({
    subject: { type: 'email', value: emailOf(rand(PEOPLE)) },
    purpose: BENCH_PURPOSES[rand(BENCH_PURPOSES.length)],
    decision: DECISIONS[rand(3)],
    source: { channel: 'web' },
  });

interface Run {
  /** 2xx answers per second over the measured window, all instances together. */
  eventsPerS: number;
  /** The worst instance's p99 (ms). */
  p99: number;
  p50: number;
  non2xx: number;
  errors: number;
  samples: string[];
  stored: number;
  cpuBusy: number;
  /** CPU µs per stored event: the services, their PostgreSQL backends, this process (autocannon). */
  cpuPerEvent: { services: number; backends: number; generator: number };
  startMs: number;
}

/** One run: a fresh database, `instances` services, CONNECTIONS split over them. */
async function consentWrites(instances: number): Promise<Run> {
  const name = `oubli_bench_consent_${Date.now().toString(36)}${randomBytes(2).toString('hex')}`;
  await admin.query(`create database ${name}`);
  const dir = mkdtempSync(join(tmpdir(), 'oubli-bench-consent-pg-'));
  current = { name, dir };
  try {
    mkdirSync(join(dir, 'data'));
    const env = deploymentEnv(name, join(dir, 'data'));
    // The CLI applies the migrations on the fresh database and makes the key.
    const key = spawnSync(process.execPath, [join(ROOT, 'bin/oubli.js'), 'apikey', 'create', '--name', 'bench', '--scopes', 'admin,consents:write'], {
      env,
      cwd: dir,
      encoding: 'utf8',
    });
    if (key.status !== 0) throw new Error(`apikey create exited ${key.status}: ${key.stderr}`);
    const authorization = `Bearer ${key.stdout.trim().split('\n').at(-1)}`;

    const t0 = performance.now();
    const urls: string[] = [];
    for (let i = 0; i < instances; i++) urls.push(await start(env, dir));
    const startMs = performance.now() - t0;

    // The five purposes, through one instance (the others hear of the change by notification).
    for (const id of BENCH_PURPOSES) {
      const res = await fetch(`${urls[0]}/v1/purposes`, {
        method: 'POST',
        headers: { authorization, 'content-type': 'application/json' },
        body: JSON.stringify({
          id,
          title: { fr: id, en: id },
          text: { fr: `Texte de la finalité ${id}.`, en: `Text of purpose ${id}.` },
          legalBasis: 'dpv:Consent',
          channels: ['email', 'web'],
          validityDays: id === 'analytics' ? 395 : null,
          gpcApplies: id === 'targeted-ads' || id === 'partner-offers',
        }),
      });
      if (res.status !== 201) throw new Error(`POST /v1/purposes ${id}: ${res.status} ${await res.text()}`);
    }

    const samples: string[] = [];
    const opts = (url: string, connections: number): autocannon.Options => ({
      url,
      connections,
      method: 'POST',
      headers: { authorization, 'content-type': 'application/json' },
      requests: [
        {
          method: 'POST',
          path: '/v1/consents',
          // A new random event for every request.
          setupRequest: (req) => ({ ...req, body: event() }),
          onResponse: (status, body) => {
            if ((status < 200 || status >= 300) && samples.length < 5) samples.push(`${status} ${body.slice(0, 300)}`);
          },
        },
      ],
    });
    const split = urls.map((_, i) => Math.floor(CONNECTIONS / instances) + (i < CONNECTIONS % instances ? 1 : 0));
    const drive = (duration: number) => Promise.all(urls.map((u, i) => load({ ...opts(u, split[i]!), duration })));

    const warm = await drive(WARMUP_S);
    const watch = new pg.Client({ connectionString: urlOf(name) });
    await watch.connect();
    const ours = Number((await watch.query('select pg_backend_pid() as pid')).rows[0].pid);
    const count = async () => Number((await watch.query('select count(*) as n from consent_events')).rows[0].n);
    const stored0 = await count();
    const cpu0 = machineCpu();
    const services0 = servicesCpu(children);
    const backends0 = await backendsCpu(admin, name, ours);
    const generator0 = processCpu(process.pid);
    const measured = await drive(SECONDS);
    const cpu = machineCpu() - cpu0;
    const services = servicesCpu(children) - services0;
    const generator = processCpu(process.pid) - generator0;
    let backends = 0;
    for (const [pid, s] of await backendsCpu(admin, name, ours)) backends += s - (backends0.get(pid) ?? 0);
    // Writes still in flight when autocannon stops (its sockets are gone, the servers still
    // commit them) settle before the count and before the servers are told to stop.
    await new Promise((r) => setTimeout(r, 1000));

    const all: LoadResult[] = [...warm, ...measured];
    const non2xx = all.reduce((s, r) => s + r.non2xx, 0);
    const errors = all.reduce((s, r) => s + r.errors, 0);
    const eventsPerS = measured.reduce((s, r) => s + r.rps - r.non2xx / SECONDS, 0);
    const stored = await count();
    await watch.end();
    const perEvent = (seconds: number) => (seconds * 1e6) / Math.max(1, stored - stored0);
    return {
      eventsPerS,
      p99: Math.max(...measured.map((r) => r.p99)),
      p50: Math.max(...measured.map((r) => r.p50)),
      non2xx,
      errors,
      samples,
      stored,
      cpuBusy: cpu / SECONDS / cpus().length,
      cpuPerEvent: { services: perEvent(services), backends: perEvent(backends), generator: perEvent(generator) },
      startMs,
    };
  } finally {
    await stopAll();
    await admin.query(`drop database if exists ${name} with (force)`);
    rmSync(dir, { recursive: true, force: true });
    current = null;
  }
}

const cpuSplit = (r: Run) => [r.cpuPerEvent.services, r.cpuPerEvent.backends, r.cpuPerEvent.generator].map((n) => n.toFixed(0)).join(' + ');

let failed = false;
try {
  const one = await consentWrites(1);
  const three = await consentWrites(3);
  const fmt = (n: number) => `${Math.round(n).toLocaleString('en')}/s`;
  report(
    `PostgreSQL: POST /v1/consents, one random event per request, ${CONNECTIONS} connections in total, ${SECONDS} s after ${WARMUP_S} s warm-up (${cpus().length} CPUs)`,
    [
      {
        metric: `1 instance: events/s (non-2xx ${one.non2xx}, errors ${one.errors})`,
        value: fmt(one.eventsPerS),
        baseline: '—',
        target: '— (the baseline)',
        ok: one.non2xx === 0 && one.errors === 0,
      },
      {
        metric: `3 instances: events/s in total (non-2xx ${three.non2xx}, errors ${three.errors})`,
        value: fmt(three.eventsPerS),
        baseline: `${fmt(one.eventsPerS)} on 1`,
        target: `≥ ${TARGET.toLocaleString('en')}/s`,
        ok: three.eventsPerS >= TARGET && three.non2xx === 0 && three.errors === 0,
      },
      { metric: 'p99 latency (3: worst instance)', value: `${three.p99} ms`, baseline: `${one.p99} ms on 1`, target: '—', ok: true },
      { metric: 'p50 latency (3: worst instance)', value: `${three.p50} ms`, baseline: `${one.p50} ms on 1`, target: '—', ok: true },
      {
        metric: 'events stored (warm-up + run), 3 instances',
        value: three.stored.toLocaleString('en'),
        baseline: `${one.stored.toLocaleString('en')} on 1`,
        target: '—',
        ok: true,
      },
      {
        metric: 'machine CPU busy during the run, 3 instances',
        value: `${(three.cpuBusy * 100).toFixed(0)} %`,
        baseline: `${(one.cpuBusy * 100).toFixed(0)} % on 1`,
        target: '—',
        ok: true,
      },
      {
        metric: 'CPU µs per event: services + PostgreSQL backends + autocannon, 3 instances',
        value: cpuSplit(three),
        baseline: `${cpuSplit(one)} on 1`,
        target: '—',
        ok: true,
      },
      { metric: 'time to start the instances', value: `${(three.startMs / 1000).toFixed(1)} s`, baseline: `${(one.startMs / 1000).toFixed(1)} s for 1`, target: '—', ok: true },
    ],
  );
  for (const [label, r] of [
    ['1 instance', one],
    ['3 instances', three],
  ] as const) {
    if (r.non2xx > 0 || r.errors > 0) {
      failed = true;
      console.error(`\nFAIL ${label}: ${r.non2xx} non-2xx answers, ${r.errors} connection errors/timeouts`);
      for (const s of r.samples) console.error(`  ${s}`);
    }
  }
} catch (err) {
  failed = true;
  console.error(`\nFAIL: ${(err as Error).stack ?? err}`);
} finally {
  await admin.end().catch(() => {});
}
process.exit(failed ? 1 : 0);
