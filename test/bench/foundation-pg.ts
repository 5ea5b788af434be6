/**
 * The PostgreSQL part of foundation.bench.ts: audit appends in batches on a fresh database, from
 * one process and from three at once (three instances on one database, each its own process and
 * pool, all serialised by the log's sequencer row), beside raw batched inserts of the same rows
 * with no Merkle work and no sequencer; then `oubli audit verify` on that log.
 */
import { fork } from 'node:child_process';
import { join } from 'node:path';
import pg from 'pg';
import type { AuditInput } from '../../src/audit/log.js';
import { AuditLog } from '../../src/audit/log.js';
import { PostgresDatabase } from '../../src/db/postgres.js';
import { PG_MIGRATIONS } from '../../src/db/open.js';

const URL_ = process.env.OUBLI_BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const ONE = Number(process.env.FOUNDATION_PG_ENTRIES ?? 200_000);
const INSTANCES = 3;
const fmt = (n: number, unit = '') => `${Math.round(n).toLocaleString('en-US')}${unit}`;

/** The entries every append bench writes (consent-like, a request id on every fourth). */
export function benchAppendInputs(start: number, n: number): AuditInput[] {
  return Array.from({ length: n }, (_, i) => ({
    type: 'consent.recorded',
    actor: { type: 'api_key' as const, id: 'key_01j9z3x8k2m4n6p8r0s2t4v6w8' },
    subjectRef: `sref_${(start + i).toString(36).padStart(22, '0')}`,
    requestId: (start + i) % 4 === 0 ? `req_01j9z3x8k2m4n6p8r0s2t4${(start + i) % 1000}` : undefined,
    data: { purpose: 'newsletter', granted: (start + i) % 2 === 0, channel: 'web', textVersion: 3 },
  }));
}

function databaseUrl(name: string): string {
  const u = new URL(URL_);
  u.pathname = `/${name}`;
  return u.toString();
}

type Run = (args: string[], env: Record<string, string>) => Promise<{ code: number | null; stdout: string; stderr: string; ms: number }>;

export async function postgresAppend(opts: { batch: number; run: Run }) {
  const admin = new pg.Client({ connectionString: URL_ });
  try {
    await admin.connect();
  } catch {
    return undefined;
  }
  const name = `oubli_bench_${Date.now().toString(36)}`;
  await admin.query(`create database ${name}`);
  const url = databaseUrl(name);
  try {
    const db = await PostgresDatabase.open({ url, migrationsFolder: PG_MIGRATIONS });
    const log = new AuditLog(db, Date.now);
    await log.open('oubli.bench.example/audit');

    // Baseline: the same entry rows, batched the same way, with no tree and no sequencer.
    const texts = benchAppendInputs(0, ONE).map((e, i) => JSON.stringify({ ...e, index: i, at: new Date().toISOString() }));
    const raw = new pg.Client({ connectionString: url });
    await raw.connect();
    await raw.query('create table raw_entries (idx bigint primary key, type text not null, request_id text, entry text not null, leaf_hash bytea not null)');
    const leaf = Buffer.alloc(32, 7);
    let t = performance.now();
    for (let b = 0; b < ONE; b += opts.batch) {
      const n = Math.min(opts.batch, ONE - b);
      const idx = Array.from({ length: n }, (_, i) => b + i);
      await raw.query('begin');
      await raw.query('insert into raw_entries select * from unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::bytea[])', [
        idx,
        idx.map(() => 'consent.recorded'),
        idx.map(() => null),
        idx.map((i) => texts[i]),
        idx.map(() => leaf),
      ]);
      await raw.query('commit');
    }
    const rawRate = ONE / ((performance.now() - t) / 1000);
    await raw.query('drop table raw_entries');
    await raw.end();

    t = performance.now();
    for (let b = 0; b < ONE; b += opts.batch) await log.appendMany(db, benchAppendInputs(b, Math.min(opts.batch, ONE - b)));
    const oneRate = ONE / ((performance.now() - t) / 1000);
    await db.close();

    // Three instances at once: each a process of its own appending ONE / 3 entries.
    const per = Math.floor(ONE / INSTANCES);
    const workers = Array.from({ length: INSTANCES }, (_, i) =>
      fork(join(import.meta.dirname, 'foundation-pg-worker.ts'), [url, String(ONE + i * per), String(per), String(opts.batch)], {
        execArgv: ['--import', 'tsx'],
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      }),
    );
    await Promise.all(workers.map((w) => new Promise((r) => w.once('message', r))));
    t = performance.now();
    for (const w of workers) w.send('go');
    await Promise.all(workers.map((w) => new Promise((r) => w.once('message', r))));
    const threeRate = (per * INSTANCES) / ((performance.now() - t) / 1000);
    const total = ONE + per * INSTANCES;

    // `oubli audit verify` on that log, through the real CLI (a head signed first by the CLI).
    const env = { OUBLI_DATABASE_URL: url };
    const signed = await opts.run(['audit', 'checkpoint'], env);
    const verify = await opts.run(['audit', 'verify'], env);
    const inner = Number(/\((\d+) ms\)/.exec(verify.stdout)?.[1] ?? NaN);
    return {
      title: `PostgreSQL (${URL_.replace(/\/\/[^@/]*@/, '//')}): audit log, batches of ${opts.batch}`,
      rows: [
        { metric: `append, 1 process (${fmt(ONE)} entries)`, value: fmt(oneRate, '/s'), baseline: fmt(rawRate, '/s'), target: '≥ 20,000/s', ok: oneRate >= 20_000 },
        { metric: `append, ${INSTANCES} processes at once (${fmt(per * INSTANCES)})`, value: fmt(threeRate, '/s'), baseline: fmt(rawRate, '/s'), target: '≥ 20,000/s', ok: threeRate >= 20_000 },
        { metric: '  baseline: raw batched insert, no tree', value: fmt(rawRate, '/s'), target: '—', ok: true },
        {
          metric: `oubli audit verify, ${fmt(total)} entries (wall)`,
          value: `${(verify.ms / 1000).toFixed(2)} s`,
          target: '—',
          ok: signed.code === 0 && verify.code === 0,
        },
        { metric: '  verification itself (as printed)', value: `${(inner / 1000).toFixed(2)} s`, target: '—', ok: verify.code === 0 },
      ],
    };
  } finally {
    await admin.query(`drop database if exists ${name} with (force)`);
    await admin.end();
  }
}
