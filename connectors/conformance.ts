/**
 * The conformance suite every connector passes (vitest). It checks the contract in
 * connectors/types.ts against a real silo:
 *
 * - access finds a seeded person (following the connector's own discovered identities);
 * - a person who does not exist, or identity types the connector does not know, give empty
 *   results and no error;
 * - an aborted signal is honoured (rejects) and changes nothing;
 * - a dry run reports what erasure would do and changes nothing;
 * - without `ctx.callback` (every call here), access answers at once, never Pending;
 * - erase removes the person; access afterwards finds nothing but declared retained data;
 * - a second erase is harmless (nothing more deleted or masked);
 * - every collection searched is listed, with how it was searched (`matchedBy`), 0 records included;
 * - matching (when the subject gives a `matching` silo): the person is found, exported and erased
 *   however the silo wrote the identity — emails in any case and padding, phones in each written
 *   form, another country's number kept in its country, a customer id stored as text, a card
 *   number with spaces — while look-alikes (a number one digit off, an email differing after the
 *   `@`) are never touched; the erasure's dry run and its verification (an access) find exactly
 *   the records access finds (one matching for all three).
 * - attribution, where the connector reports it (`origins`, `matchedBy`, `weak`): one entry per
 *   record, naming only identities of the call, exactly as given.
 *
 * Usage, in a *.test.ts file — every connector faces both:
 *
 *   describeConnectorConformance('sql on sqlite', async () => ({
 *     connector, seedPerson: async () => [{ type: 'email', value: 'a@example.com' }],
 *   }));
 *   describeMatchingConformance('sql on sqlite', async () => ({
 *     connector, silo: { put: async (type, written) => …, remaining: async (type, written) => … },
 *   }));
 *
 * `setup` may resolve to `{ skip: 'reason' }` when the silo is unreachable; the tests then skip
 * with that reason (the caller decides whether unreachable is a failure instead).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AccessResult, Connector, ConnectorContext, ErasureResult, Identity } from './types.js';
import { isPending } from './types.js';

/**
 * A silo (or a part of one) where the suite writes people itself, to check matching. The
 * connector reads phone numbers without a country code as French (phone region FR).
 */
export interface MatchingSilo {
  /** Stores a new person whose `type` identity is written exactly `written`, as a user of the silo typed it. */
  put(type: string, written: string): Promise<void>;
  /** How many people the silo still holds whose `type` identity is written exactly `written` (byte for byte). */
  remaining(type: string, written: string): Promise<number>;
}

export interface MatchingCase {
  type: string;
  /** The normalised identity searched by (what the engine passes). */
  identity: string;
  what: string;
  /** Written forms that are this identity. */
  same: string[];
  /** Look-alikes that belong to someone else. */
  other: string[];
}

/** The cases every connector faces (issue 13), for the identity types it searches by. */
export const MATCHING_CASES: MatchingCase[] = [
  {
    type: 'email',
    identity: 'zoe.erase@example.com',
    what: 'an email in any case and with surrounding spaces',
    same: ['Zoe.Erase@Example.com', '  ZOE.ERASE@EXAMPLE.COM ', 'zoe.erase@example.com'],
    other: ['zoe.erase@example.org', 'zoe.erase@examp1e.com', 'zoe.erase@example.co', 'zoé.erase@example.com'],
  },
  {
    type: 'email',
    identity: 'zoë.müller@exemple.fr',
    what: 'an email with accented letters, upper case or decomposed (NFD)',
    same: ['ZOË.MÜLLER@EXEMPLE.FR', 'Zoë.Müller@Exemple.fr'],
    other: ['zoe.muller@exemple.fr'],
  },
  {
    type: 'phone',
    identity: '+33612345678',
    what: 'a French phone in each written form',
    same: ['+33612345678', '06 12 34 56 78', '0612345678', '06.12.34.56.78', '06-12-34-56-78', '+33 6 12 34 56 78', '0033612345678'],
    other: ['06 12 34 56 79', '+33 6 12 34 56 79', '0612345687'],
  },
  {
    type: 'phone',
    identity: '+32470123456',
    what: 'a Belgian phone stays Belgian',
    same: ['+32 470 12 34 56', '0032470123456', '+32470123456'],
    other: ['0470 12 34 56', '+32 470 12 34 57'],
  },
  {
    type: 'phone',
    identity: '+33470123456',
    what: 'a French national number is not the Belgian one with the same digits',
    same: ['04 70 12 34 56'],
    other: ['+32 470 12 34 56'],
  },
  {
    type: 'customer_id',
    identity: '4242',
    what: 'a customer id stored as text',
    same: ['4242'],
    other: ['42420', '4243', '424'],
  },
  {
    type: 'loyalty_card',
    identity: '2900123456789',
    what: 'a loyalty card number with spaces or dashes',
    same: ['2900 1234 5678 9', '2900-1234-5678-9', '2900123456789'],
    other: ['2900 1234 5678 8', '290012345678'],
  },
];

export interface ConformanceSubject {
  connector: Connector;
  /** Puts a known person in the silo (or names one already there); returns identities to search by. */
  seedPerson(): Promise<Identity[]>;
  /** Identities of a person the silo does not hold (default: unlikely email/phone/customer_id). */
  absentPerson?: Identity[];
  /** Identity types the engine would discover here (e.g. ['customer_id']); checked when given. */
  expectDiscovered?: string[];
  /** Called after the suite (drop the database, close pools). The connector is closed too. */
  teardown?(): Promise<void>;
}

export type ConformanceSetup = () => Promise<ConformanceSubject | { skip: string }>;

export function conformanceContext(opts: { dryRun?: boolean; signal?: AbortSignal } = {}): ConnectorContext {
  return {
    signal: opts.signal ?? new AbortController().signal,
    requestId: 'req_conformance',
    dryRun: opts.dryRun ?? false,
    log: { debug() {}, info() {}, warn() {}, error() {} },
  };
}

/**
 * An access call without `ctx.callback` (as every call of this suite): the connector answers
 * now — a Pending here breaks the contract.
 */
async function accessNow(connector: Connector, who: Identity[], ctx: ConnectorContext): Promise<AccessResult> {
  const r = await connector.access(who, ctx);
  expect(isPending(r), 'access without a callback answers synchronously, never Pending').toBe(false);
  return r as AccessResult;
}

const total = (r: AccessResult) => r.collections.reduce((n, c) => n + c.records.length, 0);

/** Access, then again with whatever the connector discovered that it can itself search by. */
async function expandWithin(connector: Connector, start: Identity[]): Promise<{ who: Identity[]; result: AccessResult; discoveredTypes: Set<string> }> {
  const who = [...start];
  const discoveredTypes = new Set<string>();
  let result = await accessNow(connector, who, conformanceContext());
  for (let round = 0; round < 5; round++) {
    let added = false;
    for (const d of result.discovered) {
      discoveredTypes.add(d.type);
      if (!connector.lookupBy.includes(d.type)) continue;
      if (who.some((w) => w.type === d.type && w.value === d.value)) continue;
      who.push({ type: d.type, value: d.value });
      added = true;
    }
    if (!added) break;
    result = await accessNow(connector, who, conformanceContext());
  }
  return { who, result, discoveredTypes };
}

function assertErasureShape(r: ErasureResult) {
  expect(Array.isArray(r.collections)).toBe(true);
  for (const c of r.collections) {
    expect(typeof c.name).toBe('string');
    for (const k of ['deleted', 'masked', 'retained'] as const) {
      expect(Number.isInteger(c[k]) && c[k] >= 0, `${c.name}.${k} is a non-negative integer`).toBe(true);
    }
    if (c.retained > 0) expect(c.retainedBecause, `${c.name}: retained data states its legal basis`).toBeTruthy();
  }
}

const same = (a: Identity, b: Identity) => a.type === b.type && a.value === b.value;

/** Attribution, where reported, names only identities of the call (`who`), exactly as given. */
function assertAttribution(r: AccessResult, who: Identity[]) {
  for (const c of r.collections) {
    if (c.origins === undefined) continue;
    expect(c.origins, `${c.name}.origins: one entry per record`).toHaveLength(c.records.length);
    for (const o of c.origins) for (const i of o) expect(who.some((w) => same(w, i)), `${c.name}.origins names ${i.type}, which the call did not search by`).toBe(true);
  }
  for (const d of r.discovered) {
    if (d.weak !== undefined) expect(typeof d.weak).toBe('boolean');
    for (const i of d.matchedBy ?? []) expect(who.some((w) => same(w, i)), `matchedBy of a discovered ${d.type} names an identity the call did not search by`).toBe(true);
  }
}

function assertJsonSafe(r: AccessResult) {
  // Records must survive a JSON round trip unchanged (no Date, bigint, Buffer, undefined).
  expect(JSON.parse(JSON.stringify(r.collections))).toEqual(r.collections);
}

export function describeConnectorConformance(name: string, setup: ConformanceSetup) {
  describe(`connector conformance: ${name}`, () => {
    let subject: ConformanceSubject | null = null;
    let skipReason = '';
    let who: Identity[] = [];
    let before: AccessResult;
    let erased: ErasureResult;

    beforeAll(async () => {
      const s = await setup();
      if ('skip' in s) {
        skipReason = s.skip;
        return;
      }
      subject = s;
      await subject.connector.init?.();
      const seeded = await subject.seedPerson();
      const expanded = await expandWithin(subject.connector, seeded);
      who = expanded.who;
      before = expanded.result;
      if (subject.expectDiscovered) for (const t of subject.expectDiscovered) expect(expanded.discoveredTypes.has(t), `discovers ${t}`).toBe(true);
    });

    afterAll(async () => {
      if (!subject) return;
      await subject.connector.close?.();
      await subject.teardown?.();
    });

    const test = (title: string, fn: (s: ConformanceSubject) => Promise<void>) =>
      it(title, async (ctx) => {
        if (!subject) return ctx.skip(skipReason || 'setup failed');
        await fn(subject);
      });

    test('declares an id, a title, lookup types and capabilities', async ({ connector }) => {
      expect(connector.id).toMatch(/^[a-z0-9_-]+$/);
      expect(connector.title.length).toBeGreaterThan(0);
      expect(connector.lookupBy.length).toBeGreaterThan(0);
      expect(typeof connector.capabilities.access).toBe('boolean');
      expect(typeof connector.capabilities.erasure).toBe('boolean');
    });

    test('access finds the seeded person, as plain JSON, and says how per collection', async () => {
      expect(total(before)).toBeGreaterThan(0);
      assertJsonSafe(before);
      for (const c of before.collections) {
        expect(Array.isArray(c.matchedBy), `${c.name}.matchedBy`).toBe(true);
        for (const m of c.matchedBy!) {
          expect(typeof m.column).toBe('string');
          expect(typeof m.normalization).toBe('string');
          expect(Number.isInteger(m.records) && m.records >= 0).toBe(true);
          expect(m.records).toBeLessThanOrEqual(c.records.length);
        }
        if (c.records.length > 0) expect(c.matchedBy!.some((m) => m.records > 0), `${c.name}: the criterion that found its records`).toBe(true);
      }
      for (const d of before.discovered) {
        expect(typeof d.type).toBe('string');
        expect(typeof d.value).toBe('string');
      }
    });

    test('attribution, where reported, names only the identities of the call, one entry per record', async ({ connector }) => {
      assertAttribution(before, who);
      // Searched by one identity alone, a record can only have been led to by it.
      const one = who.filter((w) => connector.lookupBy.includes(w.type)).slice(0, 1);
      const alone = await accessNow(connector, one, conformanceContext());
      assertAttribution(alone, one);
    });

    test('a person the silo does not hold gives empty results, not an error', async ({ connector }) => {
      const absent = subject!.absentPerson ?? [
        { type: 'email', value: 'nobody.at.all.4242@absent.example' },
        { type: 'phone', value: '+33699999998' },
        { type: 'customer_id', value: '987654321' },
        { type: 'loyalty_card', value: '0000000000000' },
      ];
      const r = await accessNow(connector, absent, conformanceContext());
      expect(total(r)).toBe(0);
      expect(r.discovered).toEqual([]);
      // "Nothing here" is said plainly: every collection is listed, with how it was searched.
      expect(r.collections.map((c) => c.name)).toEqual(before.collections.map((c) => c.name));
      for (const c of r.collections) {
        expect(Array.isArray(c.matchedBy), `${c.name}.matchedBy`).toBe(true);
        for (const m of c.matchedBy!) expect(m.records).toBe(0);
      }
      expect(r.collections.some((c) => c.matchedBy!.some((m) => m.identity !== undefined)), 'at least one collection was searched by an identity').toBe(true);
      if (connector.capabilities.erasure) {
        const e = await connector.erase(absent, conformanceContext());
        if (!isPending(e)) for (const c of e.collections) expect([c.deleted, c.masked, c.retained]).toEqual([0, 0, 0]);
      }
    });

    test('identity types it does not search by are ignored', async ({ connector }) => {
      const r = await accessNow(connector, [{ type: 'zz_unknown_type', value: 'anything' }], conformanceContext());
      expect(total(r)).toBe(0);
      const mixed = await accessNow(connector, [{ type: 'zz_unknown_type', value: 'anything' }, ...who], conformanceContext());
      expect(total(mixed)).toBe(total(before));
    });

    test('an aborted signal is honoured and changes nothing', async ({ connector }) => {
      const ac = new AbortController();
      ac.abort(new Error('test abort'));
      await expect(Promise.resolve().then(() => connector.access(who, conformanceContext({ signal: ac.signal })))).rejects.toBeTruthy();
      if (connector.capabilities.erasure) {
        await expect(connector.erase(who, conformanceContext({ signal: ac.signal }))).rejects.toBeTruthy();
      }
      const after = await accessNow(connector, who, conformanceContext());
      expect(after.collections).toEqual(before.collections);
    });

    test('a dry run reports what would be erased and changes nothing', async ({ connector }) => {
      if (!connector.capabilities.erasure) return;
      const preview = await connector.erase(who, conformanceContext({ dryRun: true }));
      if (isPending(preview)) return;
      assertErasureShape(preview);
      const touched = preview.collections.reduce((n, c) => n + c.deleted + c.masked + c.retained, 0);
      expect(touched).toBeGreaterThan(0);
      const after = await accessNow(connector, who, conformanceContext());
      expect(after.collections).toEqual(before.collections);
    });

    test('erase removes the person; only declared retained data remains', async ({ connector }) => {
      if (!connector.capabilities.erasure) return;
      const r = await connector.erase(who, conformanceContext());
      if (isPending(r)) return;
      assertErasureShape(r);
      erased = r;
      expect(r.collections.reduce((n, c) => n + c.deleted + c.masked, 0)).toBeGreaterThan(0);
      const after = await accessNow(connector, who, conformanceContext());
      for (const c of after.collections) {
        if (c.records.length === 0) continue;
        const declared = r.collections.find((x) => x.name === c.name);
        expect(declared?.retained ?? 0, `${c.name}: records left after erasure must be declared retained`).toBeGreaterThanOrEqual(c.records.length);
      }
    });

    test('a second erase is harmless: nothing more deleted or masked', async ({ connector }) => {
      if (!connector.capabilities.erasure || !erased) return;
      const again = await connector.erase(who, conformanceContext());
      if (isPending(again)) return;
      assertErasureShape(again);
      for (const c of again.collections) {
        expect(c.deleted, `${c.name}.deleted`).toBe(0);
        expect(c.masked, `${c.name}.masked`).toBe(0);
        const first = erased.collections.find((x) => x.name === c.name);
        expect(c.retained, `${c.name}.retained`).toBe(first?.retained ?? 0);
      }
    });
  });
}

export interface MatchingSubject {
  connector: Connector;
  silo: MatchingSilo;
  /** Called after the suite; the connector is closed too. */
  teardown?(): Promise<void>;
}

export type MatchingSetup = () => Promise<MatchingSubject | { skip: string }>;

/**
 * The matching cases (MATCHING_CASES) against one silo: for each written form, access finds the
 * person, the erasure's dry run and its verification agree with access, the erasure removes
 * exactly that record from the silo; look-alikes stay.
 */
export function describeMatchingConformance(name: string, setup: MatchingSetup) {
  describe(`connector matching: ${name}`, () => {
    let subject: MatchingSubject | null = null;
    let skipReason = '';
    beforeAll(async () => {
      const s = await setup();
      if ('skip' in s) {
        skipReason = s.skip;
        return;
      }
      subject = s;
      await s.connector.init?.();
    });
    afterAll(async () => {
      if (!subject) return;
      await subject.connector.close?.();
      await subject.teardown?.();
    });

    for (const c of MATCHING_CASES) {
      it(`${c.what}: ${c.type} ${c.identity}`, async (ctx) => {
        if (!subject) return ctx.skip(skipReason || 'setup failed');
        const { connector, silo } = subject;
        if (!connector.lookupBy.includes(c.type)) return ctx.skip(`${connector.id} does not search by ${c.type}`);
        const who = [{ type: c.type, value: c.identity }];
        // What earlier cases left in the silo may be this identity (the Belgian case's
        // look-alike `0470 12 34 56` is, in a French silo, +33470123456): a silo that finds it
        // is right. Look-alikes are judged against that baseline.
        const leftover = total(await accessNow(connector, who, conformanceContext()));
        for (const o of c.other) await silo.put(c.type, o);
        expect(total(await accessNow(connector, who, conformanceContext())), 'look-alikes alone are not found').toBe(leftover);
        for (const w of c.same) {
          const as = JSON.stringify(w);
          await silo.put(c.type, w);
          const found = await accessNow(connector, who, conformanceContext());
          expect(total(found), `found when the silo wrote ${as}`).toBeGreaterThan(0);
          expect(JSON.stringify(found.collections), `the export holds the value as the silo wrote it (${as})`).toContain(JSON.stringify(w).slice(1, -1));
          if (!connector.capabilities.erasure) continue;
          const preview = await connector.erase(who, conformanceContext({ dryRun: true }));
          if (isPending(preview)) continue;
          for (const col of found.collections) {
            const p = preview.collections.find((x) => x.name === col.name);
            expect(Math.max(p?.deleted ?? 0, p?.masked ?? 0, p?.retained ?? 0), `${col.name}: the dry run touches what access found (${as})`).toBe(col.records.length);
          }
          const erased = await connector.erase(who, conformanceContext());
          if (isPending(erased)) continue;
          expect(await silo.remaining(c.type, w), `the record written ${as} is gone`).toBe(0);
          const verification = await accessNow(connector, who, conformanceContext());
          for (const col of verification.collections) {
            const kept = erased.collections.find((x) => x.name === col.name)?.retained ?? 0;
            expect(col.records.length, `${col.name}: the verification finds nothing left but retained records (${as})`).toBeLessThanOrEqual(kept);
          }
        }
        for (const o of c.other) expect(await silo.remaining(c.type, o), `the look-alike ${JSON.stringify(o)} is untouched`).toBe(1);
      });
    }
  });
}
