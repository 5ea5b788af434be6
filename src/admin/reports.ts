/**
 * The DPO's reports: what became of the requests received in a period, per type and channel
 * (on time, late, extended, refused by Art. 12(4) ground, median and 90th-percentile days to
 * complete), the verification funnel, and consent per purpose (the last 90 days, current totals,
 * the share of refusals a Global Privacy Control signal made). The annual accountability report
 * is the same figures for one calendar year.
 *
 * A period is calendar dates in the controller's time zone, both included; a request belongs to
 * the period it was received in, and is counted there with its outcome as of now. The period
 * comes from the page's query string, validated here (an unknown or malformed parameter is a
 * 400, never silently ignored).
 *
 * Counts are grouped SQL in the store; percentiles are computed here from a histogram of the
 * completed requests' durations in tenths of a day, the precision shown (neither store has a
 * portable SQL percentile). Percentiles are nearest-rank: the smallest duration with at least
 * p% of the requests at or below it.
 */
import { z } from 'zod';
import type { Ctx } from '../deps.js';
import { CHANNELS, REQUEST_TYPES, type Channel, type RequestType } from '../db/schema/requests.js';
import type { Localized } from '../db/schema/purposes.js';
import { ValidationError } from '../errors.js';
import { DENIAL_REASONS, type DenialReason } from '../requests/duties.js';
import { addMonthsClamped, dateInZone, daysInMonth, formatDate, startOfDay, type CalendarDate } from '../requests/deadlines.js';
import { consentStats, type PurposeStats } from '../consent/stats.js';

const DAY = 86_400_000;
/** The longest period a report covers (ten years and a leap day or three). */
export const MAX_PERIOD_DAYS = 3_660;

const isoDate = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}$/)
  .refine((s) => {
    const [y, m, d] = s.split('-').map(Number) as [number, number, number];
    return y >= 1970 && m >= 1 && m <= 12 && d >= 1 && d <= daysInMonth(y, m);
  }, 'not a calendar date');

const Query = z
  .object({
    from: isoDate.optional(),
    to: isoDate.optional(),
    year: z
      .string()
      .regex(/^\d{4}$/)
      .refine((s) => Number(s) >= 1970, 'before 1970')
      .optional(),
  })
  .strict();

export interface ReportPeriod {
  /** First and last calendar day, both included (YYYY-MM-DD, the controller's time zone). */
  from: string;
  to: string;
  /** The period as instants: [start, end). */
  start: number;
  end: number;
  /** Set when the period is one calendar year (the annual report). */
  year?: number;
}

const toDate = (s: string): CalendarDate => {
  const [year, month, day] = s.split('-').map(Number) as [number, number, number];
  return { year, month, day };
};

function addDays(d: CalendarDate, n: number): CalendarDate {
  const t = new Date(Date.UTC(d.year, d.month - 1, d.day + n));
  return { year: t.getUTCFullYear(), month: t.getUTCMonth() + 1, day: t.getUTCDate() };
}

/**
 * The period of a report page's query string: `year=YYYY`, or `from` / `to` (either may be left
 * out: `to` defaults to today, `from` to twelve months before `to`); by default the last 12
 * months, today included. A ValidationError names what is wrong.
 */
export function parseReportQuery(query: Record<string, string>, now: number, timeZone: string): ReportPeriod {
  // An empty field of the period form means "the default".
  const given = Object.fromEntries(Object.entries(query).filter(([, v]) => v !== ''));
  const parsed = Query.safeParse(given);
  const invalid = (what: string) => new ValidationError('INVALID_PERIOD', `invalid report period: ${what}`);
  if (!parsed.success) throw invalid(parsed.error.issues.map((i) => i.path.join('.') || 'query').join(', '));
  const q = parsed.data;
  if (q.year && (q.from || q.to)) throw invalid('year, with from or to');
  let from: CalendarDate;
  let to: CalendarDate;
  if (q.year) {
    from = { year: Number(q.year), month: 1, day: 1 };
    to = { year: Number(q.year), month: 12, day: 31 };
  } else {
    to = q.to ? toDate(q.to) : dateInZone(now, timeZone);
    from = q.from ? toDate(q.from) : addDays(addMonthsClamped(to, -12), 1);
  }
  const start = startOfDay(from, timeZone);
  const end = startOfDay(addDays(to, 1), timeZone);
  if (end <= start) throw invalid('from is after to');
  if (end - start > MAX_PERIOD_DAYS * DAY + DAY) throw invalid(`longer than ${MAX_PERIOD_DAYS} days`);
  return { from: formatDate(from), to: formatDate(to), start, end, ...(q.year ? { year: Number(q.year) } : {}) };
}

/** One row of the outcomes table: a (type, channel), a type's total (`channel: 'all'`), or the grand total. */
export interface OutcomeRow {
  type: RequestType | 'all';
  channel: Channel | 'all';
  received: number;
  onTime: number;
  late: number;
  extended: number;
  /** Refused, in all and per Art. 12(4) ground (a code the catalogue does not know counts as `other`). */
  denied: number;
  deniedBy: Record<DenialReason, number>;
  /** Days from receipt to completion, over the completed requests; null when none completed. */
  medianDays: number | null;
  p90Days: number | null;
}

/** The verification funnel of the requests opened in the period. */
export interface Funnel {
  opened: number;
  /** Verified when opened (a signed-in person, an agent) or later. */
  verified: number;
  /** Still waiting for the person to prove who they are. */
  pending: number;
  /** Never verified, expired at their deadline. */
  abandoned: number;
  /** Closed unverified otherwise (denied or cancelled before verification). */
  closedUnverified: number;
}

export interface ConsentReport extends PurposeStats {
  title: Localized;
  gpcApplies: boolean;
  /** Refusals recorded over the chart's 90 days, and how many a GPC signal made. */
  refusals: { refused: number; gpc: number };
}

export interface Report {
  period: ReportPeriod;
  /** When the figures were computed (outcomes are as of then). */
  at: number;
  rows: OutcomeRow[];
  funnel: Funnel;
  consent: { from: string; to: string; subjects: number; purposes: ConsentReport[] };
}

const emptyDenials = (): Record<DenialReason, number> => Object.fromEntries(DENIAL_REASONS.map((r) => [r, 0])) as Record<DenialReason, number>;

function emptyRow(type: OutcomeRow['type'], channel: OutcomeRow['channel']): OutcomeRow {
  return { type, channel, received: 0, onTime: 0, late: 0, extended: 0, denied: 0, deniedBy: emptyDenials(), medianDays: null, p90Days: null };
}

function addInto(into: OutcomeRow, row: OutcomeRow): void {
  for (const k of ['received', 'onTime', 'late', 'extended', 'denied'] as const) into[k] += row[k];
  for (const r of DENIAL_REASONS) into.deniedBy[r] += row.deniedBy[r];
}

/** A histogram of durations in tenths of a day: tenths → requests. */
type Histogram = Map<number, number>;

/** Nearest-rank percentile (p in 0–1) of a histogram, in days; null when empty. */
export function histogramRank(h: Histogram | undefined, p: number): number | null {
  if (!h || h.size === 0) return null;
  const buckets = [...h].sort((a, b) => a[0] - b[0]);
  const total = buckets.reduce((s, [, n]) => s + n, 0);
  const rank = Math.max(1, Math.ceil(p * total));
  let seen = 0;
  for (const [tenths, n] of buckets) {
    seen += n;
    if (seen >= rank) return tenths / 10;
  }
  return buckets.at(-1)![0] / 10;
}

function setPercentiles(row: OutcomeRow, h: Histogram | undefined): void {
  row.medianDays = histogramRank(h, 0.5);
  row.p90Days = histogramRank(h, 0.9);
}

/** The request figures of a period: rows per (type, channel) with data, per type, and in all. */
export async function requestFigures(ctx: Pick<Ctx, 'db'>, period: ReportPeriod): Promise<{ rows: OutcomeRow[]; funnel: Funnel }> {
  const [outcomes, durations] = await Promise.all([ctx.db.requests.reportOutcomes(period.start, period.end), ctx.db.requests.reportDurations(period.start, period.end)]);
  const key = (type: string, channel: string) => `${type}\0${channel}`;
  const cells = new Map<string, OutcomeRow>();
  const funnel: Funnel = { opened: 0, verified: 0, pending: 0, abandoned: 0, closedUnverified: 0 };
  for (const o of outcomes) {
    const k = key(o.type, o.channel);
    let row = cells.get(k);
    if (!row) cells.set(k, (row = emptyRow(o.type, o.channel)));
    row.received += o.n;
    if (o.extended) row.extended += o.n;
    if (o.status === 'completed') row[o.onTime ? 'onTime' : 'late'] += o.n;
    if (o.status === 'denied') {
      row.denied += o.n;
      row.deniedBy[DENIAL_REASONS.find((r) => r === o.code) ?? 'other'] += o.n;
    }
    funnel.opened += o.n;
    if (o.verified) funnel.verified += o.n;
    else if (o.status === 'pending_verification') funnel.pending += o.n;
    else if (o.status === 'expired') funnel.abandoned += o.n;
    else funnel.closedUnverified += o.n;
  }
  const histograms = new Map<string, Histogram>();
  const add = (k: string, tenths: number, n: number) => {
    let h = histograms.get(k);
    if (!h) histograms.set(k, (h = new Map()));
    h.set(tenths, (h.get(tenths) ?? 0) + n);
  };
  for (const d of durations) {
    add(key(d.type, d.channel), d.tenths, d.n);
    add(key(d.type, 'all'), d.tenths, d.n);
    add(key('all', 'all'), d.tenths, d.n);
  }
  const rows: OutcomeRow[] = [];
  const total = emptyRow('all', 'all');
  for (const type of REQUEST_TYPES) {
    const sub = emptyRow(type, 'all');
    for (const channel of CHANNELS) {
      const row = cells.get(key(type, channel));
      if (!row) continue;
      setPercentiles(row, histograms.get(key(type, channel)));
      rows.push(row);
      addInto(sub, row);
    }
    if (sub.received === 0) continue;
    setPercentiles(sub, histograms.get(key(type, 'all')));
    rows.push(sub);
    addInto(total, sub);
  }
  setPercentiles(total, histograms.get(key('all', 'all')));
  rows.push(total);
  return { rows, funnel };
}

/** Consent per purpose over the last 90 days (UTC days), current totals and the GPC share. */
export async function consentFigures(ctx: Pick<Ctx, 'db' | 'purposes'>, now: number): Promise<Report['consent']> {
  const [stats, catalog] = await Promise.all([consentStats(ctx, now), ctx.purposes.get()]);
  const since = Date.parse(`${stats.from}T00:00:00.000Z`);
  const purposes: ConsentReport[] = [];
  for (const s of stats.purposes) {
    const p = catalog.byId.get(s.purpose);
    if (!p) continue;
    purposes.push({ ...s, title: p.view.title, gpcApplies: p.gpcApplies, refusals: await ctx.db.consents.refusalsSince(s.purpose, since) });
  }
  return { from: stats.from, to: stats.to, subjects: stats.subjects, purposes };
}

/** Every figure of a report page. */
export async function buildReport(ctx: Pick<Ctx, 'db' | 'purposes' | 'now'>, period: ReportPeriod): Promise<Report> {
  const at = ctx.now();
  const [requests, consent] = await Promise.all([requestFigures(ctx, period), consentFigures(ctx, at)]);
  return { period, at, ...requests, consent };
}
