/**
 * The consent ledger: append-only events, the current state per (person, purpose), the outbox
 * feed of state changes, and the reads on top (the hot path, history, changes, stats).
 *
 * Invariants:
 * - an event, its audit entry, the state change it causes and its outbox row commit together
 *   in one write transaction, or not at all;
 * - the current state is the event with the latest EFFECTIVE time, min(occurredAt, recordedAt)
 *   (ties: the later recorded). A late-arriving store import, dated in the past, never overrides
 *   a newer web choice; an event dated in the future (within MAX_CLOCK_SKEW_MS) takes effect when
 *   it is recorded, so a withdrawal recorded after a grant wins whatever date the grant claims.
 *   `occurredAt` is kept on the event as evidence; the state's time (`since`) is the effective one;
 * - repeating the current decision (a second withdrawal) is recorded in the ledger (what the
 *   person did stays provable) but leaves the state and its `since` as they were and writes no
 *   outbox row — except a repeated grant, which renews the consent (resets expiry);
 * - audit entries name the person by `subjectRef` only.
 *
 * Every statement is prepared once per connection: the query builder re-prepares each call.
 */
import type BetterSqlite3 from 'better-sqlite3';
import type { CountryCode } from 'libphonenumber-js';
import { statementsFor, writeTx, type Db, type Sqlite } from '../db/client.js';
import type { Ctx } from '../deps.js';
import type { Decision, SourceChannel } from '../db/schema/consents.js';
import { normalizeIdentity, type Identity } from '../identity.js';
import { AppError, NotFoundError, PayloadTooLargeError, ValidationError } from '../errors.js';
import { createSubject, findSubjectIdByIdentity, getSubject, subjectRefOf } from '../subjects/service.js';
import { purposeCatalog, requirePurpose, type CachedPurpose } from './purposes.js';

/** Clock skew tolerated on a caller's `occurredAt`. */
export const MAX_CLOCK_SKEW_MS = 5 * 60_000;
/** Most events in one POST /v1/consents/batch. */
export const MAX_BATCH_EVENTS = 10_000;
const DAY_MS = 86_400_000;

export interface ConsentInput {
  subject: { type: string; value: string } | { id: string };
  purpose: string;
  decision: Decision;
  source: { channel: SourceChannel; collectedBy?: string; location?: string };
  method?: string;
  evidence?: { purposeVersion?: number; [k: string]: unknown };
  occurredAt?: string;
  gpc?: boolean;
}

export interface RecordOptions {
  /** True when the request carried `Sec-GPC: 1` exactly. */
  gpcHeader?: boolean;
  phoneRegion?: CountryCode;
}

export interface RecordedConsent {
  id: string;
  subjectId: string;
  purpose: string;
  decision: Decision;
  occurredAt: string;
  gpcApplied: boolean;
  /** False when the event did not change the current state (older than it, or a repeat). */
  stateChanged: boolean;
}

/** A validated event, ready to write. */
interface Prepared {
  identity: Identity | null;
  subjectId: string | null;
  purpose: CachedPurpose;
  purposeVersion: number;
  decision: Decision;
  occurredAt: number;
  channel: SourceChannel;
  collectedBy: string | null;
  location: string | null;
  method: string | null;
  evidence: string | null;
  gpcApplied: boolean;
}

type Stmt = BetterSqlite3.Statement<unknown[], unknown>;
interface Statements {
  insertEvent: Stmt;
  upsertState: Stmt;
  insertOutbox: Stmt;
  readStates: Stmt;
  history: Stmt;
  event: Stmt;
  changes: Stmt;
  stateCounts: Stmt;
  expiredCount: Stmt;
  daily: Stmt;
  liveSubjects: Stmt;
}
const stmts = statementsFor(
  (sqlite): Statements => ({
    insertEvent: sqlite.prepare(
      `insert into consent_events (id, subject_id, purpose_id, decision, occurred_at, recorded_at, channel, collected_by,
       location, method, purpose_version, evidence, gpc, audit_idx) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    // Latest effective time wins (ties: this later-recorded event); a repeat of a
    // refusal/withdrawal keeps the original `since`.
    upsertState: sqlite.prepare(
      `insert into consent_states (subject_id, purpose_id, decision, occurred_at, channel, event_id) values (?, ?, ?, ?, ?, ?)
       on conflict (subject_id, purpose_id) do update set decision = excluded.decision, occurred_at = excluded.occurred_at,
         channel = excluded.channel, event_id = excluded.event_id
       where excluded.occurred_at >= consent_states.occurred_at
         and not (excluded.decision = consent_states.decision and excluded.decision <> 'granted')`,
    ),
    insertOutbox: sqlite.prepare('insert into outbox (type, payload, created_at) values (?, ?, ?)'),
    readStates: sqlite
      .prepare(
        `select i.subject_id, c.purpose_id, c.decision, c.occurred_at, c.channel from subject_identifiers i
         left join consent_states c on c.subject_id = i.subject_id where i.type = ? and i.value = ?`,
      )
      .raw(),
    history: sqlite.prepare(
      'select * from consent_events where subject_id = ? order by occurred_at, recorded_at, id',
    ),
    event: sqlite.prepare('select * from consent_events where id = ?'),
    changes: sqlite.prepare(
      "select seq, payload, created_at from outbox where seq > ? and type = 'consent.updated' order by seq limit ?",
    ),
    stateCounts: sqlite.prepare('select decision, count(*) as n from consent_states where purpose_id = ? group by decision'),
    expiredCount: sqlite
      .prepare("select count(*) from consent_states where purpose_id = ? and decision = 'granted' and occurred_at < ?")
      .pluck(),
    daily: sqlite.prepare(
      `select occurred_at / ${DAY_MS} as day, decision, count(*) as n from consent_events
       where purpose_id = ? and occurred_at >= ? and decision in ('granted', 'withdrawn') group by day, decision`,
    ),
    liveSubjects: sqlite.prepare('select count(*) from subjects where erased_at is null').pluck(),
  }),
);

const iso = (ms: number) => new Date(ms).toISOString();

/**
 * Validates one (schema-valid) event against the catalogue, the clock and identity rules.
 * Throws the domain error of the first problem; writes nothing.
 */
function prepareEvent(db: Db, now: number, input: ConsentInput, opts: RecordOptions): Prepared {
  let identity: Identity | null = null;
  let subjectId: string | null = null;
  if ('id' in input.subject) {
    subjectId = input.subject.id;
    const row = getSubject(db, subjectId);
    if (!row || row.erasedAt !== null) throw new NotFoundError('SUBJECT_NOT_FOUND', 'no such subject (or it was erased)');
  } else {
    identity = normalizeIdentity(input.subject, { defaultRegion: opts.phoneRegion });
  }
  const purpose = requirePurpose(db, input.purpose);
  let purposeVersion = purpose.version;
  const asked = input.evidence?.purposeVersion;
  if (asked !== undefined) {
    if (!Number.isInteger(asked) || asked < 1 || asked > purpose.version) {
      throw new NotFoundError('PURPOSE_VERSION_NOT_FOUND', `purpose "${purpose.id}" has no version ${String(asked)}`);
    }
    purposeVersion = asked;
  }
  let occurredAt = now;
  if (input.occurredAt !== undefined) {
    occurredAt = Date.parse(input.occurredAt);
    if (Number.isNaN(occurredAt)) throw new ValidationError('INVALID_OCCURRED_AT', 'occurredAt is not a valid date-time');
    if (occurredAt > now + MAX_CLOCK_SKEW_MS) {
      throw new ValidationError('OCCURRED_AT_IN_FUTURE', 'occurredAt is in the future (beyond 5 minutes of clock skew)');
    }
  }
  // Global Privacy Control: a GPC purpose is recorded as refused (a withdrawal stays one).
  const gpcApplied = purpose.gpcApplies && (input.gpc === true || opts.gpcHeader === true);
  const decision: Decision = gpcApplied && input.decision === 'granted' ? 'refused' : input.decision;
  return {
    identity,
    subjectId,
    purpose,
    purposeVersion,
    decision,
    occurredAt,
    channel: input.source.channel,
    collectedBy: input.source.collectedBy ?? null,
    location: input.source.location ?? null,
    method: gpcApplied ? 'gpc' : (input.method ?? null),
    evidence: input.evidence ? JSON.stringify(input.evidence) : null,
    gpcApplied,
  };
}

function auditData(eventId: string, p: Prepared) {
  return {
    event: eventId,
    purpose: p.purpose.id,
    decision: p.decision,
    channel: p.channel,
    purposeVersion: p.purposeVersion,
    gpc: p.gpcApplied,
    occurredAt: iso(p.occurredAt),
  };
}

/**
 * Resolves the person inside the transaction (creating one on first consent), with their
 * subjectRef: from `refs` when this transaction already computed it (a key opened once per person).
 */
function subjectFor(ctx: Ctx, p: Prepared, refs: Map<string, string>): { subjectId: string; subjectRef: string } {
  if (p.subjectId !== null) {
    const row = getSubject(ctx.db, p.subjectId);
    if (!row || row.erasedAt !== null) throw new NotFoundError('SUBJECT_NOT_FOUND', 'no such subject (or it was erased)');
    return { subjectId: p.subjectId, subjectRef: refs.get(p.subjectId) ?? subjectRefOf(ctx, p.subjectId) };
  }
  const known = findSubjectIdByIdentity(ctx.db, p.identity!);
  if (known === undefined) return createSubject(ctx, p.identity!);
  return { subjectId: known, subjectRef: refs.get(known) ?? subjectRefOf(ctx, known) };
}

/** Writes the event, state and outbox rows (inside the caller's transaction). */
function writeEvent(s: Statements, p: Prepared, eventId: string, subjectId: string, auditIdx: number, now: number): boolean {
  s.insertEvent.run(
    eventId,
    subjectId,
    p.purpose.id,
    p.decision,
    p.occurredAt,
    now,
    p.channel,
    p.collectedBy,
    p.location,
    p.method,
    p.purposeVersion,
    p.evidence,
    p.gpcApplied ? 1 : 0,
    auditIdx,
  );
  const effectiveAt = Math.min(p.occurredAt, now);
  const changed = s.upsertState.run(subjectId, p.purpose.id, p.decision, effectiveAt, p.channel, eventId).changes === 1;
  if (changed) {
    s.insertOutbox.run(
      'consent.updated',
      `{"subject":${JSON.stringify(subjectId)},"purpose":${JSON.stringify(p.purpose.id)},"decision":"${p.decision}","occurredAt":"${iso(p.occurredAt)}"}`,
      now,
    );
  }
  return changed;
}

/** One validated event waiting to be written, with who records it and when. */
interface Pending {
  ctx: Ctx;
  p: Prepared;
  now: number;
}

/**
 * Writes events inside the caller's transaction, in order: people resolved (and created) one
 * after the other, so a later event sees a person an earlier one created; every audit entry
 * appended in ONE appendMany call (the tree's right edge stays in memory); then the event,
 * state and outbox rows. Each person's `subjectRef` (a key read, unsealed, + HMAC) is computed once.
 */
function writeAll(items: Pending[]): { out: RecordedConsent[]; stateChanges: number; ids: string[] } {
  const n = items.length;
  const first = items[0]!.ctx;
  const s = stmts(first.db);
  const subjectIds = new Array<string>(n);
  const ids = new Array<string>(n);
  const refs = new Map<string, string>();
  const audits = new Array(n);
  for (let i = 0; i < n; i++) {
    const { ctx, p } = items[i]!;
    const { subjectId, subjectRef: ref } = subjectFor(ctx, p, refs);
    refs.set(subjectId, ref);
    subjectIds[i] = subjectId;
    const id = (ids[i] = ctx.ids('evt'));
    audits[i] = { type: 'consent.recorded', actor: ctx.actor, subjectRef: ref, data: auditData(id, p) };
  }
  const appended = first.audit.appendMany(audits);
  let stateChanges = 0;
  const out = new Array<RecordedConsent>(n);
  for (let i = 0; i < n; i++) {
    const { p, now } = items[i]!;
    const stateChanged = writeEvent(s, p, ids[i]!, subjectIds[i]!, appended[i]!.index, now);
    if (stateChanged) stateChanges++;
    out[i] = {
      id: ids[i]!,
      subjectId: subjectIds[i]!,
      purpose: p.purpose.id,
      decision: p.decision,
      occurredAt: iso(p.occurredAt),
      gpcApplied: p.gpcApplied,
      stateChanged,
    };
  }
  return { out, stateChanges, ids };
}

/** Records one consent event in its own transaction. */
export function recordConsent(ctx: Ctx, input: ConsentInput, opts: RecordOptions = {}): RecordedConsent {
  const now = ctx.now();
  const p = prepareEvent(ctx.db, now, input, opts);
  return writeTx(ctx.db, () => writeAll([{ ctx, p, now }]).out[0]!);
}

/** Most single events committed together by the group commit. */
const GROUP_MAX = 256;
interface Group {
  items: (Pending & { resolve: (r: RecordedConsent) => void; reject: (e: unknown) => void })[];
}
const groups = new WeakMap<Sqlite, Group>();

/**
 * Records one consent event (POST /v1/consents) with GROUP COMMIT: the event is validated at
 * once (a bad one fails alone, before anything is queued), then every event that arrives in
 * the same turn of the event loop (up to GROUP_MAX) is written in ONE transaction — the commit,
 * the WAL write of the pages they share and the audit tree's right edge are paid once per group
 * instead of once per event. Each promise settles after its group committed, so a 201 still
 * means "durable with its audit entry". If the group fails (one event's person was erased
 * meanwhile, a failing trigger or constraint), every event is replayed in its own transaction, so
 * each caller gets its own outcome and one bad event never takes others down; a store still
 * locked by another process after busy_timeout fails the whole group at once.
 */
export function recordConsentGrouped(ctx: Ctx, input: ConsentInput, opts: RecordOptions = {}): Promise<RecordedConsent> {
  const now = ctx.now();
  const p = prepareEvent(ctx.db, now, input, opts);
  const sqlite = ctx.db.$client;
  return new Promise((resolve, reject) => {
    let g = groups.get(sqlite);
    if (!g) {
      const group: Group = { items: [] };
      groups.set(sqlite, group);
      setImmediate(() => {
        if (groups.get(sqlite) === group) groups.delete(sqlite);
        flushGroup(group);
      });
      g = group;
    }
    g.items.push({ ctx, p, now, resolve, reject });
    if (g.items.length >= GROUP_MAX) groups.delete(sqlite); // full: the next event starts a new group
  });
}

function flushGroup(g: Group): void {
  const { items } = g;
  const db = items[0]!.ctx.db;
  let out: RecordedConsent[] | undefined;
  try {
    out = writeTx(db, () => writeAll(items).out);
  } catch (err) {
    // The store stayed locked by another process past busy_timeout: replaying would wait that
    // long once per event on this (blocked) thread; everyone gets the error now.
    if (String((err as { code?: unknown }).code ?? '').startsWith('SQLITE_BUSY')) {
      for (const item of items) item.reject(err);
      return;
    }
    for (const item of items) {
      try {
        item.resolve(writeTx(db, () => writeAll([item]).out[0]!));
      } catch (err) {
        item.reject(err);
      }
    }
    return;
  }
  for (let i = 0; i < items.length; i++) items[i]!.resolve(out[i]!);
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
 * Records a batch: every line validated first; any bad line → ValidationError BATCH_INVALID
 * listing each bad line, nothing written. Otherwise ONE transaction for everything, the audit
 * entries appended in one call.
 */
export function recordConsentBatch(
  ctx: Ctx,
  lines: BatchLine[],
  opts: RecordOptions = {},
): { recorded: number; ids: string[]; stateChanges: number } {
  if (lines.length === 0) throw new ValidationError('BATCH_EMPTY', 'the batch holds no event');
  if (lines.length > MAX_BATCH_EVENTS) {
    throw new PayloadTooLargeError('BATCH_TOO_LARGE', `a batch holds at most ${MAX_BATCH_EVENTS} events (got ${lines.length})`);
  }
  const now = ctx.now();
  const prepared: Prepared[] = [];
  const errors: BatchLineError[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (!line.ok) {
      errors.push({ line: line.line, ...line.error });
      continue;
    }
    try {
      prepared.push(prepareEvent(ctx.db, now, line.value, opts));
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
  const items = prepared.map((p): Pending => ({ ctx, p, now }));
  return writeTx(ctx.db, () => {
    const { ids, stateChanges } = writeAll(items);
    return { recorded: ids.length, ids, stateChanges };
  });
}

export type ConsentStateName = Decision | 'expired' | 'unknown';
export interface ConsentStateView {
  purpose: string;
  state: ConsentStateName;
  since: string | null;
  channel: SourceChannel | null;
}

/**
 * The hot path: current state of every purpose (or of `only`) for the person holding
 * `identity`. One prepared query (identifier → subject → states) and the cached catalogue.
 * An unknown person gets `subjectId: null` and `unknown` everywhere: nobody agreed to anything.
 */
export function readConsents(db: Db, identity: Identity, now: number, only?: string[]): { subjectId: string | null; consents: ConsentStateView[] } {
  const catalog = purposeCatalog(db);
  const rows = stmts(db).readStates.all(identity.type, identity.value) as [string, string | null, Decision | null, number | null, SourceChannel | null][];
  const subjectId = rows.length > 0 ? rows[0]![0] : null;
  let list = catalog.list;
  if (only) {
    list = only.map((id) => {
      const p = catalog.byId.get(id);
      if (!p) throw new NotFoundError('PURPOSE_NOT_FOUND', `no purpose "${id.slice(0, 64)}"`);
      return p;
    });
  }
  const consents = new Array<ConsentStateView>(list.length);
  for (let i = 0; i < list.length; i++) {
    const p = list[i]!;
    let row: (typeof rows)[number] | undefined;
    for (let j = 0; j < rows.length; j++) {
      if (rows[j]![1] === p.id) {
        row = rows[j];
        break;
      }
    }
    if (!row) {
      consents[i] = { purpose: p.id, state: 'unknown', since: null, channel: null };
      continue;
    }
    const at = row[3]!;
    if (row[2] === 'granted' && p.validityMs > 0 && now - at > p.validityMs) {
      consents[i] = { purpose: p.id, state: 'expired', since: iso(at + p.validityMs), channel: row[4] };
    } else {
      consents[i] = { purpose: p.id, state: row[2]!, since: iso(at), channel: row[4] };
    }
  }
  return { subjectId, consents };
}

interface EventRow {
  id: string;
  subject_id: string;
  purpose_id: string;
  decision: Decision;
  occurred_at: number;
  recorded_at: number;
  channel: SourceChannel;
  collected_by: string | null;
  location: string | null;
  method: string | null;
  purpose_version: number;
  evidence: string | null;
  gpc: number;
  audit_idx: number;
}

export interface ConsentEventView {
  id: string;
  purpose: string;
  decision: Decision;
  occurredAt: string;
  recordedAt: string;
  source: { channel: SourceChannel; collectedBy?: string; location?: string };
  method: string | null;
  purposeVersion: number;
  evidence: Record<string, unknown> | null;
  gpcApplied: boolean;
  auditIndex: number;
}

function eventView(r: EventRow): ConsentEventView {
  return {
    id: r.id,
    purpose: r.purpose_id,
    decision: r.decision,
    occurredAt: iso(r.occurred_at),
    recordedAt: iso(r.recorded_at),
    source: {
      channel: r.channel,
      ...(r.collected_by !== null ? { collectedBy: r.collected_by } : {}),
      ...(r.location !== null ? { location: r.location } : {}),
    },
    method: r.method,
    purposeVersion: r.purpose_version,
    evidence: r.evidence === null ? null : (JSON.parse(r.evidence) as Record<string, unknown>),
    gpcApplied: r.gpc === 1,
    auditIndex: r.audit_idx,
  };
}

/** Every event of a person, oldest `occurredAt` first (ties: recording order). */
export function consentHistory(db: Db, subjectId: string): ConsentEventView[] {
  return (stmts(db).history.all(subjectId) as EventRow[]).map(eventView);
}

export function getConsentEvent(db: Db, eventId: string): (ConsentEventView & { subjectId: string }) | undefined {
  const row = stmts(db).event.get(eventId) as EventRow | undefined;
  return row ? { ...eventView(row), subjectId: row.subject_id } : undefined;
}

const CURSOR_PREFIX = 'oc1.';
export function encodeCursor(seq: number): string {
  return CURSOR_PREFIX + Buffer.from(String(seq)).toString('base64url');
}
export function decodeCursor(cursor: string): number {
  if (cursor.startsWith(CURSOR_PREFIX)) {
    const raw = Buffer.from(cursor.slice(CURSOR_PREFIX.length), 'base64url').toString();
    if (/^\d{1,15}$/.test(raw)) return Number(raw);
  }
  throw new ValidationError('INVALID_CURSOR', 'cursor is not one this API returned');
}

export interface ConsentChange {
  type: 'consent.updated';
  subject: string;
  purpose: string;
  decision: Decision;
  occurredAt: string;
  recordedAt: string;
  cursor: string;
}

/**
 * The outbox's consent.updated stream after `after` (exclusive). `cursor` is where to resume:
 * the last change returned, or `after` itself when nothing new came.
 */
export function listConsentChanges(db: Db, after: string | undefined, limit: number): { changes: ConsentChange[]; cursor: string; hasMore: boolean } {
  const from = after === undefined ? 0 : decodeCursor(after);
  const rows = stmts(db).changes.all(from, limit + 1) as { seq: number; payload: string; created_at: number }[];
  const hasMore = rows.length > limit;
  if (hasMore) rows.pop();
  const changes = rows.map((r) => ({
    type: 'consent.updated' as const,
    ...(JSON.parse(r.payload) as { subject: string; purpose: string; decision: Decision; occurredAt: string }),
    recordedAt: iso(r.created_at),
    cursor: encodeCursor(r.seq),
  }));
  return { changes, cursor: encodeCursor(rows.at(-1)?.seq ?? from), hasMore };
}

export interface PurposeStats {
  purpose: string;
  states: Record<ConsentStateName, number>;
  daily: { date: string; granted: number; withdrawn: number }[];
}

/**
 * Dashboard figures, from indexed aggregates: counts by state per purpose (range counts on
 * consent_states(purpose, decision, occurred_at)), and grants/withdrawals per UTC day over the
 * last 90 days (range scan on consent_events(purpose, occurred_at, decision)).
 */
export function consentStats(db: Db, now: number): { subjects: number; purposes: PurposeStats[]; from: string; to: string } {
  const s = stmts(db);
  const subjects = s.liveSubjects.get() as number;
  const today = Math.floor(now / DAY_MS);
  const firstDay = today - 89;
  const purposes = purposeCatalog(db).list.map((p): PurposeStats => {
    const states: Record<ConsentStateName, number> = { granted: 0, refused: 0, withdrawn: 0, expired: 0, unknown: 0 };
    let total = 0;
    for (const r of s.stateCounts.all(p.id) as { decision: Decision; n: number }[]) {
      states[r.decision] = r.n;
      total += r.n;
    }
    if (p.validityMs > 0 && states.granted > 0) {
      states.expired = s.expiredCount.get(p.id, now - p.validityMs) as number;
      states.granted -= states.expired;
    }
    states.unknown = Math.max(0, subjects - total);
    const byDay = new Map<number, { granted: number; withdrawn: number }>();
    for (const r of s.daily.all(p.id, firstDay * DAY_MS) as { day: number; decision: 'granted' | 'withdrawn'; n: number }[]) {
      const d = byDay.get(r.day) ?? { granted: 0, withdrawn: 0 };
      d[r.decision] = r.n;
      byDay.set(r.day, d);
    }
    const daily = [];
    for (let d = firstDay; d <= today; d++) {
      const v = byDay.get(d);
      daily.push({ date: iso(d * DAY_MS).slice(0, 10), granted: v?.granted ?? 0, withdrawn: v?.withdrawn ?? 0 });
    }
    return { purpose: p.id, states, daily };
  });
  return { subjects, purposes, from: iso(firstDay * DAY_MS).slice(0, 10), to: iso(today * DAY_MS).slice(0, 10) };
}
