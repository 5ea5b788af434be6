/**
 * The SQL side of matching (connectors/matching.ts): for one identity column, the left operand
 * a lookup compares (`"phone"`, or `lower(trim("email"))`), the values it binds, and the check
 * that accepts a returned row.
 *
 * - **Written forms** (`phone`, `exact`, or a declared `format`): `col IN (form₁, form₂…)` — the
 *   plain index on the column serves it in every dialect.
 * - **Expressions** (`casefold`, `compact`, `trim`): `expr(col) IN (…)` — served by an index on
 *   that expression (SQLite, PostgreSQL; MySQL 8 functional indexes) or, on MySQL/MariaDB, by an
 *   indexed generated column with the same expression, which the lookup then names directly.
 *
 * Whatever the SQL finds is then checked by the normaliser in JS (`accepts`): a collation that
 * folds accents (`zoé` = `zoe` in MariaDB's utf8mb4_general_ci) or pads spaces cannot make
 * another person's record match. access, erase and the erasure's verification all go through
 * here, so they find the same records.
 */
import type { CountryCode } from 'libphonenumber-js';
import { canonical, foldedForms, formatted, phoneWrittenForms, type Format, type Normalizer } from '../matching.js';
import type { MatchColumn } from './config.js';
import type { Driver, Param } from './drivers.js';

export const INTEGER_TYPES = /int|serial|^bit$|year/;
const PLAIN_IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;
const INTEGER_VALUE = /^-?\d{1,18}$/;

export interface ColumnMatcher {
  identity: string;
  column: string;
  normalize: Normalizer;
  format?: Format;
  /** `forms`: the column against written forms; `expression`: an expression of the column. */
  lookup: 'forms' | 'expression';
  /** The SQL left operand, quoted for the dialect. */
  left: string;
  /** The same, as a DBA reads it: `phone`, `lower(trim(email))`, or a generated column's name. */
  compares: string;
  /** Values to bind for the person's identities of this type (deduplicated). */
  keys(values: string[]): Param[];
  /** The check a returned row's column value must pass, for these identities. */
  accepts(values: string[]): (raw: unknown) => boolean;
}

/** `lower(trim(c))`, `lower(replace(…))`, `trim(c)`: the same text in all three dialects. */
export function expressionOf(normalize: Normalizer, col: string): string | null {
  switch (normalize) {
    case 'casefold':
      return `lower(trim(${col}))`;
    case 'compact':
      return `lower(replace(replace(replace(${col}, ' ', ''), '-', ''), '.', ''))`;
    case 'trim':
      return `trim(${col})`;
    default:
      return null;
  }
}

interface Build {
  driver: Pick<Driver, 'dialect' | 'quote'>;
  spec: MatchColumn;
  /** Lower-cased declared type of the column. */
  columnType: string;
  region: CountryCode;
  /** MySQL/MariaDB: a generated column holding the same expression (found by findGenerated). */
  generated?: string;
}

export function buildMatcher({ driver, spec, columnType, region, generated }: Build): ColumnMatcher {
  const q = driver.quote.bind(driver);
  const integer = INTEGER_TYPES.test(columnType);
  const expr = spec.format ? null : expressionOf(spec.normalize, q(spec.column));
  const canon = (v: string) => canonical(spec.normalize, v, region);
  const base = { identity: spec.identity, column: spec.column, normalize: spec.normalize, ...(spec.format ? { format: spec.format } : {}) };

  if (integer) {
    // Integers are compared as numbers (identity '042' is customer 42); nothing else can match.
    const ints = (values: string[]) => [...new Set(values.map((v) => v.trim()).filter((v) => INTEGER_VALUE.test(v)).map((v) => BigInt(v).toString()))];
    return {
      ...base,
      lookup: 'forms',
      left: q(spec.column),
      compares: spec.column,
      keys: ints,
      accepts: (values) => {
        const want = new Set(ints(values));
        return (raw) => raw !== null && raw !== undefined && INTEGER_VALUE.test(String(raw)) && want.has(BigInt(String(raw)).toString());
      },
    };
  }

  const accepts = (values: string[]) => {
    const want = new Set(values.map(canon).filter((v): v is string => v !== null));
    return (raw: unknown) => {
      const c = canonical(spec.normalize, raw, region);
      return c !== null && want.has(c);
    };
  };

  if (expr) {
    return {
      ...base,
      lookup: 'expression',
      left: generated ? q(generated) : expr,
      compares: generated ?? expressionOf(spec.normalize, spec.column)!,
      keys: (values) => [...new Set(values.map(canon).flatMap((c) => (c === null ? [] : spec.normalize === 'trim' ? [c] : foldedForms(c))))],
      accepts,
    };
  }

  const forms = (v: string): string[] => {
    if (spec.format) {
      const f = formatted(spec.format, spec.normalize, v, region);
      return f === null ? [] : [f];
    }
    if (spec.normalize === 'phone') {
      const e164 = canon(v);
      return e164 === null ? [] : phoneWrittenForms(e164, region);
    }
    return [v];
  };
  // SQLite compares a bound text with an untyped column's integer as different values: a
  // customer id stored as 42 in a column declared without a type must still match '42'.
  const untypedSqlite = driver.dialect === 'sqlite' && columnType === '';
  return {
    ...base,
    lookup: 'forms',
    left: q(spec.column),
    compares: spec.column,
    keys: (values) => {
      const out = new Set<Param>();
      for (const v of values) {
        for (const f of forms(v)) {
          out.add(f);
          if (untypedSqlite && INTEGER_VALUE.test(f)) out.add(Number(f));
        }
      }
      return [...out];
    },
    accepts,
  };
}

/**
 * MySQL/MariaDB cannot index an expression directly (MariaDB) or may not use a generated
 * column's index for the expression (MariaDB): the lookup names an indexed generated column
 * whose expression is the one wanted. Expressions are compared as text, once normalised:
 * MariaDB stores `lower` as `lcase`, MySQL adds charset introducers (`_utf8mb4' '`).
 */
export function findGenerated(generated: { name: string; expression: string }[], normalize: Normalizer, column: string): string | undefined {
  const want = expressionOf(normalize, `\`${column}\``);
  if (!want) return undefined;
  const key = normalizeExpression(want);
  // The name comes from the silo's schema, not from the validated config: only a plain
  // identifier may be quoted into a statement.
  return generated.find((g) => PLAIN_IDENTIFIER.test(g.name) && normalizeExpression(g.expression) === key)?.name;
}

export function normalizeExpression(sql: string): string {
  let out = '';
  const s = sql.replace(/\\'/g, "'").replace(/_(?:utf8mb4|utf8mb3|utf8|latin1|binary|ascii)(?=')/gi, '');
  for (let i = 0; i < s.length; i++) {
    const ch = s[i]!;
    if (ch === "'") {
      const end = s.indexOf("'", i + 1);
      const lit = end < 0 ? s.slice(i) : s.slice(i, end + 1);
      out += lit;
      i += lit.length - 1;
    } else if (!/[\s`"]/.test(ch)) out += ch.toLowerCase();
  }
  return out.replace(/\blcase\(/g, 'lower(').replace(/\bucase\(/g, 'upper(');
}

/** The DDL that would serve a lookup no index serves (names from the validated config only). */
export function recommendIndex(dialect: Driver['dialect'], table: string, m: { column: string; lookup: 'forms' | 'expression'; normalize: Normalizer }, length?: number): string {
  const name = (suffix: string) => `${table}_${m.column}_${suffix}`.slice(0, 63);
  if (m.lookup === 'forms') return `CREATE INDEX ${name('idx')} ON ${table} (${m.column})`;
  const expr = expressionOf(m.normalize, m.column)!;
  if (dialect !== 'mysql') return `CREATE INDEX ${name(m.normalize)} ON ${table} (${expr})`;
  const gen = `${m.column}_${m.normalize}`.slice(0, 64);
  return `ALTER TABLE ${table} ADD COLUMN ${gen} VARCHAR(${length ?? 320}) AS (${expr}) VIRTUAL INVISIBLE, ADD INDEX ${name(m.normalize)} (${gen})`;
}
