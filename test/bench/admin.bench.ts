/**
 * The DPO dashboard's pages: server render time and page weight with 100,000 requests in the
 * store (a year of them: most closed, 10,000 open) and one request with 1,000 tasks.
 * Targets: the queue's first page ≤ 100 ms, the request page ≤ 50 ms, every page ≤ 150 KB.
 *
 * The store is filled in bulk (drizzle inserts over the dialect's tables, a few transactions);
 * the DPO logs in through the dashboard's form. Each page is fetched through `app.request()`
 * with the session cookie: WARMUP requests, then SAMPLES timed ones (request → body read).
 * Baseline: the bare hono/jsx page of ./portal-baseline.tsx with 50 items (a queue page's
 * rows), through the same `app.request()` path.
 *
 * BENCH_STORE=postgres runs it on PostgreSQL (a fresh database at OUBLI_BENCH_DATABASE_URL,
 * default postgres://postgres@127.0.0.1:5432/postgres). Exits 0 when a figure misses its target
 * (printed MISS), non-zero on an error (a non-200 answer, a failed login).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { createApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { buildDeps } from '../../src/runtime.js';
import { createUser } from '../../src/auth/users.js';
import { OPEN } from '../../src/requests/service.js';
import { CHANNELS, REQUEST_TYPES, type RequestStatus } from '../../src/db/schema/requests.js';
import { baselineApp } from './portal-baseline.js';
import { benchDatabase, median, percentile, report } from './util.js';

const REQUESTS = 100_000;
const OPEN_SHARE = 0.1;
const TASKS = 1_000;
const WARMUP = 20;
const SAMPLES = 100;
const DAY = 86_400_000;
const ORIGIN = 'http://localhost';
const PASSWORD = 'correct horse battery staple';

const run = mkdtempSync(join(tmpdir(), 'oubli-bench-admin-'));
const store = await benchDatabase('admin');
const databaseUrl = store.url;
const dropDatabase = store.drop;

const config = loadConfig({ OUBLI_DATA_DIR: run, ...(databaseUrl ? { OUBLI_DATABASE_URL: databaseUrl } : {}) });
const deps = await buildDeps(config, { logger: pino({ level: 'silent' }) });
const app = createApp(deps);
const ctx = { ...deps, actor: { type: 'system' as const, id: 'bench' } };

try {
  // --- a year of requests ---------------------------------------------------------------------
  const now = deps.now();
  const t0 = performance.now();
  const { requests: r, tasks: tk } = deps.db.tables;
  const closed: RequestStatus[] = ['completed', 'completed', 'completed', 'denied', 'cancelled', 'expired'];
  let heavy = '';
  for (let start = 0; start < REQUESTS; start += 5_000) {
    await deps.db.tx(async (t) => {
      const rows = [];
      for (let i = start; i < Math.min(REQUESTS, start + 5_000); i++) {
        const receivedAt = now - Math.floor(((REQUESTS - i) / REQUESTS) * 365 * DAY);
        const open = i >= REQUESTS * (1 - OPEN_SHARE);
        const status = open ? OPEN[i % OPEN.length]! : closed[i % closed.length]!;
        const id = deps.ids('req');
        if (i === REQUESTS - 1) heavy = id;
        rows.push({
          id,
          type: REQUEST_TYPES[i % 3]!,
          status,
          channel: CHANNELS[i % CHANNELS.length]!,
          locale: i % 4 === 0 ? ('en' as const) : ('fr' as const),
          verified: true,
          subjectId: null,
          receivedAt,
          dueAt: receivedAt + 30 * DAY,
          createdBy: 'api_key:bench',
          updatedAt: receivedAt,
          completedAt: open ? null : receivedAt + (i % 40) * DAY,
        });
      }
      for (let k = 0; k < rows.length; k += 500) await t.q.insert(r).values(rows.slice(k, k + 500));
    });
  }
  // One request with TASKS tasks over 50 silos and three phases.
  await deps.db.tx(async (t) => {
    const rows = Array.from({ length: TASKS }, (_, i) => ({
      id: deps.ids('tsk'),
      requestId: heavy,
      connectorId: `silo${i % 50}`,
      phase: (['access', 'erase', 'verify'] as const)[i % 3]!,
      round: 1 + Math.floor(i / 150),
      status: i % 17 === 0 ? ('failed' as const) : ('done' as const),
      attempts: 1 + (i % 3),
      nextAttemptAt: now,
      lastErrorCode: i % 17 === 0 ? 'SILO_ERROR' : null,
      lastError: i % 17 === 0 ? 'the silo answered 503' : null,
      identityWatermark: 0,
      createdAt: now,
      updatedAt: now,
    }));
    for (let k = 0; k < rows.length; k += 200) await t.q.insert(tk).values(rows.slice(k, k + 200) as never);
  });
  console.log(`fixture: ${REQUESTS} requests (${REQUESTS * OPEN_SHARE} open), ${TASKS} tasks on one, in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

  // --- the DPO logs in ------------------------------------------------------------------------
  await createUser(ctx, { email: 'dpo@bench.example', role: 'dpo', password: PASSWORD });
  const loginPage = await app.request('/admin/login');
  const browserCookie = loginPage.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');
  const csrf = /name="csrf" value="([^"]+)"/.exec(await loginPage.text())![1]!;
  const login = await app.request('/admin/login', {
    method: 'POST',
    headers: { origin: ORIGIN, cookie: browserCookie, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ csrf, email: 'dpo@bench.example', password: PASSWORD, next: '/admin' }).toString(),
  });
  if (login.status !== 303) throw new Error(`login: ${login.status}`);
  const cookie = login.headers
    .getSetCookie()
    .map((c) => c.split(';')[0])
    .filter((c) => c?.startsWith('oubli_session='))
    .join('; ');

  async function measure(fetch: () => Response | Promise<Response>): Promise<{ median: number; p95: number; bytes: number }> {
    let bytes = 0;
    for (let i = 0; i < WARMUP; i++) await (await fetch()).arrayBuffer();
    const times: number[] = [];
    for (let i = 0; i < SAMPLES; i++) {
      const s = performance.now();
      const res = await fetch();
      const body = await res.arrayBuffer();
      times.push(performance.now() - s);
      if (res.status !== 200) throw new Error(`answer ${res.status}`);
      bytes = body.byteLength;
    }
    return { median: median(times), p95: percentile(times, 95), bytes };
  }

  const base = baselineApp();
  const baseline = await measure(() => base.request('/?n=50'));
  const pages: [string, string, number][] = [
    ['queue, first page (open, soonest due)', '/admin', 100],
    ['queue, overdue', '/admin?view=overdue', 100],
    ['queue, closed erasures by API', '/admin?view=closed&type=erasure&channel=api', 100],
    [`request page, ${TASKS} tasks`, `/admin/requests/${heavy}`, 50],
  ];
  const rows = [];
  for (const [name, path, target] of pages) {
    const m = await measure(() => app.request(path, { headers: { cookie } }));
    rows.push({ metric: `${name}: median (p95 ${m.p95.toFixed(1)} ms)`, value: `${m.median.toFixed(1)} ms`, baseline: `${baseline.median.toFixed(2)} ms`, target: `≤ ${target} ms`, ok: m.median <= target });
    rows.push({ metric: `${name}: weight`, value: `${(m.bytes / 1024).toFixed(1)} KB`, baseline: `${(baseline.bytes / 1024).toFixed(1)} KB`, target: '≤ 150 KB', ok: m.bytes <= 150 * 1024 });
  }
  report(`DPO dashboard (${deps.db.dialect}, ${REQUESTS} requests)`, rows);
} finally {
  await deps.db.close();
  await dropDatabase();
  rmSync(run, { recursive: true, force: true });
}
