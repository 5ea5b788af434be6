/**
 * GDPR Art. 12(3) deadlines as calendar dates in the controller's time zone.
 *
 * One month from receipt = the same day number in the next month, clamped to that month's last
 * day (31 Jan → 28/29 Feb). An extension counts from receipt too: at most two further months
 * (receipt + 3 months, same clamping). The deadline is the whole of the due day in the zone, so
 * `dueAt` is the last millisecond of that day. Pure functions; no Temporal (Node 20).
 */

export interface CalendarDate {
  year: number;
  month: number; // 1–12
  day: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    });
    formatters.set(timeZone, f);
  }
  return f;
}

function wallClock(ms: number, timeZone: string) {
  const parts: Record<string, number> = {};
  for (const p of formatter(timeZone).formatToParts(new Date(ms))) {
    if (p.type !== 'literal') parts[p.type] = Number(p.value);
  }
  return { year: parts.year!, month: parts.month!, day: parts.day!, hour: parts.hour!, minute: parts.minute!, second: parts.second! };
}

/** The calendar date of instant `ms` in `timeZone`. */
export function dateInZone(ms: number, timeZone: string): CalendarDate {
  const w = wallClock(ms, timeZone);
  return { year: w.year, month: w.month, day: w.day };
}

/** Offset of the zone from UTC at instant `ms`, in ms (Paris in winter: +3,600,000). */
function offsetAt(ms: number, timeZone: string): number {
  const w = wallClock(ms, timeZone);
  const asUtc = Date.UTC(w.year, w.month - 1, w.day, w.hour, w.minute, w.second);
  return asUtc - (ms - (ms % 1000 + 1000) % 1000);
}

/** The instant at which calendar day `d` starts in `timeZone`. */
export function startOfDay(d: CalendarDate, timeZone: string): number {
  const naive = Date.UTC(d.year, d.month - 1, d.day);
  // Two passes settle the offset around DST changes (midnight exists in European zones).
  let t = naive - offsetAt(naive, timeZone);
  t = naive - offsetAt(t, timeZone);
  return t;
}

export function daysInMonth(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

/** Same day number `months` later, clamped to that month's last day. */
export function addMonthsClamped(d: CalendarDate, months: number): CalendarDate {
  const index = d.year * 12 + (d.month - 1) + months;
  const year = Math.floor(index / 12);
  const month = (index % 12) + 1;
  return { year, month, day: Math.min(d.day, daysInMonth(year, month)) };
}

export function formatDate(d: CalendarDate): string {
  return `${String(d.year).padStart(4, '0')}-${String(d.month).padStart(2, '0')}-${String(d.day).padStart(2, '0')}`;
}

export function parseDate(s: string): CalendarDate {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(s);
  if (!m) throw new Error(`not a date: ${s}`);
  return { year: Number(m[1]), month: Number(m[2]), day: Number(m[3]) };
}

/** Due calendar date: receipt date (in the zone) + 1 + `extendedMonths` months, clamped. */
export function dueDate(receivedAt: number, timeZone: string, extendedMonths = 0): CalendarDate {
  return addMonthsClamped(dateInZone(receivedAt, timeZone), 1 + extendedMonths);
}

/** The last millisecond of the due day in the zone. */
export function dueAt(receivedAt: number, timeZone: string, extendedMonths = 0): number {
  const due = dueDate(receivedAt, timeZone, extendedMonths);
  return startOfDay(addDays(due, 1), timeZone) - 1;
}

function addDays(d: CalendarDate, n: number): CalendarDate {
  const t = new Date(Date.UTC(d.year, d.month - 1, d.day + n));
  return { year: t.getUTCFullYear(), month: t.getUTCMonth() + 1, day: t.getUTCDate() };
}

/** Longest extension allowed in total (Art. 12(3): two further months). */
export const MAX_EXTENSION_MONTHS = 2;
