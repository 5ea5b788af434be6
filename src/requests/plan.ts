/**
 * Which connector tasks a running request needs next (identity expansion rounds, erase,
 * verify), and what their outcomes add up to. The planners write the tasks (together) in the caller's
 * transaction — the one that moves the request's stage — so a stage and its tasks commit
 * together; the rest is pure.
 */
import type { Connector } from '../../connectors/types.js';
import type { Ctx } from '../deps.js';
import type { Stores } from '../db/handle.js';
import type { Verification } from '../db/schema/requests.js';
import type { RequestIdentity } from '../db/schema/request-identities.js';
import { FINALIZE_CONNECTOR, type ConnectorPhase, type Task, type TaskPhase } from '../db/schema/tasks.js';
import type { NewTask } from '../db/stores/tasks.js';
import { erasableIds, includedIds, searchableIds, searchedByAccess, searchedOf } from './identities.js';

/**
 * Identity expansion bounds: identities per request; access rounds (a safety net — expansion
 * ends by itself: a silo is searched again only with an identity it has not searched by, or
 * once an identity it searched by is no longer held for the person).
 */
export const MAX_IDENTITIES = 50;
export const MAX_ACCESS_ROUNDS = 20;

/** The tasks one planning step creates, written together. */
class NewTasks {
  private readonly rows: NewTask[] = [];
  constructor(
    private readonly ctx: Ctx,
    private readonly requestId: string,
  ) {}
  add(connectorId: string, phase: TaskPhase, round: number, identityWatermark: number): void {
    this.rows.push({ id: this.ctx.ids('tsk'), requestId: this.requestId, connectorId, phase, round, now: this.ctx.now(), identityWatermark });
  }
  async write(t: Stores): Promise<number> {
    await t.tasks.insertMany(this.rows);
    return this.rows.length;
  }
}

const maxId = (identities: readonly RequestIdentity[]) => identities.reduce((m, i) => Math.max(m, i.id), 0);

/** Latest done task per connector for a phase (a later round supersedes an earlier one). */
export function latestDone(tasks: readonly Task[], phase: TaskPhase): Map<string, Task> {
  const out = new Map<string, Task>();
  for (const t of tasks) {
    if (t.phase !== phase || t.status !== 'done') continue;
    const prev = out.get(t.connectorId);
    if (!prev || t.round > prev.round || (t.round === prev.round && t.identityWatermark > prev.identityWatermark)) out.set(t.connectorId, t);
  }
  return out;
}

/**
 * Access tasks for the connectors that need one: a silo not yet searched by every identity it
 * may use (fresh), or whose latest search used an identity no longer held for the person
 * (stale: its result would mix in someone else's records). Answers how many it created.
 */
export async function planAccessRound(
  ctx: Ctx,
  t: Stores,
  requestId: string,
  round: number,
  tasks: readonly Task[],
  identities: readonly RequestIdentity[],
  blocked: ReadonlySet<string> = new Set(),
): Promise<number> {
  const included = includedIds(identities);
  const latest = latestDone(tasks, 'access');
  const created = new NewTasks(ctx, requestId);
  for (const c of ctx.connectors) {
    if (!c.capabilities.access || blocked.has(c.id)) continue;
    const usable = searchableIds(c, identities);
    if (usable.length === 0) continue;
    const searched = searchedByAccess(tasks, c, identities);
    const last = latest.get(c.id);
    const fresh = usable.some((id) => !searched.has(id));
    const stale = last !== undefined && searchedOf(last, identities, c).some((id) => !included.has(id));
    if (!fresh && !stale) continue;
    created.add(c.id, 'access', round, maxId(identities));
  }
  return created.write(t);
}

const covers = (task: Task, ids: number[], identities: readonly RequestIdentity[], c: Connector) => {
  const s = new Set(searchedOf(task, identities, c));
  return ids.every((id) => s.has(id));
};

/**
 * Erase / verify tasks for the connectors that still need one: no erase done with every
 * identity they may erase by yet; no verification since their latest erasure. Connectors with
 * a failed task are skipped (the request ends in needs_attention; a retry plans them again).
 */
export async function planPhase(
  ctx: Ctx,
  t: Stores,
  requestId: string,
  phase: Exclude<ConnectorPhase, 'access'>,
  round: number,
  tasks: readonly Task[],
  identities: readonly RequestIdentity[],
  blocked: ReadonlySet<string>,
): Promise<number> {
  const created = new NewTasks(ctx, requestId);
  for (const c of ctx.connectors) {
    const capable = phase === 'erase' ? c.capabilities.erasure : c.capabilities.access;
    if (!capable || blocked.has(c.id)) continue;
    const who = erasableIds(c, tasks, identities);
    if (who.length === 0) continue;
    const mine = tasks.filter((x) => x.connectorId === c.id && x.status === 'done');
    // A silo whose latest access pass, with every identity it may erase by, found nothing
    // holds nothing to erase or verify (the contract makes access and erase see the same data).
    const last = latestDone(tasks, 'access').get(c.id);
    if (c.capabilities.access && last && covers(last, who, identities, c) && (last.result?.found ?? 0) === 0) {
      const erased = mine.some((x) => x.phase === 'erase');
      if (phase === 'erase' || !erased) continue;
    }
    if (phase === 'erase') {
      if (mine.some((x) => x.phase === 'erase' && covers(x, who, identities, c))) continue;
    } else {
      const lastErase = mine.filter((x) => x.phase === 'erase').reduce((m, x) => Math.max(m, x.round), 0);
      if (mine.some((x) => x.phase === 'verify' && x.round > lastErase && covers(x, who, identities, c))) continue;
    }
    created.add(c.id, phase, round, maxId(identities));
  }
  return created.write(t);
}

/** After a failed verification: erase again everywhere with every identity held, then verify. */
export async function planErasureAgain(ctx: Ctx, t: Stores, requestId: string, round: number): Promise<number> {
  const identities = await t.requests.identities(requestId);
  const tasks = await t.tasks.ofRequest(requestId);
  const created = new NewTasks(ctx, requestId);
  for (const c of ctx.connectors) {
    if (!c.capabilities.erasure || erasableIds(c, tasks, identities).length === 0) continue;
    created.add(c.id, 'erase', round, maxId(identities));
  }
  return created.write(t);
}

/** The export build of an access or portability request: oubli's own last step (no silo). */
export async function planExport(ctx: Ctx, t: Stores, requestId: string, round: number): Promise<void> {
  const created = new NewTasks(ctx, requestId);
  created.add(FINALIZE_CONNECTOR, 'finalize', round, 0);
  await created.write(t);
}

/** What the verification pass found, judged against what the erase pass declared kept. */
export function judgeVerification(tasks: readonly Task[]): Verification {
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

/** Per connector and phase, counts only: what receipts and audit entries carry. */
export function outcomeCounts(tasks: readonly Task[]) {
  const out: { connector: string; phase: ConnectorPhase; status: string; found: number; deleted: number; masked: number; retained: number }[] = [];
  for (const phase of ['access', 'erase', 'verify'] as const) {
    const latest = new Map<string, Task>();
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
