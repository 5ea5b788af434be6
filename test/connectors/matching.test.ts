/** connectors/matching.ts: canonical forms and the written forms a lookup searches. */
import { describe, expect, it } from 'vitest';
import { canonical, foldedForms, formatted, phoneE164, phoneWrittenForms } from '../../connectors/matching.js';

describe('phone written forms', () => {
  it('a French number in every form of the issue, each read back as the same number', () => {
    const forms = phoneWrittenForms('+33612345678', 'FR');
    expect(forms).toEqual(
      expect.arrayContaining(['+33612345678', '06 12 34 56 78', '0612345678', '06.12.34.56.78', '06-12-34-56-78', '+33 6 12 34 56 78', '0033612345678']),
    );
    for (const f of forms) expect(phoneE164(f, 'FR'), f).toBe('+33612345678');
  });

  it('a number of another country gets no national forms: 0470 12 34 56 is French in a French silo', () => {
    const forms = phoneWrittenForms('+32470123456', 'FR');
    expect(forms).toEqual(expect.arrayContaining(['+32470123456', '+32 470 12 34 56', '0032470123456']));
    expect(forms.some((f) => f.startsWith('0470') || f.startsWith('470'))).toBe(false);
    expect(phoneE164('0470 12 34 56', 'FR')).toBe('+33470123456');
    // In a Belgian silo, it is the Belgian number.
    expect(phoneWrittenForms('+32470123456', 'BE')).toEqual(expect.arrayContaining(['0470 12 34 56', '0470123456']));
  });

  it('declared formats give one written form', () => {
    expect(formatted('e164', 'phone', '+33612345678', 'FR')).toBe('+33612345678');
    expect(formatted('national', 'phone', '+33612345678', 'FR')).toBe('06 12 34 56 78');
    expect(formatted('international', 'phone', '+33612345678', 'FR')).toBe('+33 6 12 34 56 78');
    // "National" for a foreign number would be another country's number: it stays international.
    expect(formatted('national', 'phone', '+32470123456', 'FR')).toBe('+32 470 12 34 56');
    expect(formatted('lowercase', 'casefold', 'Zoe@Example.com', 'FR')).toBe('zoe@example.com');
    expect(formatted('compact', 'compact', '2900 1234-5678.9', 'FR')).toBe('2900123456789');
  });
});

describe('canonical forms', () => {
  it('casefold ignores case, surrounding spaces and the Unicode composition; nothing else', () => {
    expect(canonical('casefold', '  Zoe.Erase@Example.COM ', 'FR')).toBe('zoe.erase@example.com');
    expect(canonical('casefold', 'Zoe\u0308@x.fr', 'FR')).toBe(canonical('casefold', 'ZOË@X.FR', 'FR'));
    expect(canonical('casefold', 'zoé@x.fr', 'FR')).not.toBe(canonical('casefold', 'zoe@x.fr', 'FR'));
    expect(canonical('casefold', 'zoe@x. fr', 'FR')).toBe('zoe@x. fr');
  });

  it('exact keeps the value, integers as text; non-scalars have no canonical form', () => {
    expect(canonical('exact', 4242, 'FR')).toBe('4242');
    expect(canonical('exact', ' 4242', 'FR')).toBe(' 4242');
    expect(canonical('trim', ' 4242 ', 'FR')).toBe('4242');
    expect(canonical('exact', null, 'FR')).toBeNull();
    expect(canonical('exact', { a: 1 }, 'FR')).toBeNull();
  });

  it("folded forms cover databases whose lower() folds ASCII only (SQLite, PostgreSQL's C locale)", () => {
    const forms = foldedForms('zoë@x.fr');
    expect(forms).toEqual(expect.arrayContaining(['zoë@x.fr', 'zoË@x.fr', 'zoe\u0308@x.fr']));
    expect(foldedForms('zoe@x.fr')).toEqual(['zoe@x.fr']);
    // Bounded: many accented letters give all-lower and all-upper only (×2 compositions).
    expect(foldedForms('éééééééé@x.fr').length).toBeLessThanOrEqual(4);
  });
});
