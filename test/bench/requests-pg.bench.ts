/**
 * The request engine on PostgreSQL (issue 8): 1,000 erasure requests submitted at once over the
 * five demo silos (100,000 customers, SQLite files every instance opens), spread over three
 * `oubli serve` processes on one PostgreSQL database and one shared data dir; same-run baseline:
 * the same load on one instance. Throughput = requests / (first submit → last completed).
 * Needs PostgreSQL at OUBLI_BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { demoCustomer, ensureDemoSilos } from '../../connectors/demo/index.js';
import { backendsCpu, machineCpu, report, servicesCpu } from './util.js';

const ROOT = resolve(import.meta.dirname, '../..');
const SERVER = process.env.OUBLI_BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const CUSTOMERS = 100_000;
const REQUESTS = 1000;
const CACHE = join(tmpdir(), `oubli-bench-demo-${CUSTOMERS}`);

const urlOf = (db: string) => {
  const u = new URL(SERVER);
  u.pathname = `/${db}`;
  return u.toString();
};

const admin = new pg.Client({ connectionString: SERVER, connectionTimeoutMillis: 3000 });
try {
  await admin.connect();
} catch (err) {
  console.log(`PostgreSQL at ${SERVER} unreachable (${(err as Error).message}): bench skipped`);
  process.exit(0);
}

ensureDemoSilos(CACHE, { customers: CUSTOMERS });
const children: ChildProcess[] = [];
process.on('exit', () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
});

function start(env: NodeJS.ProcessEnv): Promise<string> {
  const child = spawn(process.execPath, [join(ROOT, 'bin/oubli.js'), 'serve'], { env, cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  return new Promise((ok, fail) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m) ok(m[1]!);
    });
    child.once('exit', (c) => fail(new Error(`service exited ${c}`)));
  });
}

/** One run: a fresh database and silo copies, `instances` services, REQUESTS erasures at once. */
async function erasures(instances: number, offset: number) {
  const name = `oubli_bench_${Date.now().toString(36)}${randomBytes(2).toString('hex')}`;
  await admin.query(`create database ${name}`);
  const dir = mkdtempSync(join(tmpdir(), 'oubli-bench-pg-'));
  cpSync(join(CACHE, 'demo'), join(dir, 'demo'), { recursive: true });
  const config = join(dir, 'oubli.config.mts');
  writeFileSync(config, `import { demoConnectors } from ${JSON.stringify(join(ROOT, 'connectors/demo/index.ts'))};\nexport default { connectors: demoConnectors(${JSON.stringify(dir)}) };\n`);
  const env = { ...process.env, OUBLI_DATA_DIR: join(dir, 'data'), OUBLI_CONFIG: config, OUBLI_DATABASE_URL: urlOf(name), OUBLI_LOG_LEVEL: 'warn', PORT: '0' };
  const key = spawnSync(process.execPath, [join(ROOT, 'bin/oubli.js'), 'apikey', 'create', '--name', 'bench', '--scopes', 'requests:read,requests:write,requests:verify'], { env, encoding: 'utf8' });
  if (key.status !== 0) throw new Error(`apikey create: ${key.stderr}`);
  const headers = { authorization: `Bearer ${key.stdout.trim().split('\n').at(-1)}`, 'content-type': 'application/json' };
  const urls: string[] = [];
  for (let i = 0; i < instances; i++) urls.push(await start(env));
  const db = new pg.Client({ connectionString: urlOf(name) });
  await db.connect();
  const cpu0 = machineCpu();
  const services0 = servicesCpu(children);
  const ours = Number((await db.query('select pg_backend_pid() as pid')).rows[0].pid);
  const backends0 = await backendsCpu(admin, name, ours);
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: REQUESTS }, async (_, i) => {
      const res = await fetch(`${urls[i % instances]}/v1/requests`, {
        method: 'POST',
        headers,
        body: JSON.stringify({ type: 'erasure', identities: [{ type: 'email', value: demoCustomer(offset + i * 97).email }], verified: true }),
      });
      if (res.status !== 201) throw new Error(`submit: ${res.status} ${await res.text()}`);
    }),
  );
  const tSubmitted = performance.now();
  const count = async (statuses: string) => Number((await db.query(`select count(*) as n from requests where status in (${statuses})`)).rows[0].n);
  while ((await count("'completed', 'needs_attention', 'failed'")) < REQUESTS) await new Promise((r) => setTimeout(r, 50));
  const t1 = performance.now();
  const cpu = machineCpu() - cpu0;
  const services = servicesCpu(children) - services0;
  let backends = 0;
  for (const [pid, s] of await backendsCpu(admin, name, ours)) backends += s - (backends0.get(pid) ?? 0);
  const completed = await count("'completed'");
  const tasks = Number((await db.query('select count(*) as n from tasks').then((r) => r.rows[0].n)));
  await db.end();
  for (const c of children.splice(0)) {
    c.kill('SIGTERM');
    await new Promise((r) => c.once('exit', r));
  }
  await admin.query(`drop database ${name} with (force)`);
  rmSync(dir, { recursive: true, force: true });
  return { rps: REQUESTS / ((t1 - t0) / 1000), seconds: (t1 - t0) / 1000, submitMs: tSubmitted - t0, completed, tasks, cpuMsPerRequest: (cpu * 1000) / REQUESTS, servicesMsPerRequest: (services * 1000) / REQUESTS, pgMsPerRequest: (backends * 1000) / REQUESTS };
}

const one = await erasures(1, 2);
const three = await erasures(3, 3);
report(`PostgreSQL: ${REQUESTS} erasure requests submitted at once, 5 demo silos (${CUSTOMERS.toLocaleString('en')} customers)`, [
  { metric: '1 instance: all complete', value: `${one.completed}/${REQUESTS}`, baseline: `${one.tasks} tasks`, target: 'all', ok: one.completed === REQUESTS },
  { metric: '1 instance: throughput (first submit → last completed)', value: `${one.rps.toFixed(0)} req/s`, baseline: `${one.seconds.toFixed(1)} s total`, target: '—', ok: true },
  { metric: '3 instances: all complete', value: `${three.completed}/${REQUESTS}`, baseline: `${three.tasks} tasks`, target: 'all', ok: three.completed === REQUESTS },
  { metric: '3 instances: throughput (first submit → last completed)', value: `${three.rps.toFixed(0)} req/s`, baseline: `${one.rps.toFixed(0)} req/s on 1`, target: '≥ 100 req/s', ok: three.rps >= 100 },
  { metric: 'machine CPU per request (services + PostgreSQL), 3 instances', value: `${three.cpuMsPerRequest.toFixed(1)} ms`, baseline: `${one.cpuMsPerRequest.toFixed(1)} ms on 1`, target: '—', ok: true },
  { metric: 'of which the services (their own processes), 3 instances', value: `${three.servicesMsPerRequest.toFixed(1)} ms`, baseline: `${one.servicesMsPerRequest.toFixed(1)} ms on 1`, target: '—', ok: true },
  { metric: 'of which PostgreSQL backends still connected at the end, 3 instances', value: `${three.pgMsPerRequest.toFixed(1)} ms`, baseline: `${one.pgMsPerRequest.toFixed(1)} ms on 1`, target: '—', ok: true },
  { metric: '3 instances: time to accept the submissions', value: `${three.submitMs.toFixed(0)} ms`, baseline: `${one.submitMs.toFixed(0)} ms on 1`, target: '—', ok: true },
]);
await admin.end();
