/**
 * The audit-log personal-data scan: no email, phone number or name of a test person may appear
 * in any audit entry, in any test. Every test database registers here (test/helpers/deps.ts
 * does it for in-memory ones, test/cli/helpers.ts for data dirs); test/setup/audit-pii.ts scans
 * them after each test and fails the test that leaked.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { Sqlite } from '../../src/db/client.js';
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

/** Scans a database's audit entries from index `from`. */
export function scanAuditEntries(sqlite: Sqlite, from = 0): { leaks: Leak[]; next: number } {
  const rows = sqlite.prepare('select idx, entry from audit_entries where idx >= ? order by idx').raw().all(from) as [number, string][];
  const leaks = rows.flatMap(([idx, text]) => findPii(idx, text));
  return { leaks, next: rows.length ? rows[rows.length - 1]![0] + 1 : from };
}

/** Scans the oubli.db of a data dir (opened read-only); nothing when there is none. */
export function scanDataDir(dir: string): Leak[] {
  const file = join(dir, 'oubli.db');
  if (!existsSync(file)) return [];
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    const hasTable = db.prepare("select 1 from sqlite_master where type = 'table' and name = 'audit_entries'").get();
    return hasTable ? scanAuditEntries(db).leaks : [];
  } finally {
    db.close();
  }
}

interface Registered {
  sqlite: Sqlite;
  scanned: number;
}
const databases: Registered[] = [];
const dataDirs = new Set<string>();

/** Registers a test database for the scan (done by createTestDeps). */
export function registerAuditDb(sqlite: Sqlite): void {
  databases.push({ sqlite, scanned: 0 });
}

/** Takes a database out of the scan: only for a test that leaks on purpose to test the scan. */
export function unregisterAuditDb(sqlite: Sqlite): void {
  const i = databases.findIndex((d) => d.sqlite === sqlite);
  if (i >= 0) databases.splice(i, 1);
}

/** Registers a data dir whose oubli.db is scanned after the test file (done by tempDir()). */
export function registerDataDir(dir: string): void {
  dataDirs.add(dir);
}

export function unregisterDataDir(dir: string): void {
  dataDirs.delete(dir);
}

export function describeLeaks(leaks: Leak[], where: string): string {
  const shown = leaks.slice(0, 10).map((l) => `  entry ${l.index}: ${l.kind} ${JSON.stringify(l.value)}`);
  return `personal data in the audit log of ${where}:\n${shown.join('\n')}${leaks.length > 10 ? `\n  … and ${leaks.length - 10} more` : ''}`;
}

/** Scans the entries appended since the last scan in every open registered database. */
export function scanRegisteredDatabases(): string[] {
  const problems: string[] = [];
  for (let i = databases.length - 1; i >= 0; i--) {
    const d = databases[i]!;
    if (!d.sqlite.open) {
      databases.splice(i, 1);
      continue;
    }
    const { leaks, next } = scanAuditEntries(d.sqlite, d.scanned);
    d.scanned = next;
    if (leaks.length) problems.push(describeLeaks(leaks, `a test database (${d.sqlite.name})`));
  }
  return problems;
}

/** Scans every registered data dir's oubli.db. */
export function scanRegisteredDataDirs(): string[] {
  const problems: string[] = [];
  for (const dir of dataDirs) {
    const leaks = scanDataDir(dir);
    if (leaks.length) problems.push(describeLeaks(leaks, `data dir ${dir}`));
  }
  return problems;
}
