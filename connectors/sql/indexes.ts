/**
 * Whether an index serves a lookup, asked of the silo's own planner at start-up (not guessed
 * from index definitions, whose text differs per dialect and version):
 * - SQLite: `EXPLAIN QUERY PLAN` says SEARCH … USING INDEX (served) or SCAN (not);
 * - PostgreSQL: `EXPLAIN` with sequential scans disabled for the transaction, so that a small
 *   table still shows the index the planner would use on a large one;
 * - MySQL/MariaDB: an index whose first column is the one compared (information_schema), or
 *   for an expression, the indexes `EXPLAIN` lists as possible (MySQL 8 functional indexes).
 * Read-only: nothing of the silo changes.
 */
import type { Driver, Param, Row, SqlRunner } from './drivers.js';

export interface IndexUse {
  served: boolean;
  name?: string;
}

/** Index use of `SELECT key FROM table WHERE left IN (?, ?)`; `column` is set when `left` is a plain column. */
export async function indexUse(
  tx: SqlRunner,
  driver: Pick<Driver, 'dialect' | 'quote' | 'param'>,
  q: { table: string; key: string; left: string; column?: string; integer: boolean },
): Promise<IndexUse> {
  // Two values: with one, MySQL may resolve a unique key as a constant and explain nothing.
  const samples: Param[] = q.integer ? [-987654321, -987654322] : ['oubli-index-probe-1', 'oubli-index-probe-2'];
  const sql = `SELECT ${driver.quote(q.key)} FROM ${driver.quote(q.table)} WHERE ${q.left} IN (${driver.param(1)}, ${driver.param(2)})`;
  switch (driver.dialect) {
    case 'sqlite': {
      const rows = await tx.all(`EXPLAIN QUERY PLAN ${sql}`, samples);
      for (const r of rows) {
        const m = /^SEARCH \S+ USING (?:COVERING )?INDEX (\S+)|^SEARCH \S+ USING (INTEGER PRIMARY KEY)/.exec(String(r.detail));
        if (m) return { served: true, name: m[1] ?? 'PRIMARY KEY' };
      }
      return { served: false };
    }
    case 'postgres': {
      await tx.run('SET LOCAL enable_seqscan = off', []);
      const rows = await tx.all(`EXPLAIN (FORMAT JSON) ${sql}`, samples);
      const plan = (rows[0]?.['QUERY PLAN'] as { Plan: PgPlan }[] | undefined)?.[0]?.Plan;
      const name = plan ? pgIndexName(plan) : undefined;
      return name ? { served: true, name } : { served: false };
    }
    case 'mysql': {
      if (q.column) {
        const rows = await tx.all(
          'SELECT INDEX_NAME AS name FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? AND COLUMN_NAME = ? AND SEQ_IN_INDEX = 1 ORDER BY NON_UNIQUE, INDEX_NAME LIMIT 1',
          [q.table, q.column],
        );
        return rows.length ? { served: true, name: String(rows[0]!.name) } : { served: false };
      }
      const rows = (await tx.all(`EXPLAIN ${sql}`, samples)) as Row[];
      const keys = rows.map((r) => r.possible_keys).find((k) => typeof k === 'string' && k.length > 0);
      return keys ? { served: true, name: String(keys).split(',')[0] } : { served: false };
    }
  }
}

interface PgPlan {
  'Node Type': string;
  'Index Name'?: string;
  'Index Cond'?: string;
  Plans?: PgPlan[];
}

/** An index searched by the condition; an index walked end to end (no Index Cond) is a scan. */
function pgIndexName(p: PgPlan): string | undefined {
  if (/Index/.test(p['Node Type']) && p['Index Name'] && p['Index Cond']) return p['Index Name'];
  for (const c of p.Plans ?? []) {
    const n = pgIndexName(c);
    if (n) return n;
  }
  return undefined;
}

/** MySQL/MariaDB generated columns of a table, with their expressions (other dialects: none needed). */
export async function generatedColumns(tx: SqlRunner, dialect: Driver['dialect'], table: string): Promise<{ name: string; expression: string }[]> {
  if (dialect !== 'mysql') return [];
  const rows = await tx.all(
    "SELECT COLUMN_NAME AS name, GENERATION_EXPRESSION AS expression FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? AND GENERATION_EXPRESSION IS NOT NULL AND GENERATION_EXPRESSION <> ''",
    [table],
  );
  return rows.map((r) => ({ name: String(r.name), expression: String(r.expression) }));
}
