/**
 * The verbs that record consent events: one event in its own transaction, one event through the
 * group commit (POST /v1/consents), a batch (POST /v1/consents/batch). Validation first
 * (src/consent/prepare.ts), then the one write path (src/consent/write.ts).
 */
import type { Database } from '../db/database.js';
import type { Ctx } from '../deps.js';
import { GroupCommit } from '../db/group-commit.js';
import { AppError, PayloadTooLargeError, ValidationError } from '../errors.js';
import { prepareEvent, type ConsentInput, type PreparedEvent, type RecordOptions } from './prepare.js';
import { writeConsents, type PendingConsent, type RecordedConsent } from './write.js';

export type { RecordedConsent } from './write.js';

/** Most events in one POST /v1/consents/batch. */
export const MAX_BATCH_EVENTS = 10_000;
/** Most single events committed together by the group commit. */
const GROUP_MAX = 256;

/** Records one consent event in its own transaction. */
export async function recordConsent(ctx: Ctx, input: ConsentInput, opts: RecordOptions = {}): Promise<RecordedConsent> {
  const event = await prepareEvent(ctx, ctx.now(), input, opts);
  return (await ctx.db.tx((t) => writeConsents(t, [{ ctx, event }])))[0]!;
}

/**
 * Single events with GROUP COMMIT (src/db/group-commit.ts): every event that arrives in the same
 * turn of the event loop (up to GROUP_MAX) is written in ONE transaction — the commit, the WAL
 * write of the pages they share and the audit tree's right edge are paid once per group instead
 * of once per event. A resolved `record` still means "durable with its audit entry". An event
 * that fails at write time (its person erased meanwhile, a constraint) fails alone: the group is
 * replayed one savepoint per event. A store still locked by another process (SQLite
 * busy_timeout) fails the whole group at once instead. One per Deps (src/runtime.ts).
 */
export class ConsentWriter {
  private readonly group: GroupCommit<PendingConsent, RecordedConsent>;

  constructor(db: Database) {
    this.group = new GroupCommit(db, {
      max: GROUP_MAX,
      run: writeConsents,
      fatal: (err) => String((err as { code?: unknown }).code ?? '').startsWith('SQLITE_BUSY'),
    });
  }

  /** Validates at once (a bad event fails alone, before it joins a group), then joins the next group. */
  async record(ctx: Ctx, input: ConsentInput, opts: RecordOptions = {}): Promise<RecordedConsent> {
    const event = await prepareEvent(ctx, ctx.now(), input, opts);
    return this.group.submit({ ctx, event });
  }
}

export interface BatchLineError {
  line: number;
  code: string;
  message: string;
  fields?: { path: string; message: string }[];
}

/** What a batch line is before validation: anything parsed from JSON. */
export type BatchLine = { line: number } & ({ ok: true; value: ConsentInput } | { ok: false; error: Omit<BatchLineError, 'line'> });

/**
 * Records a batch, all or nothing: every line validated first; any bad line → ValidationError
 * BATCH_INVALID listing each bad line, nothing written. Otherwise ONE transaction for everything.
 */
export async function recordConsentBatch(
  ctx: Ctx,
  lines: BatchLine[],
  opts: RecordOptions = {},
): Promise<{ recorded: number; ids: string[]; stateChanges: number }> {
  if (lines.length === 0) throw new ValidationError('BATCH_EMPTY', 'the batch holds no event');
  if (lines.length > MAX_BATCH_EVENTS) {
    throw new PayloadTooLargeError('BATCH_TOO_LARGE', `a batch holds at most ${MAX_BATCH_EVENTS} events (got ${lines.length})`);
  }
  const now = ctx.now();
  const prepared: PreparedEvent[] = [];
  const errors: BatchLineError[] = [];
  for (const line of lines) {
    if (!line.ok) {
      errors.push({ line: line.line, ...line.error });
      continue;
    }
    try {
      prepared.push(await prepareEvent(ctx, now, line.value, opts));
    } catch (err) {
      if (!(err instanceof AppError)) throw err;
      errors.push({ line: line.line, code: err.code, message: err.message });
    }
  }
  if (errors.length > 0) {
    throw new ValidationError('BATCH_INVALID', `${errors.length} of ${lines.length} events are invalid; nothing was recorded`, {
      errors: errors.slice(0, 1000),
    });
  }
  const out = await ctx.db.tx((t) => writeConsents(t, prepared.map((event) => ({ ctx, event }))));
  return { recorded: out.length, ids: out.map((r) => r.id), stateChanges: out.filter((r) => r.stateChanged).length };
}
