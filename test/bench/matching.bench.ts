/**
 * Matching benchmark (issue 13): one person found among 1,000,000 customers whose emails were
 * stored as typed (`Person.123@Example.com`) and phones the French way (`06 00 00 01 23`), on
 * SQLite, PostgreSQL and MariaDB, through the SQL connector's `access`:
 *  - by email, case-insensitively, served by the index the connector recommends;
 *  - by phone (+33…), searching the written forms on the plain index.
 * Baselines measured in the same run on the same table: a plain indexed equality lookup
 * (`WHERE email = ?`, raw driver), and the connector with `normalize: 'exact'` (plain index, no
 * normalisation). For context, a few case-insensitive lookups before the recommended index
 * exists (each scans the table). Rows are generated inside the database; each database made
 * here is dropped at the end.
 */
import { sqlConnector, type SqlConnector } from '../../connectors/sql/index.js';
import { conformanceContext } from '../../connectors/conformance.js';
import { mysqlTarget, postgresTarget, sqliteTarget, type SqlTarget } from '../connectors/sql-fixture.js';
import { median, percentile, report } from './util.js';

const ROWS = 1_000_000;
const LOOKUPS = 400;
const TARGET_MS = 5;

const DDL = {
  sqlite: 'CREATE TABLE customers (id INTEGER PRIMARY KEY, email TEXT NOT NULL, phone TEXT, full_name TEXT NOT NULL)',
  postgres: 'CREATE TABLE customers (id integer PRIMARY KEY, email varchar(200) NOT NULL, phone varchar(40), full_name varchar(100) NOT NULL)',
  mysql: 'CREATE TABLE customers (id INT PRIMARY KEY, email VARCHAR(200) NOT NULL, phone VARCHAR(40), full_name VARCHAR(100) NOT NULL) ENGINE=InnoDB',
};

/** Person i: email `Person.<i>@Example.com`, phone `06 DD DD DD DD` from i's 8 digits. */
function fillSql(t: SqlTarget): string[] {
  const grouped = (d: string) => `'06 ' || substr(${d}, 1, 2) || ' ' || substr(${d}, 3, 2) || ' ' || substr(${d}, 5, 2) || ' ' || substr(${d}, 7, 2)`;
  switch (t.dialect) {
    case 'sqlite':
      return [
        `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ${ROWS})
         INSERT INTO customers SELECT i, 'Person.' || i || '@Example.com', ${grouped("printf('%08d', i)")}, 'Person ' || i FROM n`,
      ];
    case 'postgres':
      return [
        `INSERT INTO customers SELECT i, 'Person.' || i || '@Example.com', ${grouped("lpad(i::text, 8, '0')")}, 'Person ' || i FROM generate_series(1, ${ROWS}) AS i`,
        'ANALYZE customers',
      ];
    case 'mysql': {
      const d = 'LPAD(seq, 8, 0)';
      // MariaDB's sequence engine (seq_1_to_N) generates the rows server-side.
      return [
        `INSERT INTO customers SELECT seq, CONCAT('Person.', seq, '@Example.com'),
           CONCAT('06 ', SUBSTR(${d}, 1, 2), ' ', SUBSTR(${d}, 3, 2), ' ', SUBSTR(${d}, 5, 2), ' ', SUBSTR(${d}, 7, 2)), CONCAT('Person ', seq) FROM seq_1_to_${ROWS}`,
        'ANALYZE TABLE customers',
      ];
    }
  }
}

const phoneOf = (i: number) => `+336${String(i).padStart(8, '0')}`;
const emailOf = (i: number) => `person.${i}@example.com`;
const writtenEmailOf = (i: number) => `Person.${i}@Example.com`;

function connector(t: SqlTarget, email: unknown): SqlConnector {
  return sqlConnector({
    id: `bench_${t.dialect}`,
    title: 'Matching bench',
    ...t.base,
    collections: { customers: { table: 'customers', key: 'id', match: { email, phone: 'phone' }, portable: true, erase: { action: 'delete' } } },
  } as never);
}

/** Times `fn(i)` for LOOKUPS random people; each call must find exactly one record. */
async function time(fn: (i: number) => Promise<number>, n = LOOKUPS): Promise<number[]> {
  for (let k = 0; k < 30; k++) await fn(1 + Math.floor(Math.random() * ROWS));
  const out: number[] = [];
  for (let k = 0; k < n; k++) {
    const i = 1 + Math.floor(Math.random() * ROWS);
    const t0 = performance.now();
    const found = await fn(i);
    out.push(performance.now() - t0);
    if (found !== 1) throw new Error(`lookup of person ${i} found ${found} records`);
  }
  return out;
}

const found = async (c: SqlConnector, type: string, value: string) =>
  (await c.access([{ type, value }], conformanceContext())).collections[0]!.records.length;

const fmt = (xs: number[]) => `${median(xs).toFixed(2)} / ${percentile(xs, 99).toFixed(2)} ms`;

for (const make of [sqliteTarget, postgresTarget, mysqlTarget]) {
  const t = await make();
  if ('skip' in t) {
    console.log(`\n${make.name}: ${t.skip}`);
    continue;
  }
  const open: SqlConnector[] = [];
  try {
    const t0 = performance.now();
    await t.exec(DDL[t.dialect]);
    for (const stmt of fillSql(t)) await t.exec(stmt);
    await t.exec('CREATE INDEX customers_email_plain ON customers (email)');
    await t.exec('CREATE INDEX customers_phone ON customers (phone)');
    console.log(`\n${t.dialect}: ${ROWS.toLocaleString('en')} customers generated and indexed in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

    // Before the recommended index: each case-insensitive lookup scans the table.
    const bare = connector(t, 'email');
    open.push(bare);
    await bare.init();
    const scans = await time((i) => found(bare, 'email', emailOf(i)), 3);
    const recommended = bare.matching().find((l) => l.column === 'email')!.recommendation!;
    const tIdx = performance.now();
    await t.exec(recommended);
    if (t.dialect === 'postgres') await t.exec('ANALYZE customers');
    console.log(`  ${recommended}  (${((performance.now() - tIdx) / 1000).toFixed(1)} s)`);

    const byEmail = connector(t, 'email');
    const exact = connector(t, { column: 'email', normalize: 'exact' });
    open.push(byEmail, exact);
    await byEmail.init();
    await exact.init();
    const served = byEmail.matching().filter((l) => l.index.served).map((l) => `${l.column} → ${l.index.name}`);
    console.log(`  index report: ${served.join(', ')}`);

    const raw = await time(async (i) => ((await t.count('SELECT id AS n FROM customers WHERE email = ?', [writtenEmailOf(i)])) === i ? 1 : 0));
    const exactTimes = await time((i) => found(exact, 'email', writtenEmailOf(i)));
    const emailTimes = await time((i) => found(byEmail, 'email', emailOf(i)));
    const phoneTimes = await time((i) => found(byEmail, 'phone', phoneOf(i)));

    report(`matching on ${t.dialect}: connector access, 1 person among ${ROWS.toLocaleString('en')} (p50 / p99 of ${LOOKUPS} lookups; baseline: raw WHERE email = ? on its plain index)`, [
      { metric: 'by email, any case (casefold index)', value: fmt(emailTimes), baseline: fmt(raw), target: `p50 ≤ ${TARGET_MS} ms`, ok: median(emailTimes) <= TARGET_MS },
      { metric: 'by phone, any written form (plain index)', value: fmt(phoneTimes), baseline: fmt(raw), target: `p50 ≤ ${TARGET_MS} ms`, ok: median(phoneTimes) <= TARGET_MS },
      { metric: "by email, normalize 'exact' (plain index)", value: fmt(exactTimes), baseline: fmt(raw), target: 'context', ok: true },
      { metric: 'by email, any case, no casefold index (scan)', value: `${median(scans).toFixed(0)} ms`, baseline: fmt(raw), target: 'context', ok: true },
    ]);
  } finally {
    for (const c of open) await c.close();
    await t.drop();
  }
}
