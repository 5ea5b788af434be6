/** Shared helpers for benchmarks: timing, percentiles, HTTP load with autocannon, table output. */
import autocannon from 'autocannon';
import { serve } from '@hono/node-server';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { readFileSync } from 'node:fs';

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

export function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}

export async function timeIt<T>(fn: () => T | Promise<T>): Promise<{ ms: number; value: T }> {
  const t = performance.now();
  const value = await fn();
  return { ms: performance.now() - t, value };
}

/** Serves a fetch handler on 127.0.0.1 with an ephemeral port. */
export async function listen(fetch: (req: Request) => Response | Promise<Response>) {
  const server = serve({ fetch, port: 0, hostname: '127.0.0.1' });
  await new Promise<void>((r) => server.once('listening', () => r()));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, close: () => new Promise<void>((r) => server.close(() => r())) };
}

export interface LoadResult {
  rps: number;
  p50: number;
  p99: number;
  errors: number;
  non2xx: number;
}

/** Bounded load: `connections` concurrent clients for `seconds`, loopback only. */
export async function load(opts: autocannon.Options): Promise<LoadResult> {
  const r = await autocannon({ connections: 50, duration: 5, ...opts });
  return {
    rps: r.requests.average,
    p50: r.latency.p50,
    p99: r.latency.p99,
    errors: r.errors + r.timeouts,
    non2xx: r.non2xx,
  };
}

/** Prints `label  value  target  verdict` rows. */
export function report(title: string, rows: { metric: string; value: string; baseline?: string; target: string; ok: boolean }[]) {
  console.log(`\n${title}`);
  for (const r of rows) {
    console.log(
      `  ${r.ok ? 'PASS' : 'MISS'}  ${r.metric.padEnd(48)} ${r.value.padStart(14)}   baseline ${String(r.baseline ?? '—').padStart(14)}   target ${r.target}`,
    );
  }
}

/**
 * The store a bench runs on: SQLite in its data dir (undefined), or with BENCH_STORE=postgres a
 * fresh PostgreSQL database at OUBLI_BENCH_DATABASE_URL's server, dropped by `drop()`.
 */
export async function benchDatabase(prefix: string): Promise<{ url: string | undefined; drop(): Promise<void> }> {
  if (process.env.BENCH_STORE !== 'postgres') return { url: undefined, drop: async () => {} };
  const server = process.env.OUBLI_BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  const admin = new pg.Client({ connectionString: server, connectionTimeoutMillis: 3000 });
  await admin.connect();
  const name = `oubli_bench_${prefix}_${Date.now().toString(36)}${randomBytes(2).toString('hex')}`;
  await admin.query(`create database ${name}`);
  const u = new URL(server);
  u.pathname = `/${name}`;
  return {
    url: u.toString(),
    drop: async () => {
      await admin.query(`drop database if exists ${name} with (force)`);
      await admin.end();
    },
  };
}

/** CPU-seconds these processes have used so far (utime + stime of each; Linux /proc). */
export function servicesCpu(procs: { pid?: number }[]): number {
  return procs.reduce((n, c) => n + (c.pid === undefined ? 0 : processCpu(c.pid)), 0);
}

/**
 * CPU-seconds of each PostgreSQL backend connected to database `db` now but `except` (the
 * services' pools: a backend closed before the end of a run is missed, so their sum is a lower
 * bound).
 */
export async function backendsCpu(admin: pg.Client, db: string, except: number): Promise<Map<number, number>> {
  const { rows } = await admin.query<{ pid: number }>('select pid from pg_stat_activity where datname = $1 and pid <> $2', [db, except]);
  return new Map(rows.map((r) => [r.pid, processCpu(r.pid)]));
}

export function processCpu(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / 100;
  } catch {
    return 0; // gone (or not on Linux)
  }
}

/** Busy CPU-seconds of the whole machine (every process). */
export function machineCpu(): number {
  const [, ...f] = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/);
  const v = f.map(Number);
  return (v[0]! + v[1]! + v[2]! + v[5]! + v[6]! + v[7]!) / 100;
}
