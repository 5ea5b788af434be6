/**
 * One connector call: the identities it may use, the call itself (outside any transaction,
 * within its time limit), the validation of what the silo answered, and — for an access or
 * portability request — the records spooled to disk before the outcome is recorded. Nothing
 * here writes to the database: ./outcomes.ts records what this returns.
 */
import type { Connector, ConnectorContext } from '../../connectors/types.js';
import { ConnectorError, isPending } from '../../connectors/types.js';
import type { Ctx } from '../deps.js';
import type { Task, TaskCounts } from '../db/schema/tasks.js';
import { attributeAccess, type CallIdentity, type Discovery } from '../requests/attribution.js';
import { erasableIds, searchableIds } from '../requests/identities.js';
import { validateAccess, validateErasure } from '../requests/results.js';
import { abortable } from '../requests/silo-call.js';
import { spoolFile, writeSpool } from '../requests/spool.js';

export interface CallOutcome {
  /** `waiting`: an asynchronous erasure, completed later by the silo's callback. */
  status: 'done' | 'waiting';
  counts: TaskCounts;
  discovered: Discovery[];
}

export interface CallJob {
  task: Task;
  /** Spool the records found (an access task of an access or portability request). */
  keepRecords: boolean;
  connector: Connector;
  signal: AbortSignal;
  /** Called with the wall time spent inside the connector (ms). */
  timed: (ms: number) => void;
}

export async function callConnector(ctx: Ctx, job: CallJob): Promise<CallOutcome> {
  const { task, connector, signal } = job;
  const req = { id: task.requestId };
  // Only identities held for the person (never a weak link or one under review); an erasure
  // only those this silo's access pass already searched by (so judged).
  const identities = await ctx.db.requests.identities(req.id);
  // Every request holds the identities it was opened with (their masked form at least).
  if (identities.length === 0) throw new ConnectorError('REQUEST_MISSING', 'the request no longer exists', false);
  // (An erasure's identities depend only on this silo's finished access calls: read just those,
  // not the request's every task — a request may fan out to a thousand silos.)
  const allowed = new Set(
    task.phase === 'access' ? searchableIds(connector, identities) : erasableIds(connector, await ctx.db.tasks.doneAccessOf(req.id, connector.id), identities),
  );
  const call: CallIdentity[] = identities
    .filter((i) => i.id <= task.identityWatermark && allowed.has(i.id))
    .map((i) => ({ id: i.id, type: i.type, value: i.value! }));
  const who = call.map(({ type, value }) => ({ type, value }));
  const searched = call.map((i) => i.id);
  const cctx: ConnectorContext = {
    signal,
    requestId: req.id,
    dryRun: false,
    log: ctx.logger.child({ connector: connector.id, requestId: req.id, taskId: task.id }),
  };
  const t0 = performance.now();
  let raw: unknown;
  try {
    raw = await abortable<unknown>(task.phase === 'erase' ? connector.erase(who, cctx) : connector.access(who, cctx), signal);
  } finally {
    job.timed(performance.now() - t0);
  }
  if (task.phase === 'erase') {
    const r = validateErasure(raw);
    if (isPending(r)) return { status: 'waiting', counts: { collections: [], found: 0, deleted: 0, masked: 0, retained: 0, pendingRef: r.ref, searched }, discovered: [] };
    const counts: TaskCounts = { collections: r.collections.map((c) => ({ ...c })), found: 0, deleted: 0, masked: 0, retained: 0, searched };
    for (const c of r.collections) {
      counts.deleted += c.deleted;
      counts.masked += c.masked;
      counts.retained += c.retained;
    }
    return { status: 'done', counts, discovered: [] };
  }
  const r = validateAccess(raw);
  raw = undefined;
  const attributed = attributeAccess(r, call, { connectorId: connector.id, defaultRegion: ctx.config.phoneRegion });
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
  if (task.phase === 'access' && job.keepRecords) {
    await writeSpool(spoolFile(ctx.config.dataDir, req.id, task.id), r.collections, attributed.origins);
  }
  return { status: 'done', counts, discovered: task.phase === 'access' ? attributed.discoveries : [] };
}
