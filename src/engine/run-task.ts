/**
 * One connector call: the identities it may use, the call itself (outside any transaction,
 * within its time limit), the validation of what the silo answered, and — for an access or
 * portability request — the records spooled to disk before the outcome is recorded. Nothing
 * here writes to the database: ./outcomes.ts records what this returns.
 *
 * A silo that answers later (capabilities.callback) is given a callback (./waiting.ts) and may
 * answer Pending: the task then waits. Its answer, when it comes, goes through the same
 * validation and spooling (`readResult`, `outcomeOf`) as an answer given at once.
 */
import type { AccessResult, Connector, ConnectorContext, ErasureResult, Pending } from '../../connectors/types.js';
import { ConnectorError, isPending } from '../../connectors/types.js';
import type { Ctx } from '../deps.js';
import type { Stores } from '../db/handle.js';
import type { Task, TaskCounts } from '../db/schema/tasks.js';
import { attributeAccess, type CallIdentity, type Discovery } from '../requests/attribution.js';
import { erasableIds, searchableIds } from '../requests/identities.js';
import { validateAccess, validateErasure, validatePending } from '../requests/results.js';
import { abortable } from '../requests/silo-call.js';
import { spoolFile, writeSpool } from '../requests/spool.js';
import { callbackFor, waitOf } from './waiting.js';

export interface CallOutcome {
  /** `waiting`: an asynchronous silo, answering later through its callback. */
  status: 'done' | 'waiting';
  counts: TaskCounts;
  discovered: Discovery[];
  /** `waiting`: when the engine next looks at the task (a reminder, or the deadline). */
  next?: number;
}

export interface CallJob {
  task: Task;
  /** Spool the records found (an access task of an access or portability request). */
  keepRecords: boolean;
  connector: Connector;
  signal: AbortSignal;
  /** Called with the wall time spent inside the connector (ms). */
  timed: (ms: number) => void;
  /** Set for a reminder of a waiting task (its number): the same call, the same callback. */
  reminder?: number;
}

/** What a silo answered, validated: a result of the task's phase, or a promise to answer later. */
export type ReadResult =
  | { kind: 'pending'; pending: Pending }
  | { kind: 'erasure'; result: ErasureResult }
  | { kind: 'access'; result: AccessResult };

/**
 * The identities a task's call uses. Only identities held for the person (never a weak link
 * or one under review); an erasure only those this silo's access pass already searched by (so
 * judged). A task that waited uses exactly those its first call was made with.
 */
export async function callIdentities(h: Pick<Stores, 'requests' | 'tasks'>, task: Task, connector: Connector): Promise<CallIdentity[]> {
  if (task.result?.wait) return searchedIdentities(h, task);
  const identities = await h.requests.identities(task.requestId);
  // Every request holds the identities it was opened with (their masked form at least).
  if (identities.length === 0) throw new ConnectorError('REQUEST_MISSING', 'the request no longer exists', false);
  // (An erasure's identities depend only on this silo's finished access calls: read just those,
  // not the request's every task — a request may fan out to a thousand silos.)
  const allowed = new Set(
    task.phase === 'access' ? searchableIds(connector, identities) : erasableIds(connector, await h.tasks.doneAccessOf(task.requestId, connector.id), identities),
  );
  return identities.filter((i) => i.id <= task.identityWatermark && allowed.has(i.id)).map((i) => ({ id: i.id, type: i.type, value: i.value! }));
}

/** The identities a task's call was made with (`result.searched`), as they are held now. */
export async function searchedIdentities(h: Pick<Stores, 'requests'>, task: Task): Promise<CallIdentity[]> {
  const searched = new Set(task.result?.searched ?? []);
  const identities = await h.requests.identities(task.requestId);
  if (identities.length === 0) throw new ConnectorError('REQUEST_MISSING', 'the request no longer exists', false);
  return identities.filter((i) => i.value !== null && searched.has(i.id)).map((i) => ({ id: i.id, type: i.type, value: i.value! }));
}

/** The call and what it answered, validated (nothing spooled, nothing recorded). */
export interface Asked {
  read: ReadResult;
  call: CallIdentity[];
  /** The callback's `since`, when the call had one. */
  since?: number;
}

export async function askConnector(ctx: Ctx, job: Omit<CallJob, 'keepRecords'>): Promise<Asked> {
  const { task, connector, signal } = job;
  const call = await callIdentities(ctx.db, task, connector);
  const who = call.map(({ type, value }) => ({ type, value }));
  const cctx: ConnectorContext = {
    signal,
    requestId: task.requestId,
    dryRun: false,
    log: ctx.logger.child({ connector: connector.id, requestId: task.requestId, taskId: task.id }),
    ...(connector.capabilities.callback ? { callback: callbackFor(ctx, task, job.reminder ?? 0) } : {}),
  };
  const t0 = performance.now();
  let raw: unknown;
  try {
    raw = await abortable<unknown>(task.phase === 'erase' ? connector.erase(who, cctx) : connector.access(who, cctx), signal);
  } finally {
    job.timed(performance.now() - t0);
  }
  return { read: readResult(task, raw, cctx.callback !== undefined), call, ...(cctx.callback ? { since: cctx.callback.since } : {}) };
}

export async function callConnector(ctx: Ctx, job: CallJob): Promise<CallOutcome> {
  const asked = await askConnector(ctx, job);
  return outcomeOf(ctx, { task: job.task, call: asked.call, keepRecords: job.keepRecords, since: asked.since }, asked.read);
}

/**
 * Validates what a silo answered for this task (untrusted input: a malformed answer fails the
 * task, not retryable). Pending from an access only when the call had a callback to answer to.
 */
export function readResult(task: Pick<Task, 'phase'>, raw: unknown, canWait: boolean): ReadResult {
  if (raw !== null && typeof raw === 'object' && (raw as { pending?: unknown }).pending === true) {
    if (task.phase !== 'erase' && !canWait) throw new ConnectorError('MALFORMED_RESULT', 'connector answered an access with Pending, but it had no callback to answer to', false);
    return { kind: 'pending', pending: validatePending(raw) };
  }
  if (task.phase === 'erase') {
    const r = validateErasure(raw);
    // (validateErasure answers Pending only for `pending: true`, handled above.)
    if (isPending(r)) return { kind: 'pending', pending: r };
    return { kind: 'erasure', result: r };
  }
  return { kind: 'access', result: validateAccess(raw) };
}

export interface Settle {
  task: Task;
  /** The identities the call was made with. */
  call: CallIdentity[];
  keepRecords: boolean;
  /** When the task first asked (its callback's `since`), for a Pending. */
  since?: number;
}

/**
 * A validated answer as the task's outcome: counts, the identities found and — for an access
 * or portability request — the records spooled, before the outcome is recorded as done.
 */
export async function outcomeOf(ctx: Ctx, s: Settle, read: ReadResult): Promise<CallOutcome> {
  const { task, call } = s;
  const searched = call.map((i) => i.id);
  if (read.kind === 'pending') {
    const { wait, next } = waitOf(ctx, task, read.pending, s.since ?? ctx.now());
    return { status: 'waiting', counts: { collections: [], found: 0, deleted: 0, masked: 0, retained: 0, pendingRef: read.pending.ref, searched, wait }, discovered: [], next };
  }
  if (read.kind === 'erasure') {
    const r = read.result;
    const counts: TaskCounts = { collections: r.collections.map((c) => ({ ...c })), found: 0, deleted: 0, masked: 0, retained: 0, searched };
    for (const c of r.collections) {
      counts.deleted += c.deleted;
      counts.masked += c.masked;
      counts.retained += c.retained;
    }
    return { status: 'done', counts, discovered: [] };
  }
  const r = read.result;
  const attributed = attributeAccess(r, call, { connectorId: task.connectorId, defaultRegion: ctx.config.phoneRegion });
  const counts: TaskCounts = {
    collections: r.collections.map((c) => ({ name: c.name, found: c.records.length, portable: c.portable, ...(c.matchedBy ? { matchedBy: c.matchedBy } : {}) })),
    found: r.collections.reduce((n, c) => n + c.records.length, 0),
    deleted: 0,
    masked: 0,
    retained: 0,
    discovered: r.discovered.length,
    searched,
  };
  // Only access/portability requests keep the records, spooled before "done" is recorded.
  if (task.phase === 'access' && s.keepRecords) {
    await writeSpool(spoolFile(ctx.config.dataDir, task.requestId, task.id), r.collections, attributed.origins);
  }
  return { status: 'done', counts, discovered: task.phase === 'access' ? attributed.discoveries : [] };
}
