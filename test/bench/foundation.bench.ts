/**
 * Foundation numbers (issue 2), each beside a baseline measured in the same run:
 *  - audit append throughput in batches        vs raw SHA-256 and raw better-sqlite3 batched inserts
 *  - inclusion / consistency proofs at 1M       (median, from the SQLite store)
 *  - `oubli audit verify` on 1M entries         (the real CLI, spawned on the data dir)
 *  - GET /healthz throughput                    vs a bare Hono hello-world (autocannon, 50 conns)
 *  - cold start of `oubli serve` to /readyz 200 (fresh and existing data dir)
 *  - PostgreSQL (issue 8): audit append in batches, one process and three at once, vs raw
 *    batched inserts of the same rows; `oubli audit verify` on that log. Skipped when no server
 *    answers at OUBLI_BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres).
 * Compare with an older commit in the same run: `npx tsx test/bench/compare.ts foundation`.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import Database from '../../connectors/sql/sqlite-binding.js';
import { loadConfig } from '../../src/config.js';
import { buildDeps } from '../../src/runtime.js';
import { fork } from 'node:child_process';
import type { AuditInput } from '../../src/audit/log.js';
import type { SqliteDatabase } from '../../src/db/sqlite.js';
import { load, median, percentile, report } from './util.js';
import { benchAppendInputs, postgresAppend } from './foundation-pg.js';

const ROOT = resolve(import.meta.dirname, '../..');
const BIN = join(ROOT, 'bin/oubli.js');
const TOTAL = Number(process.env.FOUNDATION_ENTRIES ?? 1_000_000);
const BATCH = 1000;
const dirs: string[] = [];
const temp = (label: string) => {
  const d = mkdtempSync(join(tmpdir(), `oubli-bench-${label}-`));
  dirs.push(d);
  return d;
};
const fmt = (n: number, unit = '') => `${Math.round(n).toLocaleString('en-US')}${unit}`;
const ms = (n: number) => `${n.toFixed(3)} ms`;

const inputs: (start: number, n: number) => AuditInput[] = benchAppendInputs;

function env(dataDir: string, extra: Record<string, string> = {}) {
  const e: NodeJS.ProcessEnv = { ...process.env, OUBLI_DATA_DIR: dataDir, OUBLI_LOG_LEVEL: 'silent' };
  delete e.OUBLI_CONFIG;
  delete e.OUBLI_DATABASE_URL; // the SQLite figures are the embedded store's
  return { ...e, ...extra };
}

function run(args: string[], dataDir: string, extra: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string; ms: number }> {
  const t0 = performance.now();
  return new Promise((res) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env: env(dataDir, extra), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => res({ code, stdout, stderr, ms: performance.now() - t0 }));
  });
}

/** Spawns `oubli serve` and returns ms from spawn to the first 200 on /readyz. */
function coldStart(dataDir: string, cwd: string): Promise<number> {
  const t0 = performance.now();
  return new Promise((res, rej) => {
    const child = spawn(process.execPath, [BIN, 'serve'], { cwd, env: env(dataDir, { PORT: '0' }), stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      rej(new Error('serve did not start in 20 s'));
    }, 20_000);
    child.stdout.on('data', async (d) => {
      out += d;
      const m = /listening on (\S+)/.exec(out);
      if (!m || out.includes('\u0000seen')) return;
      out += '\u0000seen';
      for (;;) {
        try {
          if ((await fetch(`${m[1]}/readyz`)).status === 200) break;
        } catch {
          /* not yet */
        }
        await new Promise((r) => setTimeout(r, 2));
      }
      const elapsed = performance.now() - t0;
      clearTimeout(timer);
      child.once('exit', () => res(elapsed));
      child.kill('SIGTERM');
    });
  });
}

async function childServer(kind: 'bare' | 'app') {
  const child = fork(join(import.meta.dirname, 'foundation-server.ts'), [kind], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const url = await new Promise<string>((res) => child.once('message', (m: { url: string }) => res(m.url)));
  return {
    url,
    cpu: () =>
      new Promise<number>((res) => {
        child.once('message', (m: { cpuMicros: number }) => res(m.cpuMicros));
        child.send('cpu');
      }),
    stop: () =>
      new Promise<void>((res) => {
        child.once('exit', () => res());
        child.send('stop');
      }),
  };
}

async function main() {
  // ---------------------------------------------------------------- 1. append throughput
  const N_APPEND = 200_000;
  const sample = inputs(0, N_APPEND);
  const texts = sample.map((e, i) => JSON.stringify({ ...e, index: i, at: new Date().toISOString() }));

  let t = performance.now();
  for (const s of texts) createHash('sha256').update(new Uint8Array([0])).update(s).digest();
  const shaRate = N_APPEND / ((performance.now() - t) / 1000);

  const rawDir = temp('raw');
  const raw = new Database(join(rawDir, 'raw.db'));
  raw.pragma('journal_mode = WAL');
  raw.pragma('synchronous = NORMAL');
  raw.exec('create table t (idx integer primary key, type text not null, request_id text, entry text not null, leaf_hash blob not null)');
  const ins = raw.prepare('insert into t values (?, ?, ?, ?, ?)');
  const leaf = Buffer.alloc(32, 7);
  t = performance.now();
  for (let b = 0; b < N_APPEND; b += BATCH) {
    raw.transaction(() => {
      for (let i = b; i < b + BATCH; i++) ins.run(i, 'consent.recorded', null, texts[i]!, leaf);
    })();
  }
  const rawRate = N_APPEND / ((performance.now() - t) / 1000);
  raw.close();

  const dataDir = temp('log');
  const deps = await buildDeps(loadConfig({ OUBLI_DATA_DIR: dataDir, OUBLI_LOG_LEVEL: 'silent' }));
  t = performance.now();
  for (let b = 0; b < N_APPEND; b += BATCH) await deps.audit.appendMany(deps.db, sample.slice(b, b + BATCH));
  const appendRate = N_APPEND / ((performance.now() - t) / 1000);

  // ---------------------------------------------------------------- 2. a 1M-entry log
  t = performance.now();
  await deps.treeHeads.sign();
  for (let b = N_APPEND; b < TOTAL; b += 10_000) {
    for (let c = b; c < b + 10_000 && c < TOTAL; c += BATCH) await deps.audit.appendMany(deps.db, inputs(c, Math.min(BATCH, TOTAL - c)));
    if ((b + 10_000) % 100_000 === 0) await deps.treeHeads.sign();
  }
  await deps.treeHeads.sign();
  const buildS = (performance.now() - t) / 1000;
  const size = await deps.audit.size();

  const rand = (n: number) => Math.floor(Math.random() * n);
  for (let i = 0; i < 200; i++) await deps.audit.inclusionProof(rand(size), size); // warm-up
  const inc: number[] = [];
  for (let i = 0; i < 2000; i++) {
    const idx = rand(size);
    const t0 = performance.now();
    await deps.audit.inclusionProof(idx, size);
    inc.push(performance.now() - t0);
  }
  const con: number[] = [];
  for (let i = 0; i < 2000; i++) {
    const m = 1 + rand(size - 1);
    const t0 = performance.now();
    await deps.audit.consistencyProof(m, size);
    con.push(performance.now() - t0);
  }
  // baseline: one raw point read of a stored node
  const pt = (deps.db as SqliteDatabase).reader.prepare('select hash from audit_nodes where level = ? and idx = ?').pluck();
  const point: number[] = [];
  for (let i = 0; i < 2000; i++) {
    const t0 = performance.now();
    pt.get(3, rand(size >> 3));
    point.push(performance.now() - t0);
  }
  await deps.db.close();

  // ---------------------------------------------------------------- 3. oubli audit verify on 1M
  const verify = await run(['audit', 'verify'], dataDir);
  const verifyInner = Number(/\((\d+) ms\)/.exec(verify.stdout)?.[1] ?? NaN);
  const help = await run(['help'], dataDir);

  // ---------------------------------------------------------------- 4. /healthz vs bare Hono
  // Each server in its own process, autocannon here: alternating short rounds, and each server's
  // CPU time per request (robust to other work on the machine) beside its throughput.
  const bareSrv = await childServer('bare');
  const appSrv = await childServer('app');
  await load({ url: `${bareSrv.url}/healthz`, duration: 1 });
  await load({ url: `${appSrv.url}/healthz`, duration: 1 });
  const bareRuns: number[] = [];
  const appRuns: number[] = [];
  const bareCpu: number[] = [];
  const appCpu: number[] = [];
  let appErrors = 0;
  for (let r = 0; r < 6; r++) {
    for (const [srv, runs, cpu] of [[bareSrv, bareRuns, bareCpu], [appSrv, appRuns, appCpu]] as const) {
      const c0 = await srv.cpu();
      const res = await load({ url: `${srv.url}/healthz`, duration: 2 });
      const c1 = await srv.cpu();
      runs.push(res.rps);
      cpu.push((c1 - c0) / (res.rps * 2));
      if (srv === appSrv) appErrors += res.errors + res.non2xx;
    }
  }
  await bareSrv.stop();
  await appSrv.stop();
  const bareRps = median(bareRuns);
  const appRps = median(appRuns);
  const cpuRatio = median(bareCpu) / median(appCpu);

  // ---------------------------------------------------------------- 5. cold start
  const cwd = temp('cwd');
  await coldStart(temp('warm'), cwd); // first run after a source change builds the start-up bundle
  const fresh: number[] = [];
  const existing: number[] = [];
  const existingDir = temp('existing');
  await coldStart(existingDir, cwd);
  for (let i = 0; i < 3; i++) {
    fresh.push(await coldStart(temp('fresh'), cwd));
    existing.push(await coldStart(existingDir, cwd));
  }
  const bareNode = await new Promise<number>((res) => {
    const t0 = performance.now();
    spawn(process.execPath, ['-e', '0']).on('close', () => res(performance.now() - t0));
  });

  // ---------------------------------------------------------------- 6. PostgreSQL
  const pgDir = temp('pg');
  const pg = await postgresAppend({ batch: BATCH, run: (args, extra) => run(args, pgDir, extra) });

  report('audit log (append)', [
    { metric: `append, batches of ${BATCH} (${fmt(N_APPEND)} entries)`, value: fmt(appendRate, '/s'), baseline: fmt(rawRate, '/s'), target: '≥ 50,000/s', ok: appendRate >= 50_000 },
    { metric: '  baseline: raw SHA-256 of the same entries', value: fmt(shaRate, '/s'), target: '—', ok: true },
    { metric: '  baseline: raw better-sqlite3 batched insert', value: fmt(rawRate, '/s'), target: '—', ok: true },
  ]);
  report(`proofs at ${fmt(size)} entries (log built in ${buildS.toFixed(1)} s)`, [
    { metric: 'inclusion proof, median', value: ms(median(inc)), baseline: ms(median(point)), target: '≤ 2 ms', ok: median(inc) <= 2 },
    { metric: '  inclusion proof, p99', value: ms(percentile(inc, 99)), target: '—', ok: true },
    { metric: 'consistency proof, median', value: ms(median(con)), baseline: ms(median(point)), target: '≤ 2 ms', ok: median(con) <= 2 },
    { metric: '  consistency proof, p99', value: ms(percentile(con, 99)), target: '—', ok: true },
    { metric: '  baseline: one raw node point read', value: ms(median(point)), target: '—', ok: true },
  ]);
  report(`oubli audit verify (spawned CLI) on ${fmt(size)} entries`, [
    {
      metric: 'wall time incl. process start',
      value: `${(verify.ms / 1000).toFixed(2)} s`,
      baseline: `${(help.ms / 1000).toFixed(2)} s`,
      target: '≤ 10 s',
      ok: verify.code === 0 && verify.ms <= 10_000,
    },
    { metric: '  verification itself (as printed)', value: `${(verifyInner / 1000).toFixed(2)} s`, target: '—', ok: verify.code === 0 },
    { metric: '  baseline: `oubli help` (process start)', value: `${(help.ms / 1000).toFixed(2)} s`, target: '—', ok: true },
  ]);
  if (verify.code !== 0) console.log(verify.stderr);
  report('GET /healthz (autocannon, 50 connections, 6 alternating rounds × 2 s, 127.0.0.1)', [
    { metric: 'oubli /healthz, median throughput', value: fmt(appRps, ' req/s'), baseline: fmt(bareRps, ' req/s'), target: '≥ 80 % of bare Hono', ok: appRps >= 0.8 * bareRps && appErrors === 0 },
    { metric: '  ratio of medians', value: `${((100 * appRps) / bareRps).toFixed(1)} %`, target: '≥ 80 %', ok: appRps >= 0.8 * bareRps },
    { metric: '  server CPU per request (app | bare)', value: `${median(appCpu).toFixed(1)} µs`, baseline: `${median(bareCpu).toFixed(1)} µs`, target: '—', ok: true },
    { metric: '  CPU-bound ratio (bare CPU/req ÷ app CPU/req)', value: `${(100 * cpuRatio).toFixed(1)} %`, target: '≥ 80 %', ok: cpuRatio >= 0.8 },
    { metric: '  rounds app/bare req/s', value: appRuns.map((x, i) => `${Math.round(x / 1000)}k/${Math.round(bareRuns[i]! / 1000)}k`).join(' '), target: '—', ok: true },
  ]);
  report('cold start: spawn `node bin/oubli.js serve` → first 200 on /readyz', [
    { metric: 'fresh data dir, median of 3', value: `${median(fresh).toFixed(0)} ms`, baseline: `${bareNode.toFixed(0)} ms`, target: '≤ 1500 ms', ok: median(fresh) <= 1500 },
    { metric: 'existing data dir, median of 3', value: `${median(existing).toFixed(0)} ms`, baseline: `${bareNode.toFixed(0)} ms`, target: '≤ 1500 ms', ok: median(existing) <= 1500 },
    { metric: '  all runs (fresh | existing)', value: `${fresh.map((x) => x.toFixed(0)).join('/')} | ${existing.map((x) => x.toFixed(0)).join('/')}`, target: '—', ok: true },
    { metric: '  baseline: bare `node -e 0`', value: `${bareNode.toFixed(0)} ms`, target: '—', ok: true },
  ]);
  if (pg) report(pg.title, pg.rows);
  else console.log('\nPostgreSQL: no server at OUBLI_BENCH_DATABASE_URL — skipped');
}

try {
  await main();
} finally {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
}
