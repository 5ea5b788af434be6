import { describe, expect, it } from 'vitest';
import { dateInZone, dueAt, dueDate, formatDate, parseDate, startOfDay } from '../../src/requests/deadlines.js';
import { readJsonFixture } from '../helpers/fixtures.js';

const vectors = readJsonFixture<{
  cases: { received: string; due: string; dueExtendedBy1: string; dueExtendedBy2: string }[];
}>('conformance/gdpr-deadlines.json');

const TZ = 'Europe/Paris';

describe('GDPR deadlines (shared conformance vectors)', () => {
  it('has cases', () => expect(vectors.cases.length).toBeGreaterThan(10));
  for (const c of vectors.cases) {
    // Received at three moments of the day, local time: just after midnight, noon, just before midnight.
    for (const [label, offsetMs] of [
      ['00:00:01', 1000],
      ['12:00', 12 * 3600_000],
      ['23:59:59', 24 * 3600_000 - 1000],
    ] as const) {
      it(`received ${c.received} ${label} Paris → due ${c.due}, +1 ${c.dueExtendedBy1}, +2 ${c.dueExtendedBy2}`, () => {
        const received = startOfDay(parseDate(c.received), TZ) + offsetMs;
        expect(formatDate(dateInZone(received, TZ))).toBe(c.received);
        expect(formatDate(dueDate(received, TZ))).toBe(c.due);
        expect(formatDate(dueDate(received, TZ, 1))).toBe(c.dueExtendedBy1);
        expect(formatDate(dueDate(received, TZ, 2))).toBe(c.dueExtendedBy2);
        // dueAt is the last millisecond of the due day in Paris.
        for (const [months, expected] of [[0, c.due], [1, c.dueExtendedBy1], [2, c.dueExtendedBy2]] as const) {
          const at = dueAt(received, TZ, months);
          expect(formatDate(dateInZone(at, TZ))).toBe(expected);
          expect(formatDate(dateInZone(at + 1, TZ))).not.toBe(expected);
        }
      });
    }
  }

  it('uses the controller time zone, not UTC: 23:30 UTC on 31 Jan is 1 Feb in Paris', () => {
    const received = Date.parse('2026-01-31T23:30:00Z');
    expect(formatDate(dueDate(received, TZ))).toBe('2026-03-01');
    expect(formatDate(dueDate(received, 'UTC'))).toBe('2026-02-28');
  });

  it('end of day across a DST change (due 29 Mar 2026, clocks go forward that night in Paris)', () => {
    const received = Date.parse('2026-02-28T10:00:00Z');
    expect(new Date(dueAt(received, TZ)).toISOString()).toBe('2026-03-28T22:59:59.999Z');
    const r2 = Date.parse('2026-02-28T10:00:00Z');
    expect(new Date(dueAt(r2, TZ, 1)).toISOString()).toBe('2026-04-28T21:59:59.999Z');
  });
});
