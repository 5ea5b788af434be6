/**
 * Loads the consent bench data set (BENCH_PEOPLE people, 1,000,000 by default, × 5 purposes)
 * into a SQLite file in the temp dir, which consent-2-http.bench.ts then reuses.
 * Baseline: raw better-sqlite3 inserting the same number of narrow rows in the same run.
 * Target: ≤ 60 s for 1,000,000 × 5.
 */
import Database from '../../connectors/sql/sqlite-binding.js';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { report } from './util.js';
import { loadFixture } from './consent-fixture.js';

export const FIXTURE = join(tmpdir(), 'oubli-bench-consent.db');
const people = Number(process.env.BENCH_PEOPLE ?? 1_000_000);

// Baseline: raw better-sqlite3, one prepared insert, the same number of rows (events), one
// rowid table with no secondary index, 50,000-row transactions.
const rawPath = join(tmpdir(), `oubli-bench-raw-${process.pid}.db`);
const raw = new Database(rawPath);
raw.pragma('journal_mode = OFF');
raw.pragma('synchronous = OFF');
raw.exec('create table t (id integer primary key, subject text, purpose text, decision text, occurred_at integer)');
const ins = raw.prepare('insert into t (subject, purpose, decision, occurred_at) values (?, ?, ?, ?)');
const rows = people * 5;
const t0 = performance.now();
for (let i = 0; i < rows; i += 50_000) {
  raw.transaction(() => {
    for (let j = i; j < Math.min(rows, i + 50_000); j++) ins.run(`sub_${j / 5}`, 'newsletter', 'granted', j);
  })();
}
const rawMs = performance.now() - t0;
raw.close();
rmSync(rawPath, { force: true });

console.log(`loading ${people.toLocaleString('en')} people × 5 purposes into ${FIXTURE}`);
const r = await loadFixture(FIXTURE, people, (s) => console.log(s));
report(`consent data set: ${people.toLocaleString('en')} people × 5 purposes (audit entries loaded in bulk, see consent-fixture.ts)`, [
  {
    metric: `load ${r.events.toLocaleString('en')} events (+states, outbox, audit)`,
    value: `${(r.ms / 1000).toFixed(1)} s`,
    baseline: `${(rawMs / 1000).toFixed(1)} s raw`,
    target: '≤ 60 s for 1M × 5',
    ok: r.ms <= 60_000 * (people / 1_000_000),
  },
  {
    metric: 'rows per second (events)',
    value: `${Math.round(r.events / (r.ms / 1000)).toLocaleString('en')}/s`,
    baseline: `${Math.round(rows / (rawMs / 1000)).toLocaleString('en')}/s`,
    target: '—',
    ok: true,
  },
]);
