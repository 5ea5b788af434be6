/**
 * How a person's identity is compared with what a silo holds, for every connector: silos keep
 * what people and agents typed (`Zoe.Erase@Example.com `, `06 12 34 56 78`), oubli searches by
 * normalised identities (`zoe.erase@example.com`, `+33612345678`).
 *
 * Two separate questions, answered here without any SQL:
 * - **Is this written value the person's identity?** — a *normaliser* (`casefold`, `phone`,
 *   `compact`, `trim`, `exact`) maps both sides to one canonical form; equal forms match. This
 *   is the final word for access and erasure alike, so both see the same records.
 * - **Which written values to look for?** — the *written forms* of an identity (the phone's
 *   E.164, national and international spellings), or the one form a silo declares it always
 *   writes (`format: 'e164'`), so that a lookup can use the silo's plain index.
 *
 * Invariant: every written form produced for an identity is accepted by its normaliser (a
 * lookup never finds a record the normaliser would then reject as another person, and a record
 * the normaliser accepts is found whenever the silo writes it in one of the forms).
 */
import { getCountryCallingCode, parsePhoneNumberFromString, type CountryCode } from 'libphonenumber-js';

export const NORMALIZERS = ['casefold', 'phone', 'compact', 'trim', 'exact'] as const;
/**
 * - `casefold`: surrounding spaces and letter case ignored, Unicode NFC (emails).
 * - `phone`: the same number however written — E.164, national for the region, international
 *   with spaces, dots, dashes or `00`; numbers of other countries keep their country.
 * - `compact`: spaces, hyphens, dots and letter case ignored (card numbers, codes).
 * - `trim`: surrounding spaces ignored.
 * - `exact`: the value as it is (integers compared as numbers).
 */
export type Normalizer = (typeof NORMALIZERS)[number];

export const FORMATS = ['exact', 'lowercase', 'e164', 'national', 'international', 'compact'] as const;
/**
 * How a silo always writes a value, when it knows: the lookup then searches that one form.
 * `exact` is the canonical form of the column's normaliser (lower-case email, E.164 phone,
 * compact card number); the others name a form explicitly.
 */
export type Format = (typeof FORMATS)[number];

/** Formats each normaliser can declare (`exact` always: the normaliser's canonical form). */
export const FORMATS_OF: Record<Normalizer, readonly Format[]> = {
  casefold: ['exact', 'lowercase'],
  phone: ['exact', 'e164', 'national', 'international'],
  compact: ['exact', 'compact'],
  trim: ['exact'],
  exact: ['exact'],
};

/** The normaliser used when a column declares none. */
export function defaultNormalizer(identityType: string): Normalizer {
  switch (identityType) {
    case 'email':
      return 'casefold';
    case 'phone':
      return 'phone';
    case 'loyalty_card':
      return 'compact';
    default:
      return 'exact';
  }
}

/** Only U+0020, as SQL's `trim()` does in SQLite, PostgreSQL and MySQL: both sides agree. */
export function trimSpaces(s: string): string {
  return s.replace(/^ +| +$/g, '');
}

export function casefold(s: string): string {
  return trimSpaces(s).normalize('NFC').toLowerCase();
}

export function compact(s: string): string {
  return s.replace(/[ .-]/g, '').normalize('NFC').toLowerCase();
}

/** E.164 of a written phone number (read in `region` when it has no country code), or null. */
export function phoneE164(written: string, region: CountryCode): string | null {
  const p = parsePhoneNumberFromString(trimSpaces(written), region);
  return p ? p.number : null;
}

/** Scalar values as the text a person would read (integers, bigints, strings). */
function text(v: unknown): string | null {
  if (v === null || v === undefined) return null;
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'bigint') return String(v);
  return null;
}

/** The canonical form of a written value under a normaliser, or null when it has none. */
export function canonical(normalizer: Normalizer, value: unknown, region: CountryCode): string | null {
  const s = text(value);
  if (s === null) return null;
  switch (normalizer) {
    case 'casefold':
      return casefold(s);
    case 'phone':
      return phoneE164(s, region);
    case 'compact':
      return compact(s);
    case 'trim':
      return trimSpaces(s);
    case 'exact':
      return s;
  }
}

/**
 * The spellings of one phone number people and tools write, all read back as the same E.164
 * number: E.164; international with spaces, dots or dashes; with the `00` prefix; and, for a
 * number of the region (same country calling code), its national form with spaces, dots,
 * dashes or none (`06 12 34 56 78`, `0612345678`…). A number of another country gets no
 * national forms: `0470 12 34 56` in a French silo is a French number, not the Belgian +32 470….
 */
export function phoneWrittenForms(e164: string, region: CountryCode): string[] {
  const p = parsePhoneNumberFromString(e164, region);
  if (!p) return [e164];
  const out = new Set<string>([p.number]);
  const groups = (s: string) => s.match(/\d+/g) ?? [];
  const intl = groups(p.formatInternational());
  for (const sep of [' ', '.', '-']) out.add(`+${intl.join(sep)}`);
  const digits = `${p.countryCallingCode}${p.nationalNumber}`;
  out.add(`00${digits}`);
  out.add(`00${intl.join(' ')}`);
  out.add(`00 ${intl.join(' ')}`);
  if (p.countryCallingCode === getCountryCallingCode(region)) {
    const national = p.formatNational();
    const nat = groups(national);
    out.add(national);
    for (const sep of [' ', '.', '-', '']) out.add(nat.join(sep));
  }
  // Keep the invariant: every form reads back as this very number.
  return [...out].filter((w) => phoneE164(w, region) === p.number);
}

/** The one form a silo declaring `format` writes for this identity. */
export function formatted(format: Format, normalizer: Normalizer, value: string, region: CountryCode): string | null {
  const canon = canonical(normalizer, value, region);
  if (canon === null) return null;
  switch (format) {
    case 'exact':
    case 'e164':
    case 'lowercase':
    case 'compact':
      return canon;
    case 'national':
    case 'international': {
      const p = parsePhoneNumberFromString(canon, region);
      if (!p) return null;
      const local = p.countryCallingCode === getCountryCallingCode(region);
      return format === 'national' && local ? p.formatNational() : p.formatInternational();
    }
  }
}

/** Non-ASCII letters whose upper case is one character: those a database may not fold. */
const MAX_FOLD_POSITIONS = 4;

/**
 * What a database's `lower()` may return for the written values that casefold to `canon`:
 * `canon` itself (a Unicode-aware lower), and — because SQLite's `lower()` and PostgreSQL's in
 * a "C" locale fold ASCII only — `canon` with its non-ASCII letters in upper case, each form in
 * NFC and NFD. Bounded: beyond a few such letters, only all-lower and all-upper are listed.
 */
export function foldedForms(canon: string): string[] {
  const chars = [...canon];
  const positions = chars.flatMap((c, i) => (c > '\u007f' && c.toUpperCase() !== c && [...c.toUpperCase()].length === 1 ? [i] : []));
  const masks: number[] = [];
  if (positions.length <= MAX_FOLD_POSITIONS) for (let m = 0; m < 1 << positions.length; m++) masks.push(m);
  else masks.push(0, -1);
  const out = new Set<string>();
  for (const m of masks) {
    const cs = [...chars];
    positions.forEach((pos, k) => {
      if (m === -1 || m & (1 << k)) cs[pos] = cs[pos]!.toUpperCase();
    });
    const s = cs.join('');
    out.add(s.normalize('NFC'));
    out.add(s.normalize('NFD'));
  }
  return [...out];
}
