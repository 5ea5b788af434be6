/** Shared helpers for benchmarks: timing, percentiles, HTTP load with autocannon, table output. */
import autocannon from 'autocannon';
import { serve } from '@hono/node-server';
import type { AddressInfo } from 'node:net';

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
