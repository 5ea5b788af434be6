/**
 * Which of the call's identities led to each located row (the contract's `origins` and
 * `matchedBy`): a row of a `match` collection is led to by the identities its identity columns
 * hold; a row reached through a relation inherits the origins of the parent rows it points at.
 *
 * Computed in memory from the located rows, after the query, with the very check the lookup
 * applied to each row it kept (./matchers.ts `accepts`), one identity at a time: the SQL
 * statement says which rows belong to the call, this says why. A row nothing explains gets no
 * origin and is reported as unknown — the engine then treats it conservatively — never as led
 * to by an identity that did not match it.
 */
import type { Identity } from '../types.js';
import type { Located, Plan } from './locate.js';

type Row = Record<string, unknown>;

/** Origins per row, `null` when unknown. */
export type RowOrigins = (Identity[] | null)[];

/** A cell as the text the connector reports it as (dates ISO, bytes base64). */
function cellText(v: unknown): string {
  if (v instanceof Date) return v.toISOString();
  if (Buffer.isBuffer(v)) return v.toString('base64');
  return String(v);
}

/** The key under which a relation compares a child's column with its parent's. */
function joinKey(v: unknown): string | null {
  if (v === null || v === undefined) return null;
  return cellText(v);
}

/** Origins of every located row, by collection; `plans` parents first. */
export function attributeRows(plans: Pick<Plan, 'name' | 'c' | 'matchers'>[], found: Map<string, Located>, who: Identity[]): Map<string, RowOrigins> {
  const out = new Map<string, RowOrigins>();
  const indexes = new Map<string, Map<string, { origins: Set<Identity>; unknown: boolean }>>();
  /** Parent rows by the value of one of their columns, with their merged origins. */
  const parentIndex = (target: string, column: string) => {
    const k = `${target}.${column}`;
    let idx = indexes.get(k);
    if (idx) return idx;
    idx = new Map();
    const rows = found.get(target)?.rows ?? [];
    const origins = out.get(target) ?? [];
    rows.forEach((row, i) => {
      const key = joinKey(row[column]);
      if (key === null) return;
      let entry = idx!.get(key);
      if (!entry) idx!.set(key, (entry = { origins: new Set(), unknown: false }));
      const o = origins[i];
      if (o === null || o === undefined) entry.unknown = true;
      else for (const id of o) entry.origins.add(id);
    });
    indexes.set(k, idx);
    return idx;
  };
  for (const plan of plans) {
    const rows = found.get(plan.name)?.rows ?? [];
    const relations = Object.entries(plan.c.relations).map(([column, ref]) => {
      const [target, tcol] = ref.split('.') as [string, string];
      return { column, index: parentIndex(target, tcol) };
    });
    const matches = plan.matchers.map((m) => ({
      column: m.column,
      checks: who.filter((w) => w.type === m.identity).map((w) => ({ w, accepts: m.accepts([w.value]) })),
    }));
    out.set(
      plan.name,
      rows.map((row) => {
        const origins = new Set<Identity>();
        let unknown = false;
        for (const m of matches) for (const { w, accepts } of m.checks) if (accepts(row[m.column])) origins.add(w);
        for (const r of relations) {
          const key = joinKey(row[r.column]);
          const parent = key === null ? undefined : r.index.get(key);
          if (!parent) continue;
          if (parent.unknown) unknown = true;
          for (const o of parent.origins) origins.add(o);
        }
        // Located but unexplained: say so rather than guess.
        return unknown || origins.size === 0 ? null : [...origins];
      }),
    );
  }
  return out;
}
