/** The fast RFC 8785 serialiser agrees with the `canonicalize` reference, value for value. */
import { describe, expect, it } from 'vitest';
import canonicalize from 'canonicalize';
import { canonicalJson } from '../../src/audit/canonical.js';

function rng(seed: number) {
  return () => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed / 0x7fffffff;
  };
}
const STRINGS = ['', 'a', 'é', '€', '😀', 'line\nbreak', 'tab\t', 'quote"', 'back\\slash', '\u0000\u001f\u007f', '\u2028\u2029', 'Z', 'aa', 'B', '10', '1', '\ud83d\ude00x'];
const NUMBERS = [0, -0, 1, -1, 0.1, 1e21, 1e-7, 123456789012345680000, 5e-324, 1.7976931348623157e308, 2 ** 53, -2.5, 333333333.3333333];

function value(r: () => number, depth: number): unknown {
  const k = Math.floor(r() * (depth > 3 ? 4 : 7));
  switch (k) {
    case 0: return STRINGS[Math.floor(r() * STRINGS.length)];
    case 1: return NUMBERS[Math.floor(r() * NUMBERS.length)];
    case 2: return r() < 0.5;
    case 3: return null;
    case 4: return Array.from({ length: Math.floor(r() * 4) }, () => value(r, depth + 1));
    default: {
      const o: Record<string, unknown> = {};
      for (let i = Math.floor(r() * 5); i > 0; i--) o[STRINGS[Math.floor(r() * STRINGS.length)]! + (r() < 0.3 ? 'x' : '')] = r() < 0.1 ? undefined : value(r, depth + 1);
      return o;
    }
  }
}

describe('canonicalJson', () => {
  it('matches canonicalize on 5,000 random JSON values', () => {
    const r = rng(42);
    for (let i = 0; i < 5000; i++) {
      const v = value(r, 0);
      expect(canonicalJson(v)).toBe(canonicalize(v));
    }
  });

  it('matches canonicalize on the unusual cases it hands over, including errors', () => {
    const date = new Date(0);
    for (const v of [{ d: date }, [1, undefined, 2], { s: Symbol('x') as unknown }, { a: { toJSON: () => ({ z: 1, a: 2 }) } }]) {
      expect(canonicalJson(v)).toBe(canonicalize(v));
    }
    for (const bad of [{ n: NaN }, { n: Infinity }, { s: '\ud800' }, ['\udc00']]) {
      expect(() => canonicalize(bad)).toThrow();
      expect(() => canonicalJson(bad)).toThrow();
    }
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    expect(() => canonicalJson(circular)).toThrow(/Circular/);
  });

  it('sorts keys by UTF-16 code units, as RFC 8785 §3.2.3 asks', () => {
    expect(canonicalJson({ '\u20ac': 1, '\r': 2, '\ufb33': 3, '1': 4, '\ud83d\ude00': 5, '\u0080': 6, '\u00f6': 7 })).toBe(
      '{"\\r":2,"1":4,"\u0080":6,"\u00f6":7,"\u20ac":1,"\ud83d\ude00":5,"\ufb33":3}',
    );
  });
});
