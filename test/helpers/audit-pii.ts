/**
 * The audit-log personal-data scan: no email, phone number or name of a test person may appear
 * in any audit entry, in any test. Every test database registers here (test/helpers/deps.ts
 * does it for in-process ones, test/cli/helpers.ts for data dirs and, on PostgreSQL runs, the
 * database of each); test/setup/audit-pii.ts scans them after each test and fails the test that
 * leaked.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import Database, { type SqliteConnection } from '../../connectors/sql/sqlite-binding.js';
import type { Database as Store } from '../../src/db/database.js';
import { demoCustomer } from '../../connectors/demo/people.js';

/** Email-shaped strings. */
const EMAIL = /[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}/g;
/** Phone-shaped strings: E.164 (+33612345678) and national forms (06 12 34 56 78, 06.12.34.56.78, 0612345678). */
const PHONE = /(?<![0-9A-Za-z_])(?:\+[1-9]\d{7,14}|0[1-9](?:[ .-]?\d{2}){4})(?![0-9A-Za-z_])/g;

/** Names of test people: the first demo customers, and the fixed people of the test fixtures. */
const DEMO_NAMES = 2000;
const FIXED_NAMES = ['Jeanne'];
let names: Set<string> | undefined;
function knownNames(): Set<string> {
  if (!names) {
    names = new Set(FIXED_NAMES.map((n) => n.toLowerCase()));
    for (let i = 1; i <= DEMO_NAMES; i++) {
      const c = demoCustomer(i);
      names.add(`${c.firstName} ${c.lastName.split(/\s+/)[0]}`.toLowerCase());
    }
  }
  return names;
}

const WORD = /[\p{L}][\p{L}'’-]*/gu;

export interface Leak {
  index: number;
  kind: 'email' | 'phone' | 'name';
  value: string;
}

/** What in one entry's text looks like personal data. */
export function findPii(index: number, text: string): Leak[] {
  const out: Leak[] = [];
  for (const m of text.matchAll(EMAIL)) out.push({ index, kind: 'email', value: m[0] });
  for (const m of text.matchAll(PHONE)) out.push({ index, kind: 'phone', value: m[0] });
  const known = knownNames();
  const words = [...text.matchAll(WORD)].map((m) => m[0].toLowerCase());
  for (let i = 0; i < words.length; i++) {
    if (known.has(words[i]!)) out.push({ index, kind: 'name', value: words[i]! });
    if (i + 1 < words.length && known.has(`${words[i]} ${words[i + 1]}`)) out.push({ index, kind: 'name', value: `${words[i]} ${words[i + 1]}` });
  }
  return out;
}

/** Scans a store's audit entries from index `from`. */
export async function scanAuditEntries(db: Store, from = 0): Promise<{ leaks: Leak[]; next: number }> {
  const leaks: Leak[] = [];
  let next = from;
  for (;;) {
    const rows = await db.audit.entries(next, 5000);
    for (const r of rows) leaks.push(...findPii(r.idx, r.entry));
    if (rows.length === 0) break;
    next = rows[rows.length - 1]!.idx + 1;
    if (rows.length < 5000) break;
  }
  return { leaks, next };
}

/** The same for a raw SQLite file (a data dir of a spawned oubli). */
function scanSqliteFile(sqlite: SqliteConnection): Leak[] {
  const rows = sqlite.prepare('select idx, entry from audit_entries order by idx').raw().all() as [number, string][];
  return rows.flatMap(([idx, text]) => findPii(idx, text));
}

/** Scans the oubli.db of a data dir (opened read-only); nothing when there is none. */
export function scanSqliteDataDir(dir: string): Leak[] {
  const file = join(dir, 'oubli.db');
  if (!existsSync(file)) return [];
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    const hasTable = db.prepare("select 1 from sqlite_master where type = 'table' and name = 'audit_entries'").get();
    return hasTable ? scanSqliteFile(db) : [];
  } finally {
    db.close();
  }
}

interface Registered {
  db: Store;
  scanned: number;
  closed: boolean;
}
const databases: Registered[] = [];
const dataDirs = new Set<string>();
/** Data dirs whose store is a PostgreSQL database (OUBLI_DATABASE_URL of the spawned processes). */
const databaseUrls = new Map<string, string>();

/** Scans the audit entries of a PostgreSQL database by URL; nothing when it has no log yet. */
async function scanPostgres(url: string): Promise<Leak[]> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const exists = await c.query("select 1 from pg_tables where tablename = 'audit_entries' and schemaname = current_schema()");
    if (exists.rowCount === 0) return [];
    const { rows } = await c.query<{ idx: string; entry: string }>('select idx, entry from audit_entries order by idx');
    return rows.flatMap((r) => findPii(Number(r.idx), r.entry));
  } finally {
    await c.end();
  }
}

/** Scans a data dir's store: its oubli.db, or the PostgreSQL database registered for it. */
export async function scanDataDir(dir: string): Promise<Leak[]> {
  const url = databaseUrls.get(dir);
  return url ? scanPostgres(url) : scanSqliteDataDir(dir);
}

/** Says that the store of the processes run on data dir `dir` is the PostgreSQL database `url`. */
export function registerDataDirDatabase(dir: string, url: string): void {
  dataDirs.add(dir);
  databaseUrls.set(dir, url);
}

/**
 * Registers a test database for the scan (done by createTestDeps). A database registered again
 * (a PostgreSQL test database emptied for the next test) is scanned from its start again.
 */
export function registerAuditDb(db: Store): void {
  const known = databases.find((d) => d.db === db);
  if (known) known.scanned = 0;
  else databases.push({ db, scanned: 0, closed: false });
}

/** Takes a database out of the scan: only for a test that leaks on purpose to test the scan. */
export function unregisterAuditDb(db: Store): void {
  const i = databases.findIndex((d) => d.db === db);
  if (i >= 0) databases.splice(i, 1);
}

/** Registers a data dir whose oubli.db is scanned after the test file (done by tempDir()). */
export function registerDataDir(dir: string): void {
  dataDirs.add(dir);
}

export function unregisterDataDir(dir: string): void {
  dataDirs.delete(dir);
  databaseUrls.delete(dir);
}

export function describeLeaks(leaks: Leak[], where: string): string {
  const shown = leaks.slice(0, 10).map((l) => `  entry ${l.index}: ${l.kind} ${JSON.stringify(l.value)}`);
  return `personal data in the audit log of ${where}:\n${shown.join('\n')}${leaks.length > 10 ? `\n  … and ${leaks.length - 10} more` : ''}`;
}

/** Scans the entries appended since the last scan in every registered database still open. */
export async function scanRegisteredDatabases(): Promise<string[]> {
  const problems: string[] = [];
  for (let i = databases.length - 1; i >= 0; i--) {
    const d = databases[i]!;
    let scan;
    try {
      scan = await scanAuditEntries(d.db, d.scanned);
    } catch {
      databases.splice(i, 1); // closed by its test
      continue;
    }
    d.scanned = scan.next;
    if (scan.leaks.length) problems.push(describeLeaks(scan.leaks, `a test database (${d.db.dialect})`));
  }
  return problems;
}

/** Scans every registered data dir's store. */
export async function scanRegisteredDataDirs(): Promise<string[]> {
  const problems: string[] = [];
  for (const dir of dataDirs) {
    const leaks = await scanDataDir(dir);
    if (leaks.length) problems.push(describeLeaks(leaks, `data dir ${dir}${databaseUrls.has(dir) ? ' (PostgreSQL)' : ''}`));
  }
  return problems;
}
