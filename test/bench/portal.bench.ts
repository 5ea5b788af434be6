/**
 * Privacy portal pages: server render time and page weight with 100,000 people in the registry
 * and 10,000 open requests in the store, over the five demo silos (100,000 customers).
 *
 * The store is filled in bulk (drizzle inserts over the dialect's tables, a few transactions):
 * the demo purposes through createPurpose; per person a subject, its sealed key, its email and
 * consent events + current states for four of the six purposes (the ledger's audit entries are
 * not bulk-written: no portal page reads them); 10,000 open requests of other people, spread
 * over running / awaiting_approval / pending_verification / needs_review, with their given
 * identity and, when running, an access task per silo (and an erase task once past access).
 *
 * One demo customer signs in through the portal's forms, the code read from the mailbox the
 * mailer writes; through the portal they ask for an access (run to completion by the engine,
 * before the other requests are loaded: it would run theirs too) and confirm an erasure (left
 * running, its silos at different stages). Each page is then
 * fetched through `app.request()` with the session cookie: WARMUP requests, then SAMPLES
 * timed ones (request → body read). Baseline: a bare Hono app rendering a small hono/jsx page
 * through the same `app.request()` path (./portal-baseline.tsx).
 *
 * BENCH_DUMP=<dir> writes each page's last body there (to look at what was measured).
 *
 * Exits 0 when a figure misses its target (printed as FAIL), non-zero on an error (a non-200
 * answer, a broken sign-in). BENCH_STORE=postgres runs it on PostgreSQL (a fresh database at
 * OUBLI_BENCH_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/postgres).
 */
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eq, like } from 'drizzle-orm';
import pino from 'pino';
import { demoConnectors, demoCustomer, ensureDemoSilos } from '../../connectors/demo/index.js';
import { createApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import type { Stores } from '../../src/db/handle.js';
import type { Ctx, Deps } from '../../src/deps.js';
import { DEMO_PURPOSES } from '../../src/demo/consent-seed.js';
import { createPurpose } from '../../src/consent/purposes.js';
import { Engine } from '../../src/engine/worker.js';
import { maskIdentity, normalizeIdentity } from '../../src/identity.js';
import { buildDeps } from '../../src/runtime.js';
import { sealSubjectKey } from '../../src/subjects/key-seal.js';
import type { RequestStatus, RequestType } from '../../src/db/schema/requests.js';
import type { TaskStatus } from '../../src/db/schema/tasks.js';
import { baselineApp } from './portal-baseline.js';
import { benchDatabase, median, percentile } from './util.js';

const PEOPLE = 100_000;
/** BENCH_REQUESTS overrides it (how the list page scales with the store). */
const OPEN_REQUESTS = Number(process.env.BENCH_REQUESTS ?? 10_000);
const WARMUP = 30;
const SAMPLES = 200;
const TARGET_MS = 20;
const TARGET_KB = 100;
/** The demo customer who signs in (any number up to PEOPLE). */
const ME = 4242;
const CACHE = join(tmpdir(), `oubli-bench-demo-${PEOPLE}`);
const ORIGIN = 'http://localhost';

const t0 = performance.now();
const elapsed = () => `${((performance.now() - t0) / 1000).toFixed(1)} s`;

// --- store: SQLite file in the run's data dir, or a fresh PostgreSQL database ----------------------
const run = mkdtempSync(join(tmpdir(), 'oubli-bench-portal-'));
const store = await benchDatabase('portal');
const databaseUrl = store.url;
const dropDatabase = store.drop;

const gen = ensureDemoSilos(CACHE, { customers: PEOPLE });
cpSync(join(CACHE, 'demo'), join(run, 'demo'), { recursive: true });
const dataDir = join(run, 'data');
const deps: Deps = await buildDeps(
  loadConfig({ OUBLI_DATA_DIR: dataDir, OUBLI_LOG_LEVEL: 'silent', ...(databaseUrl ? { OUBLI_DATABASE_URL: databaseUrl } : {}) }),
  { logger: pino({ level: 'silent' }) },
);
deps.connectors = demoConnectors(run);
for (const c of deps.connectors) await c.init?.();
const SILOS = deps.connectors.map((c) => c.id);
console.log(
  `store: ${deps.db.dialect}; demo silos: ${PEOPLE.toLocaleString('en')} customers ${gen.generated ? 'generated' : 'reused'} (${elapsed()})`,
);

// --- bulk fixture -----------------------------------------------------------------------------
/** Multi-row inserts of `per` rows (under both dialects' bound-parameter limits). */
async function insertMany<R>(t: Stores, table: unknown, rows: R[], per: number): Promise<void> {
  const q = t.q as unknown as { insert(t: unknown): { values(v: R[]): Promise<unknown> } };
  for (let i = 0; i < rows.length; i += per) await q.insert(table).values(rows.slice(i, i + per));
}

const system: Ctx = { ...deps, actor: { type: 'system', id: 'bench' } };
for (const p of DEMO_PURPOSES) await createPurpose(system, p);
const { subjects, subjectKeys, subjectIdentifiers, consentEvents, consentStates, requests, requestIdentities, tasks, apiRateLimits } = deps.db.tables;
const DECISIONS = ['granted', 'granted', 'refused', 'withdrawn'] as const;
const CHANNELS = ['web', 'store', 'app', 'call_center', 'import'] as const;
const now = Date.now();
let seed = 7;
const rnd = () => {
  seed = (seed * 1103515245 + 12345) & 0x7fffffff;
  return seed;
};
const CHUNK = 10_000;
for (let start = 1; start <= PEOPLE; start += CHUNK) {
  const end = Math.min(PEOPLE, start + CHUNK - 1);
  const subs: (typeof subjects.$inferInsert)[] = [];
  const keys: (typeof subjectKeys.$inferInsert)[] = [];
  const idents: (typeof subjectIdentifiers.$inferInsert)[] = [];
  const events: (typeof consentEvents.$inferInsert)[] = [];
  const states: (typeof consentStates.$inferInsert)[] = [];
  const raw = randomBytes(32 * CHUNK);
  for (let i = start; i <= end; i++) {
    const id = deps.ids('sub');
    subs.push({ id, createdAt: now });
    keys.push({ subjectId: id, key: sealSubjectKey(deps.secrets.masterKey, id, raw.subarray((i - start) * 32, (i - start + 1) * 32)) });
    idents.push({ type: 'email', value: normalizeIdentity({ type: 'email', value: demoCustomer(i).email }).value, subjectId: id, createdAt: now });
    // Four of the six purposes, a different four from person to person.
    for (let k = 0; k < DEMO_PURPOSES.length; k++) {
      if ((i + k) % 3 === 0) continue;
      const r = rnd();
      const evt = deps.ids('evt');
      const decision = DECISIONS[r % DECISIONS.length]!;
      const channel = CHANNELS[(r >> 4) % CHANNELS.length]!;
      const occurredAt = now - (r % (300 * 86_400_000));
      const purposeId = DEMO_PURPOSES[k]!.id;
      events.push({ id: evt, subjectId: id, purposeId, decision, occurredAt, recordedAt: now, channel, purposeVersion: 1, gpc: 0, auditIdx: 0 });
      states.push({ subjectId: id, purposeId, decision, occurredAt, channel, eventId: evt });
    }
  }
  await deps.db.tx(async (t) => {
    await insertMany(t, subjects, subs, 1000);
    await insertMany(t, subjectKeys, keys, 1000);
    await insertMany(t, subjectIdentifiers, idents, 1000);
    await insertMany(t, consentEvents, events, 500);
    await insertMany(t, consentStates, states, 1000);
  });
}
console.log(`registry: ${PEOPLE.toLocaleString('en')} people with their consents (${elapsed()})`);

// --- the signed-in person: sign-in through the forms, two requests through the portal ---------
const app = createApp(deps);
const jar = new Map<string, string>();
let csrf = '';
const cookie = () => [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
async function browse(path: string, form?: Record<string, string>): Promise<{ status: number; location: string | null; text: string }> {
  const res = await app.request(
    path,
    form
      ? { method: 'POST', body: new URLSearchParams({ csrf, ...form }).toString(), headers: { origin: ORIGIN, 'content-type': 'application/x-www-form-urlencoded', cookie: cookie() } }
      : { headers: { cookie: cookie() } },
  );
  for (const c of res.headers.getSetCookie()) {
    const [pair = ''] = c.split(';');
    const i = pair.indexOf('=');
    if (/max-age=0\b/i.test(c) || pair.slice(i + 1) === '') jar.delete(pair.slice(0, i));
    else jar.set(pair.slice(0, i), pair.slice(i + 1));
  }
  const text = await res.text();
  const m = /name="csrf" value="([^"]+)"/.exec(text);
  if (m) csrf = m[1]!;
  return { status: res.status, location: res.headers.get('location'), text };
}
function expect303(r: { status: number; location: string | null; text: string }, what: string): string {
  if (r.status !== 303 || !r.location) throw new Error(`${what}: ${r.status}\n${r.text.slice(0, 800)}`);
  return r.location;
}

const myEmail = demoCustomer(ME).email;
await browse('/privacy');
expect303(await browse('/privacy/sign-in', { email: myEmail }), 'sign-in');
const mailbox = join(dataDir, 'mailbox');
const [mail] = readdirSync(mailbox);
const code = /^Subject: (\d{6}) /m.exec(readFileSync(join(mailbox, mail!), 'utf8'))?.[1];
if (!code) throw new Error('no sign-in code in the mailbox');
if (expect303(await browse('/privacy/code', { code }), 'code') !== '/privacy/consents') throw new Error('code did not lead to the consent page');
await browse('/privacy/requests');
const accessAt = expect303(await browse('/privacy/requests', { type: 'access' }), 'open access');
await new Engine(deps).runUntilIdle();
const accessId = /\/requests\/(req_[0-9a-z]+)/.exec(accessAt)![1]!;
const accessStatus = (await deps.db.requests.get(accessId))?.status;
if (accessStatus !== 'completed') throw new Error(`the access request ended ${accessStatus}`);
// Other people's open requests, loaded after the engine ran the person's access (it would run theirs too).
{
  const STATUSES: RequestStatus[] = ['running', 'running', 'running', 'running', 'awaiting_approval', 'awaiting_approval', 'pending_verification', 'pending_verification', 'needs_review', 'running'];
  const TYPES: RequestType[] = ['erasure', 'erasure', 'access', 'portability'];
  const reqs: (typeof requests.$inferInsert)[] = [];
  const idents: (typeof requestIdentities.$inferInsert)[] = [];
  const tks: (typeof tasks.$inferInsert)[] = [];
  for (let n = 0; n < OPEN_REQUESTS; n++) {
    const id = deps.ids('req');
    const status = STATUSES[n % STATUSES.length]!;
    const type = TYPES[n % TYPES.length]!;
    const person = ME + 1 + ((n * 7919) % (PEOPLE - ME - 1));
    const email = normalizeIdentity({ type: 'email', value: demoCustomer(person).email }).value;
    const at = now - (n % 30) * 86_400_000;
    // Whoever opened it: a person in the portal (their email's pseudonym), an API key, the DPO.
    const createdBy = n % 5 < 2 ? `subject:${randomBytes(32).toString('base64url')}` : n % 5 < 4 ? 'api_key:key_bench' : 'user:usr_bench';
    const stage = status === 'running' ? (type === 'erasure' && n % 3 === 0 ? 'erase' : 'access') : null;
    reqs.push({
      id,
      type,
      status,
      channel: createdBy.startsWith('subject:') ? 'web' : 'api',
      locale: n % 2 ? 'fr' : 'en',
      verified: status !== 'pending_verification',
      subjectId: null,
      receivedAt: at,
      dueAt: at + 30 * 86_400_000,
      stage,
      round: stage ? 1 : 0,
      createdBy,
      updatedAt: at,
    });
    idents.push({ requestId: id, type: 'email', value: email, masked: maskIdentity({ type: 'email', value: email }), source: 'request', reason: 'given with the request', round: 0, searchable: true, why: { code: 'given' } });
    if (!stage) continue;
    SILOS.forEach((connectorId, k) => {
      const accessStatus: TaskStatus = stage === 'erase' ? 'done' : (['done', 'running', 'queued'] as const)[(n + k) % 3]!;
      const base = { requestId: id, connectorId, round: 1, attempts: accessStatus === 'queued' ? 0 : 1, nextAttemptAt: at, identityWatermark: 1, createdAt: at };
      tks.push({ ...base, id: deps.ids('tsk'), phase: 'access', status: accessStatus, finishedAt: accessStatus === 'done' ? at : null });
      if (stage === 'erase') tks.push({ ...base, id: deps.ids('tsk'), phase: 'erase', status: k % 2 ? 'done' : 'queued', finishedAt: k % 2 ? at : null });
    });
  }
  await deps.db.tx(async (t) => {
    await insertMany(t, requests, reqs, 500);
    await insertMany(t, requestIdentities, idents, 1000);
    await insertMany(t, tasks, tks, 1000);
  });
  console.log(`requests: ${OPEN_REQUESTS.toLocaleString('en')} open requests of other people, ${tks.length.toLocaleString('en')} tasks (${elapsed()})`);
}

await browse('/privacy/requests/erasure');
const erasureAt = expect303(await browse('/privacy/requests', { type: 'erasure', confirm: 'yes' }), 'open erasure');
const erasureId = /\/requests\/(req_[0-9a-z]+)/.exec(erasureAt)![1]!;
{
  // The erasure mid-way: its silos at different points (the engine is not running).
  const own = (await deps.db.tasks.ofRequest(erasureId)).filter((t) => t.phase === 'access');
  const states: TaskStatus[] = ['done', 'done', 'running', 'queued', 'failed'];
  await deps.db.tx(async (t) => {
    for (const [k, task] of own.entries()) await t.q.update(tasks).set({ status: states[k % states.length]! }).where(eq(tasks.id, task.id));
  });
  console.log(`signed in as demo customer ${ME}: completed access ${accessId}, running erasure ${erasureId} over ${own.length} silos (${elapsed()})`);
}
/** The erasure page's previews count against a per-person limit (10 per 15 min): reset between samples. */
const resetPreviews = () => deps.db.tx(async (t) => void (await t.q.delete(apiRateLimits).where(like(apiRateLimits.keyId, 'portal-preview:%'))));

// --- measurements ------------------------------------------------------------------------------
interface Row {
  page: string;
  median: number;
  p95: number;
  bytes: number;
  images: boolean;
  note?: string;
}
/** `fetch` answers the page; `between` runs untimed before each sample. */
async function measure(page: string, fetch: () => Response | Promise<Response>, between?: () => Promise<unknown>): Promise<Row> {
  const times: number[] = [];
  let body = '';
  for (let i = 0; i < WARMUP + SAMPLES; i++) {
    await between?.();
    const s = performance.now();
    const res = await fetch();
    body = await res.text();
    const ms = performance.now() - s;
    if (res.status !== 200) throw new Error(`${page}: ${res.status}\n${body.slice(0, 800)}`);
    if (i >= WARMUP) times.push(ms);
  }
  if (process.env.BENCH_DUMP) writeFileSync(join(process.env.BENCH_DUMP, `${page.replace(/[^a-z0-9]+/gi, '_')}.html`), body);
  return { page, median: median(times), p95: percentile(times, 95), bytes: Buffer.byteLength(body), images: /<img\b|<svg\b|data:image\//i.test(body) };
}

const withSession = { headers: { cookie: cookie(), 'accept-language': 'fr-FR,fr;q=0.9,en;q=0.5' } };
const css = await app.request('/privacy/assets/portal.css');
const cssBytes = Buffer.byteLength(await css.text());
const base = baselineApp();
const baseline10 = await measure('baseline: bare hono/jsx, 10 items', () => base.request('/?n=10'));
const baseline100 = await measure('baseline: bare hono/jsx, 100 items', () => base.request('/?n=100'));
const rows: Row[] = [
  await measure('/privacy (home, signed out: sign-in page)', () => app.request('/privacy', { headers: { 'accept-language': 'fr-FR' } })),
  await measure('/privacy/consents', () => app.request('/privacy/consents', withSession)),
  await measure('/privacy/requests', () => app.request('/privacy/requests', withSession)),
  await measure('/privacy/requests/:id (running erasure)', () => app.request(`/privacy/requests/${erasureId}`, withSession)),
  await measure('/privacy/requests/:id (completed access)', () => app.request(`/privacy/requests/${accessId}`, withSession)),
  await measure('/privacy/requests/erasure (confirmation)', () => app.request('/privacy/requests/erasure', withSession), resetPreviews),
];
rows.at(-1)!.note = `dry run over ${SILOS.length} silos`;

const ms = (x: number) => x.toFixed(2).padStart(8);
console.log(
  `\nportal pages, ${deps.db.dialect}, ${PEOPLE.toLocaleString('en')} people, ${OPEN_REQUESTS.toLocaleString('en')} open requests; ${SAMPLES} samples after ${WARMUP} warm-up, app.request() → body read`,
);
console.log(`  stylesheet ${(cssBytes / 1024).toFixed(1)} KB counted in each page's weight (one request, cached an hour)`);
console.log(`  ${'page'.padEnd(44)} ${'median ms'.padStart(9)} ${'p95 ms'.padStart(8)} ${'HTML B'.padStart(8)} ${'+CSS KB'.padStart(8)}  img  target               verdict`);
let missed = 0;
for (const r of [...rows, baseline10, baseline100]) {
  const isBaseline = r.page.startsWith('baseline');
  const kb = (r.bytes + (isBaseline ? 0 : cssBytes)) / 1024;
  const ok = isBaseline || (r.median <= TARGET_MS && kb <= TARGET_KB && !r.images);
  if (!ok) missed++;
  const target = isBaseline ? '—' : `≤ ${TARGET_MS} ms, ≤ ${TARGET_KB} KB`;
  console.log(
    `  ${r.page.padEnd(44)} ${ms(r.median).padStart(9)} ${ms(r.p95)} ${String(r.bytes).padStart(8)} ${kb.toFixed(1).padStart(8)}  ${r.images ? 'yes' : 'no '}  ${target.padEnd(20)} ${isBaseline ? '' : ok ? 'PASS' : 'FAIL'}${r.note ? `  (${r.note})` : ''}`,
  );
}
console.log(missed ? `\n${missed} page(s) FAIL their target (figures above); profile with node --cpu-prof --import tsx test/bench/portal.bench.ts` : '\nall pages PASS');

deps.mailer.close();
for (const c of deps.connectors) await c.close?.();
await deps.db.close();
await dropDatabase();
rmSync(run, { recursive: true, force: true });
