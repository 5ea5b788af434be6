/**
 * The request state machine as the engine drives it. Every function here is synchronous and
 * runs inside the caller's writeTx, so a stage change, the tasks it creates and its audit
 * entries commit together.
 *
 * Stages of a running request:
 *   access (rounds of identity expansion) → [erasure: erase → verify] → finalize → done.
 * A stage moves on only when none of the request's tasks is open; a failed task stops the
 * request in `needs_attention` until the DPO retries. At the end of every access round the
 * identities found are judged (./review.ts): an identity conflict stops the request in
 * `needs_review` until the DPO has decided every identity under review; it then resumes with
 * another access round (silos searched by an identity no longer held are searched again).
 */
import type { Connector } from '../../connectors/types.js';
import type { Ctx } from '../deps.js';
import type { DsrRequest, Verification } from '../db/schema/requests.js';
import type { TaskPhase } from '../db/schema/tasks.js';
import { findSubjectIdByIdentity, forgetSubject, subjectRefOf } from '../subjects/service.js';
import { erasableIds, includedIds, judgeIdentities, searchableIds, searchedByAccess, searchedOf, type Judged } from './identities.js';
import { destroyIdentityValues, getRequestLite, getRequestRow, identitiesOf, setStage, setStatus, stmts, tasksOf, type IdentityRow, type RequestLite, type TaskRow } from './store.js';

/**
 * Identity expansion bounds: identities per request; access rounds (a safety net — expansion
 * ends by itself: a silo is searched again only with an identity it has not searched by, or
 * once an identity it searched by is no longer held for the person).
 */
export const MAX_IDENTITIES = 50;
export const MAX_ACCESS_ROUNDS = 20;

export const ENGINE_ACTOR = { type: 'system', id: 'engine' } as const;

/** Audit pseudonym of the request's person, while their key exists. */
export function subjectRefFor(ctx: Ctx, req: Pick<DsrRequest, 'subjectId'>): string | undefined {
  if (!req.subjectId) return undefined;
  try {
    return subjectRefOf(ctx, req.subjectId);
  } catch {
    return undefined; // forgotten: entries stop pointing at anyone
  }
}

export function auditRequest(ctx: Ctx, req: Pick<DsrRequest, 'id' | 'subjectId'>, type: string, data: Record<string, unknown> = {}): void {
  const subjectRef = subjectRefFor(ctx, req);
  ctx.audit.append({ type, actor: ctx.actor, requestId: req.id, ...(subjectRef ? { subjectRef } : {}), data });
}

function createTask(ctx: Ctx, req: Pick<RequestLite, 'id'>, connectorId: string, phase: TaskPhase, round: number, watermark: number): void {
  stmts(ctx.db).insertTask.run({ id: ctx.ids('tsk'), requestId: req.id, connectorId, phase, round, now: ctx.now(), watermark });
}

const maxId = (identities: IdentityRow[]) => identities.reduce((m, i) => Math.max(m, i.id), 0);

/**
 * Access tasks for the connectors that need one: a silo not yet searched by every identity it
 * may use (fresh), or whose latest search used an identity no longer held for the person
 * (stale: its result would mix in someone else's records).
 */
function planAccessRound(ctx: Ctx, req: RequestLite, round: number, tasks: TaskRow[], identities: IdentityRow[], blocked: Set<string> = new Set()): number {
  const included = includedIds(identities);
  const latest = latestDone(tasks, 'access');
  let created = 0;
  for (const c of ctx.connectors) {
    if (!c.capabilities.access || blocked.has(c.id)) continue;
    const usable = searchableIds(c, identities);
    if (usable.length === 0) continue;
    const searched = searchedByAccess(tasks, c, identities);
    const last = latest.get(c.id);
    const fresh = usable.some((id) => !searched.has(id));
    const stale = last !== undefined && searchedOf(last, identities, c).some((id) => !included.has(id));
    if (!fresh && !stale) continue;
    createTask(ctx, req, c.id, 'access', round, maxId(identities));
    created++;
  }
  return created;
}

const covers = (t: TaskRow, ids: number[], identities: IdentityRow[], c: Connector) => {
  const s = new Set(searchedOf(t, identities, c));
  return ids.every((id) => s.has(id));
};

/**
 * Erase / verify tasks for the connectors that still need one: no erase done with every
 * identity they may erase by yet; no verification since their latest erasure. Connectors with
 * a failed task are skipped (the request ends in needs_attention; a retry plans them again).
 */
function planPhase(ctx: Ctx, req: RequestLite, phase: 'erase' | 'verify', round: number, tasks: TaskRow[], identities: IdentityRow[], blocked: Set<string>): number {
  let created = 0;
  for (const c of ctx.connectors) {
    const capable = phase === 'erase' ? c.capabilities.erasure : c.capabilities.access;
    if (!capable || blocked.has(c.id)) continue;
    const who = erasableIds(c, tasks, identities);
    if (who.length === 0) continue;
    const mine = tasks.filter((t) => t.connectorId === c.id && t.status === 'done');
    // A silo whose latest access pass, with every identity it may erase by, found nothing
    // holds nothing to erase or verify (the contract makes access and erase see the same data).
    const last = latestDone(tasks, 'access').get(c.id);
    if (c.capabilities.access && last && covers(last, who, identities, c) && (last.result?.found ?? 0) === 0) {
      const erased = mine.some((t) => t.phase === 'erase');
      if (phase === 'erase' || !erased) continue;
    }
    if (phase === 'erase') {
      if (mine.some((t) => t.phase === 'erase' && covers(t, who, identities, c))) continue;
    } else {
      const lastErase = mine.filter((t) => t.phase === 'erase').reduce((m, t) => Math.max(m, t.round), 0);
      if (mine.some((t) => t.phase === 'verify' && t.round > lastErase && covers(t, who, identities, c))) continue;
    }
    createTask(ctx, req, c.id, phase, round, maxId(identities));
    created++;
  }
  return created;
}

/** After a failed verification: erase again everywhere with every identity held, then verify. */
export function planErasureAgain(ctx: Ctx, req: Pick<RequestLite, 'id'>, round: number): number {
  const identities = identitiesOf(ctx.db, req.id);
  const tasks = tasksOf(ctx.db, req.id);
  let created = 0;
  for (const c of ctx.connectors) {
    if (!c.capabilities.erasure || erasableIds(c, tasks, identities).length === 0) continue;
    createTask(ctx, req, c.id, 'erase', round, maxId(identities));
    created++;
  }
  return created;
}

/** running: first access round. Call after the guarded move to `running`. */
export function startRequest(ctx: Ctx, requestId: string): void {
  const req = getRequestRow(ctx.db, requestId)!;
  setStage(ctx.db, req.id, 'access', 1, ctx.now());
  const identities = identitiesOf(ctx.db, req.id);
  const created = planAccessRound(ctx, { ...req, stage: 'access', round: 1 }, 1, tasksOf(ctx.db, req.id), identities);
  auditRequest(ctx, req, 'request.started', { stage: 'access', round: 1, tasks: created });
  advance(ctx, req.id);
}

/** Latest done task per connector for a phase (a later round supersedes an earlier one). */
export function latestDone(tasks: TaskRow[], phase: TaskPhase): Map<string, TaskRow> {
  const out = new Map<string, TaskRow>();
  for (const t of tasks) {
    if (t.phase !== phase || t.status !== 'done') continue;
    const prev = out.get(t.connectorId);
    if (!prev || t.round > prev.round || (t.round === prev.round && t.identityWatermark > prev.identityWatermark)) out.set(t.connectorId, t);
  }
  return out;
}

/** What the verification pass found, judged against what the erase pass declared kept. */
export function judgeVerification(tasks: TaskRow[]): Verification {
  const erased = latestDone(tasks, 'erase');
  const verified = latestDone(tasks, 'verify');
  const v: Verification = { ok: true, residual: [], retained: [] };
  for (const [connector, t] of verified) {
    const kept = new Set(
      (erased.get(connector)?.result?.collections ?? []).filter((c) => (c.retained ?? 0) > 0 || (c.masked ?? 0) > 0).map((c) => c.name),
    );
    for (const c of t.result?.collections ?? []) {
      const n = c.found ?? 0;
      if (n === 0) continue;
      if (kept.has(c.name)) v.retained.push({ connector, collection: c.name, records: n });
      else v.residual.push({ connector, collection: c.name, records: n });
    }
  }
  v.ok = v.residual.length === 0;
  return v;
}

/**
 * Moves a running request on as far as it can go without calling a connector. Idempotent:
 * called after every task outcome and at every transition.
 */
export function advance(ctx: Ctx, requestId: string): void {
  for (let guard = 0; guard < 10; guard++) {
    const req = getRequestLite(ctx.db, requestId);
    if (!req || req.status !== 'running') return;
    if ((stmts(ctx.db).openTaskCount.get(req.id) as number) > 0) return;
    const tasks = tasksOf(ctx.db, req.id);
    const failed = tasks.filter((t) => t.status === 'failed');
    // A silo that failed for good does not hold the others back: they go on; the request
    // ends in needs_attention instead of completed.
    const blocked = new Set(failed.map((t) => t.connectorId));
    let identities = identitiesOf(ctx.db, req.id);
    const now = ctx.now();
    switch (req.stage) {
      case 'access': {
        const judged = judgeIdentities(ctx, identities, tasks);
        if (judged.pending.length > 0) return needsReview(ctx, req, judged);
        identities = judged.identities;
        if (req.round < MAX_ACCESS_ROUNDS) {
          const created = planAccessRound(ctx, req, req.round + 1, tasks, identities, blocked);
          if (created > 0) {
            setStage(ctx.db, req.id, 'access', req.round + 1, now);
            auditRequest(ctx, req, 'request.expansion_round', { round: req.round + 1, tasks: created, identities: identities.length });
            return;
          }
        }
        if (req.type === 'erasure') {
          const round = req.round + 1;
          setStage(ctx.db, req.id, 'erase', round, now);
          const created = planPhase(ctx, req, 'erase', round, tasks, identities, blocked);
          auditRequest(ctx, req, 'request.stage', { stage: 'erase', tasks: created, identities: identities.length });
        } else {
          if (failed.length > 0) return needsAttention(ctx, req, failed);
          setStage(ctx.db, req.id, 'finalize', req.round, now);
        }
        continue;
      }
      case 'erase': {
        const round = req.round + 1;
        setStage(ctx.db, req.id, 'verify', round, now);
        const created = planPhase(ctx, req, 'verify', round, tasks, identities, blocked);
        auditRequest(ctx, req, 'request.stage', { stage: 'verify', tasks: created });
        continue;
      }
      case 'verify': {
        if (failed.length > 0) return needsAttention(ctx, req, failed);
        finishErasure(ctx, req, tasks, identities);
        return;
      }
      default:
        return; // finalize: the worker builds the export outside the transaction
    }
  }
}

/**
 * Stops for the DPO: the evidence contradicts itself. The entry names the identities under
 * review by id and type, and where the contradiction was seen — never a value.
 */
function needsReview(ctx: Ctx, req: RequestLite, judged: Judged): void {
  const conflicts = judged.pending.filter((i) => i.why?.code === 'identity_conflict' || i.why?.code === 'leads_to_conflict');
  const reason = `identity conflict: ${judged.pending.length} identit${judged.pending.length === 1 ? 'y needs' : 'ies need'} the DPO's decision`;
  setStatus(ctx.db, req.id, ['running'], 'needs_review', ctx.now(), reason, 'identity_conflict');
  auditRequest(ctx, req, 'request.needs_review', {
    reason: 'identity_conflict',
    pending: judged.pending.map((i) => ({
      identity: i.id,
      type: i.type,
      code: i.why?.code,
      ...(i.why?.conflictingType ? { conflictingType: i.why.conflictingType } : {}),
      ...(i.why?.connector ? { connector: i.why.connector } : {}),
      ...(i.why?.collection ? { collection: i.why.collection } : {}),
      ...(i.why?.round ? { round: i.why.round } : {}),
    })),
    conflicts: conflicts.length,
  });
}

/**
 * After a DPO decision: judges again and, once no identity is under review, moves the request
 * back to running (the next access round searches again where needed). False while some
 * identity still waits.
 */
export function resumeAfterReview(ctx: Ctx, requestId: string): boolean {
  const req = getRequestLite(ctx.db, requestId);
  if (!req || req.status !== 'needs_review') return false;
  const judged = judgeIdentities(ctx, identitiesOf(ctx.db, requestId), tasksOf(ctx.db, requestId));
  if (judged.pending.length > 0) return false;
  if (!setStatus(ctx.db, requestId, ['needs_review'], 'running', ctx.now())) return false;
  auditRequest(ctx, req, 'request.resumed', { after: 'identity_review' });
  advance(ctx, requestId);
  return true;
}

function needsAttention(ctx: Ctx, req: RequestLite, failed: TaskRow[]): void {
  const reason = failed.map((t) => `${t.connectorId} (${t.phase}): ${t.lastErrorCode ?? 'ERROR'} — ${(t.lastError ?? '').slice(0, 200)}`).join('; ');
  setStatus(ctx.db, req.id, ['running'], 'needs_attention', ctx.now(), `${failed.length} task(s) failed: ${reason}`.slice(0, 2000));
  auditRequest(ctx, req, 'request.needs_attention', {
    failed: failed.map((t) => ({ connector: t.connectorId, phase: t.phase, code: t.lastErrorCode, attempts: t.attempts })),
  });
}

/**
 * Records the verification, forgets the person in the consent registry and destroys the
 * request's copy of their identifiers, then completes. A verification that finds data beyond
 * what was declared retained stops in needs_attention instead (retry erases again).
 */
function finishErasure(ctx: Ctx, req: RequestLite, tasks: TaskRow[], identities: IdentityRow[]): void {
  const verification = judgeVerification(tasks);
  ctx.db.$client.prepare('update requests set verification = ? where id = ?').run(JSON.stringify(verification), req.id);
  auditRequest(ctx, req, 'request.verified_erasure', verification as unknown as Record<string, unknown>);
  if (!verification.ok) {
    const what = verification.residual.map((r) => `${r.connector}.${r.collection}: ${r.records}`).join(', ');
    setStatus(ctx.db, req.id, ['running'], 'needs_attention', ctx.now(), `verification found data left after erasure — ${what}`.slice(0, 1000));
    auditRequest(ctx, req, 'request.needs_attention', { reason: 'verification_failed', residual: verification.residual });
    return;
  }
  // Only the request's own people: the registry subjects of the identities given with the
  // request and of those the DPO included — never one reached through a discovered identity
  // (a shared phone, another customer's account): forgetting destroys their consent record.
  const subjects = new Set<string>();
  for (const i of identities) {
    if (i.value === null || i.state !== 'included' || !(i.source === 'request' || i.decision === 'include')) continue;
    const s = findSubjectIdByIdentity(ctx.db, { type: i.type, value: i.value });
    if (s) subjects.add(s);
  }
  const counts = outcomeCounts(tasks);
  // The completion entry still names the person's pseudonym; forgetting destroys it afterwards.
  setStatus(ctx.db, req.id, ['running'], 'completed', ctx.now());
  ctx.db.$client.prepare("update requests set stage = 'done', completed_at = ? where id = ?").run(ctx.now(), req.id);
  auditRequest(ctx, req, 'request.completed', { outcome: counts, subjectsForgotten: subjects.size });
  for (const s of subjects) forgetSubject(ctx, s);
  destroyIdentityValues(ctx.db, req.id);
}

/** Per connector and phase, counts only: what receipts and audit entries carry. */
export function outcomeCounts(tasks: TaskRow[]) {
  const out: { connector: string; phase: TaskPhase; status: string; found: number; deleted: number; masked: number; retained: number }[] = [];
  for (const phase of ['access', 'erase', 'verify'] as const) {
    const latest = new Map<string, TaskRow>();
    for (const t of tasks) {
      const prev = latest.get(t.connectorId);
      if (t.phase === phase && (!prev || t.round >= prev.round)) latest.set(t.connectorId, t);
    }
    for (const [connector, t] of latest) {
      const r = t.result;
      out.push({ connector, phase, status: t.status, found: r?.found ?? 0, deleted: r?.deleted ?? 0, masked: r?.masked ?? 0, retained: r?.retained ?? 0 });
    }
  }
  return out;
}
