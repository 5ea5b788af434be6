/**
 * The DPO's request queue: what is due when, soonest first. Filters come from the page's query
 * string (validated here: an unknown value is a 400, never silently ignored), pages are keyset
 * pages on (due date, id) — the cursor is the last row's, so a page costs the same at the
 * 100,000th request as at the first — and the counters are one statement over open requests.
 *
 * The CSV export is the same query, every page of it, with each cell made inert for spreadsheets
 * (a leading = + - @ tab or CR would start a formula).
 */
import { z } from 'zod';
import type { Ctx } from '../deps.js';
import { CHANNELS, REQUEST_STATUSES, REQUEST_TYPES, type DsrRequest, type RequestStatus } from '../db/schema/requests.js';
import type { QueueCounts, QueueFilter } from '../db/stores/requests.js';
import { ValidationError } from '../errors.js';
import { OPEN } from '../requests/service.js';

const DAY = 86_400_000;
export const QUEUE_PAGE = 50;
/** The most rows one CSV export holds (the filtered queue of a large deployment fits). */
export const CSV_MAX_ROWS = 100_000;

/** The queue's views: open requests by default, or one status, or what needs someone. */
export const QUEUE_VIEWS = ['open', 'overdue', 'week', 'attention', 'approval', 'closed'] as const;
export type QueueView = (typeof QUEUE_VIEWS)[number];

const CLOSED = REQUEST_STATUSES.filter((s) => !OPEN.includes(s));

const Query = z
  .object({
    view: z.enum(QUEUE_VIEWS).default('open'),
    status: z.enum(REQUEST_STATUSES).optional(),
    type: z.enum(REQUEST_TYPES).optional(),
    channel: z.enum(CHANNELS).optional(),
    lang: z.enum(['fr', 'en']).optional(),
    after: z
      .string()
      .regex(/^\d{1,15}\.req_[0-9a-z]{26}$/)
      .optional(),
  })
  .strict();
export type QueueQuery = z.infer<typeof Query>;

/** The query string as a filter, or a ValidationError naming the bad parameter. */
export function parseQueueQuery(query: Record<string, string>): QueueQuery {
  // An empty field of the filter form means "any".
  const given = Object.fromEntries(Object.entries(query).filter(([, v]) => v !== ''));
  const parsed = Query.safeParse(given);
  if (!parsed.success) throw new ValidationError('INVALID_FILTER', `invalid queue filter: ${parsed.error.issues.map((i) => i.path.join('.') || 'query').join(', ')}`);
  return parsed.data;
}

function filterOf(q: QueueQuery, now: number, limit: number): QueueFilter {
  const statuses: readonly RequestStatus[] = q.status
    ? [q.status]
    : q.view === 'attention'
      ? ['needs_attention', 'needs_review']
      : q.view === 'approval'
        ? ['awaiting_approval']
        : q.view === 'closed'
          ? CLOSED
          : OPEN;
  const dueBefore = q.view === 'overdue' ? now : q.view === 'week' ? now + 7 * DAY : undefined;
  const after = q.after ? { dueAt: Number(q.after.slice(0, q.after.indexOf('.'))), id: q.after.slice(q.after.indexOf('.') + 1) } : undefined;
  return { statuses, type: q.type, channel: q.channel, locale: q.lang, dueBefore, after, limit };
}

export interface QueueRow {
  request: DsrRequest;
  /** Whole days left until the due date (negative: overdue by that many). */
  daysLeft: number;
  /** red: overdue or under a quarter of its time left; amber: under half; ok otherwise. Closed: none. */
  urgency: 'red' | 'amber' | 'ok' | 'none';
}

export function urgencyOf(req: Pick<DsrRequest, 'status' | 'receivedAt' | 'dueAt'>, now: number): QueueRow['urgency'] {
  if (!OPEN.includes(req.status)) return 'none';
  const left = req.dueAt - now;
  const total = Math.max(1, req.dueAt - req.receivedAt);
  if (left < 0 || left < total / 4) return 'red';
  return left < total / 2 ? 'amber' : 'ok';
}

export function rowOf(req: DsrRequest, now: number): QueueRow {
  return { request: req, daysLeft: Math.floor((req.dueAt - now) / DAY), urgency: urgencyOf(req, now) };
}

export interface QueuePage {
  rows: QueueRow[];
  /** The `after` of the next page, if there is one. */
  next?: string;
  counts: QueueCounts;
}

/** The queue's counters at this instant. */
export function queueCounts(ctx: Pick<Ctx, 'db' | 'now'>): Promise<QueueCounts> {
  const now = ctx.now();
  return ctx.db.requests.queueCounts(OPEN, now, now + 7 * DAY);
}

export async function queuePage(ctx: Pick<Ctx, 'db' | 'now'>, q: QueueQuery): Promise<QueuePage> {
  const now = ctx.now();
  const [found, counts] = await Promise.all([ctx.db.requests.queue(filterOf(q, now, QUEUE_PAGE)), queueCounts(ctx)]);
  const rows = found.slice(0, QUEUE_PAGE).map((r) => rowOf(r, now));
  const last = rows.at(-1)?.request;
  return { rows, counts, ...(found.length > QUEUE_PAGE && last ? { next: `${last.dueAt}.${last.id}` } : {}) };
}

/** A cell a spreadsheet shows as text: quoted, quotes doubled, a formula's first character defused. */
export function csvCell(value: string | number | null): string {
  let s = value === null ? '' : String(value);
  if (/^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return `"${s.replace(/"/g, '""')}"`;
}

const CSV_COLUMNS = ['id', 'type', 'status', 'channel', 'language', 'received_at', 'due_at', 'days_left', 'extended_months', 'completed_at'] as const;

/** The filtered queue as CSV, every page of it (up to CSV_MAX_ROWS), soonest due first. */
export async function* queueCsv(ctx: Pick<Ctx, 'db' | 'now'>, q: QueueQuery): AsyncGenerator<string> {
  const now = ctx.now();
  yield `${CSV_COLUMNS.join(',')}\r\n`;
  let filter = filterOf({ ...q, after: undefined }, now, 1000);
  let sent = 0;
  for (;;) {
    const page = await ctx.db.requests.queue(filter);
    const rows = page.slice(0, filter.limit);
    for (const r of rows) {
      const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
      yield `${[r.id, r.type, r.status, r.channel, r.locale, iso(r.receivedAt), iso(r.dueAt), rowOf(r, now).daysLeft, r.extendedMonths, iso(r.completedAt)].map(csvCell).join(',')}\r\n`;
    }
    sent += rows.length;
    const last = rows.at(-1);
    if (page.length <= filter.limit || !last || sent >= CSV_MAX_ROWS) return;
    filter = { ...filter, after: { dueAt: last.dueAt, id: last.id } };
  }
}
