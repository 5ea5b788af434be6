/**
 * The small JSONPath-style syntax the REST connector's declarations use to say where records,
 * identities, cursors and keys sit in a silo's JSON answer:
 *
 *   $                      the whole answer
 *   $.contacts  contacts   a member (the leading `$.` may be left out)
 *   $.data.items[*]        every element of an array (or every value of an object); `.*` too
 *   $.items[0]             one element
 *   $['odd key'] ["k"]     a member whose name is not a plain word
 *
 * Only navigation: no filters, no scripts, no recursive descent. That is all a mapping needs,
 * and it keeps silo data from ever being evaluated as an expression (full JSONPath engines
 * evaluate filter scripts, the source of their injection advisories). Paths are parsed once,
 * when the connector's config is read; a malformed one is a config error naming the field.
 */

export type PathSegment = { kind: 'member'; name: string } | { kind: 'index'; index: number } | { kind: 'all' };

export interface Path {
  source: string;
  segments: PathSegment[];
}

const WORD = /^[A-Za-z_$][A-Za-z0-9_$-]*/;

/** Parses a path; throws an Error saying what is wrong (the config parser adds the field). */
export function parsePath(source: string): Path {
  let rest = source.trim();
  const segments: PathSegment[] = [];
  if (rest.startsWith('$')) rest = rest.slice(1);
  else if (rest.length > 0) rest = `.${rest}`;
  while (rest.length > 0) {
    if (rest.startsWith('.*')) {
      segments.push({ kind: 'all' });
      rest = rest.slice(2);
    } else if (rest.startsWith('.')) {
      const m = WORD.exec(rest.slice(1));
      if (!m) throw new Error(`${JSON.stringify(source)}: a name must follow "." (letters, digits, _, $, -; other names as ['name'])`);
      segments.push({ kind: 'member', name: m[0] });
      rest = rest.slice(1 + m[0].length);
    } else if (rest.startsWith('[*]')) {
      segments.push({ kind: 'all' });
      rest = rest.slice(3);
    } else if (/^\[\d+\]/.test(rest)) {
      const m = /^\[(\d+)\]/.exec(rest)!;
      segments.push({ kind: 'index', index: Number(m[1]) });
      rest = rest.slice(m[0].length);
    } else if (/^\[(['"])/.test(rest)) {
      const quote = rest[1]!;
      const end = rest.indexOf(`${quote}]`, 2);
      if (end < 0) throw new Error(`${JSON.stringify(source)}: unterminated [${quote}…${quote}]`);
      segments.push({ kind: 'member', name: rest.slice(2, end) });
      rest = rest.slice(end + 2);
    } else {
      throw new Error(`${JSON.stringify(source)}: unexpected ${JSON.stringify(rest.slice(0, 10))} (paths use .name, [n], [*] and ['name'])`);
    }
  }
  return { source, segments };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Every value the path reaches in `root` (none when a step is missing). */
export function select(path: Path, root: unknown): unknown[] {
  let nodes: unknown[] = [root];
  for (const seg of path.segments) {
    const next: unknown[] = [];
    for (const n of nodes) {
      if (seg.kind === 'member') {
        if (isObject(n) && Object.hasOwn(n, seg.name) && n[seg.name] !== undefined) next.push(n[seg.name]);
      } else if (seg.kind === 'index') {
        if (Array.isArray(n) && seg.index < n.length) next.push(n[seg.index]);
      } else if (Array.isArray(n)) next.push(...n);
      else if (isObject(n)) next.push(...Object.values(n));
    }
    nodes = next;
  }
  return nodes;
}

/** The first value the path reaches, or undefined. */
export function selectOne(path: Path, root: unknown): unknown {
  return select(path, root)[0];
}

/**
 * The records a path designates: each object it reaches, and the elements of each array it
 * reaches (so `$.contacts` and `$.contacts[*]` both list the contacts). null reached counts as
 * no record; anything else (a string, a number) means the mapping does not fit the answer.
 */
export function selectRecords(path: Path, root: unknown): Record<string, unknown>[] | { misfit: string } {
  const out: Record<string, unknown>[] = [];
  for (const n of select(path, root)) {
    for (const item of Array.isArray(n) ? n : [n]) {
      if (item === null) continue;
      if (!isObject(item)) return { misfit: Array.isArray(item) ? 'an array' : typeof item };
      out.push(item);
    }
  }
  return out;
}

/** Scalars a path reaches in a record, as text (strings as is, numbers and booleans printed). */
export function selectText(path: Path, record: unknown): string[] {
  const out: string[] = [];
  for (const v of select(path, record)) {
    for (const x of Array.isArray(v) ? v : [v]) {
      if (typeof x === 'string') out.push(x);
      else if (typeof x === 'number' || typeof x === 'bigint' || typeof x === 'boolean') out.push(String(x));
    }
  }
  return out;
}
