/**
 * Which of the call's identities led to each located row (the contract's `origins` and
 * `matchedBy`): a row of a `match` collection is led to by the identities its identity columns
 * hold; a row reached through a relation inherits the origins of the parent rows it points at.
 *
 * Computed in memory from the located rows, after the query: the SQL statement says which rows
 * belong to the call, this says why. When the two disagree (a silo compares in a way this
 * module does not mirror), a row gets no origin and is reported as unknown — the engine then
 * treats it conservatively — never as led to by an identity that did not match it.
 */
import type { Identity } from '../types.js';

/** What attribution needs of a collection's plan. */
export interface AttributionPlan {
  name: string;
  match: Record<string, string>;
  relations: Record<string, string>;
  integerColumns: Set<string>;
}

type Row = Record<string, unknown>;

/** Origins per row, `null` when unknown. */
export type RowOrigins = (Identity[] | null)[];

/**
 * Whether a cell holds an identity value: integers compare as integers (`'007'` and 7 are one
 * customer number), text ignoring case and surrounding blanks (as emails are written).
 */
export function cellHolds(cell: unknown, value: string, integerColumn: boolean): boolean {
  if (cell === null || cell === undefined) return false;
  if (integerColumn) {
    try {
      return BigInt(String(cell)) === BigInt(value);
    } catch {
      return false;
    }
  }
  const text = cellText(cell);
  return text === value || loose(text) === loose(value);
}

const loose = (s: string) => s.normalize('NFC').trim().toLowerCase();

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
export function attributeRows(plans: AttributionPlan[], found: Map<string, Row[]>, who: Identity[]): Map<string, RowOrigins> {
  const out = new Map<string, RowOrigins>();
  const indexes = new Map<string, Map<string, { origins: Set<Identity>; unknown: boolean }>>();
  /** Parent rows by the value of one of their columns, with their merged origins. */
  const parentIndex = (target: string, column: string) => {
    const k = `${target}.${column}`;
    let idx = indexes.get(k);
    if (idx) return idx;
    idx = new Map();
    const rows = found.get(target) ?? [];
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
    const rows = found.get(plan.name) ?? [];
    const relations = Object.entries(plan.relations).map(([column, ref]) => {
      const [target, tcol] = ref.split('.') as [string, string];
      return { column, index: parentIndex(target, tcol) };
    });
    const matches = Object.entries(plan.match).map(([type, column]) => ({ column, who: who.filter((w) => w.type === type), integer: plan.integerColumns.has(column) }));
    out.set(
      plan.name,
      rows.map((row) => {
        const origins = new Set<Identity>();
        let unknown = false;
        for (const m of matches) for (const w of m.who) if (cellHolds(row[m.column], w.value, m.integer)) origins.add(w);
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
