/**
 * RFC 8785 (JCS) serialisation of audit entries, fast. The `canonicalize` package is the
 * reference, but at ~7 µs an entry it was the largest cost of appending; this walks plain JSON
 * data with sorted keys and JSON.stringify for scalars (ES number forms and JCS string escapes
 * are what JSON.stringify writes), and hands anything unusual — toJSON, symbols, undefined in
 * arrays, non-finite numbers, lone surrogates, very deep or circular data — to the reference,
 * which produces or rejects it exactly as before.
 */
import canonicalize from 'canonicalize';

const SURROGATE = /[\uD800-\uDFFF]/;
const UNUSUAL = Symbol('unusual');

function walk(v: unknown, depth: number): string | typeof UNUSUAL {
  switch (typeof v) {
    case 'string':
      return SURROGATE.test(v) ? UNUSUAL : JSON.stringify(v);
    case 'number':
      return Number.isFinite(v) ? JSON.stringify(v) : UNUSUAL;
    case 'boolean':
      return v ? 'true' : 'false';
    case 'object': {
      if (v === null) return 'null';
      if (depth > 32) return UNUSUAL;
      if (Array.isArray(v)) {
        let out = '[';
        for (let i = 0; i < v.length; i++) {
          const item = v[i];
          if (item === undefined) return UNUSUAL;
          const s = walk(item, depth + 1);
          if (s === UNUSUAL) return UNUSUAL;
          out += i === 0 ? s : `,${s}`;
        }
        return `${out}]`;
      }
      if (typeof (v as { toJSON?: unknown }).toJSON === 'function') return UNUSUAL;
      const keys = Object.keys(v).sort();
      let out = '{';
      let first = true;
      for (const k of keys) {
        const item = (v as Record<string, unknown>)[k];
        if (item === undefined) continue;
        if (SURROGATE.test(k)) return UNUSUAL;
        const s = walk(item, depth + 1);
        if (s === UNUSUAL) return UNUSUAL;
        out += `${first ? '' : ','}${JSON.stringify(k)}:${s}`;
        first = false;
      }
      return `${out}}`;
    }
    default:
      return UNUSUAL; // undefined at top level, symbol, function, bigint
  }
}

/** RFC 8785 text of `value`; throws where `canonicalize` throws. */
export function canonicalJson(value: unknown): string {
  const fast = walk(value, 0);
  if (fast !== UNUSUAL) return fast;
  const out = canonicalize(value);
  if (out === undefined) throw new Error('value is not serialisable');
  return out;
}
