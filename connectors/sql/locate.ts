/**
 * Finds a person's rows in a SQL silo, for access and erasure alike (so the erasure's
 * verification, an access, sees exactly what an erasure would have touched).
 *
 * Collections are visited parents first. A collection's rows are those whose identity columns
 * hold one of the person's identities, however the silo writes it (./matchers.ts), plus those
 * pointing at a row already found in a parent collection (`relations`). Each criterion is its
 * own indexed `IN (…)` query (an OR across columns can stop a planner from using either index),
 * chunked under the bound-parameter limit; rows are merged by key. Every criterion is reported
 * with its count, 0 included, so the DPO sees how each collection was searched.
 */
import type { CollectionMatch, Identity, LookupReport } from '../types.js';
import type { MaskSpec, SqlCollection } from './config.js';
import { MAX_PARAMS, type Driver, type Param, type Row, type SqlRunner } from './drivers.js';
import type { ColumnMatcher } from './matchers.js';

/** A prepared plan per collection, built from the config and the live schema. */
export interface Plan {
  name: string;
  c: SqlCollection;
  /** Columns selected when locating (output ∪ key ∪ identity columns ∪ relation targets ∪ discover ∪ masks). */
  select: string[];
  /** Columns returned by access. */
  output: string[];
  /** Columns holding integers: values that are not integers cannot match them. */
  integerColumns: Set<string>;
  masks: [string, MaskSpec][];
  discover: { type: string; column: string; reason: string; weak: boolean }[];
  /** Columns of this collection referenced by children (their values are needed). */
  referenced: Set<string>;
  /** One per identity column (`match`). */
  matchers: ColumnMatcher[];
  /** How each identity and relation column is searched, and whether an index serves it. */
  lookups: LookupReport[];
}

export interface Located {
  rows: Row[];
  matchedBy: CollectionMatch[];
}

/** Relation values as the column can hold them: integers only for integer columns. */
export function relationValues(plan: Plan, column: string, values: unknown[]): Param[] {
  const out = new Set<Param>();
  for (const v of values) {
    if (v === null || v === undefined) continue;
    if (plan.integerColumns.has(column)) {
      const s = String(v);
      if (/^-?\d{1,18}$/.test(s)) out.add(typeof v === 'number' || typeof v === 'bigint' ? (v as Param) : s);
    } else if (typeof v === 'string' || typeof v === 'number' || typeof v === 'bigint' || Buffer.isBuffer(v)) out.add(v);
    else if (v instanceof Date) out.add(v.toISOString());
    else out.add(String(v));
  }
  return [...out];
}

export async function locate(tx: SqlRunner, driver: Pick<Driver, 'quote' | 'param'>, plans: Plan[], who: Identity[]): Promise<Map<string, Located>> {
  const q = (i: string) => driver.quote(i);
  const found = new Map<string, Located>();

  async function select(plan: Plan, left: string, values: Param[]): Promise<Row[]> {
    const rows: Row[] = [];
    for (let i = 0; i < values.length; i += MAX_PARAMS) {
      const chunk = values.slice(i, i + MAX_PARAMS);
      const sql = `SELECT ${plan.select.map(q).join(', ')} FROM ${q(plan.c.table)} WHERE ${left} IN (${chunk.map((_, j) => driver.param(j + 1)).join(', ')}) ORDER BY ${q(plan.c.key)}`;
      rows.push(...(await tx.all(sql, chunk)));
    }
    return rows;
  }

  for (const plan of plans) {
    const byKey = new Map<string, Row>();
    const matchedBy: CollectionMatch[] = [];
    const keep = (rows: Row[]) => {
      for (const r of rows) byKey.set(String(r[plan.c.key]), r);
    };
    for (const m of plan.matchers) {
      const values = who.filter((w) => w.type === m.identity).map((w) => w.value);
      if (values.length === 0) continue;
      const keys = m.keys(values);
      const accepts = m.accepts(values);
      const rows = keys.length ? (await select(plan, m.left, keys)).filter((r) => accepts(r[m.column])) : [];
      keep(rows);
      matchedBy.push({ identity: m.identity, column: m.column, normalization: m.normalize, ...(m.format ? { format: m.format } : {}), records: rows.length });
    }
    for (const [column, ref] of Object.entries(plan.c.relations)) {
      const [target, tcol] = ref.split('.') as [string, string];
      const values = relationValues(plan, column, (found.get(target)?.rows ?? []).map((r) => r[tcol]));
      const rows = values.length ? await select(plan, q(column), values) : [];
      keep(rows);
      matchedBy.push({ via: ref, column, normalization: 'exact', records: rows.length });
    }
    const rows = [...byKey.values()];
    if (matchedBy.filter((x) => x.records > 0).length > 1) rows.sort((a, b) => compareKeys(a[plan.c.key], b[plan.c.key]));
    found.set(plan.name, { rows, matchedBy });
  }
  return found;
}

/** Keys in the order a database sorts them: numbers (and numeric strings of bigints) numerically. */
function compareKeys(a: unknown, b: unknown): number {
  const num = (v: unknown) => ((typeof v === 'number' && Number.isInteger(v)) || typeof v === 'bigint' ? BigInt(v) : typeof v === 'string' && /^-?\d{1,30}$/.test(v) ? BigInt(v) : null);
  const x = num(a);
  const y = num(b);
  if (x !== null && y !== null) return x < y ? -1 : x > y ? 1 : 0;
  const s = String(a);
  const t = String(b);
  return s < t ? -1 : s > t ? 1 : 0;
}
