/**
 * One request as the DPO sees it: the request's own view (src/requests/views.ts: masked
 * identities with their provenance, tasks with attempts and errors), the timeline of every
 * transition read back from the audit log — who did what, when — and per silo and phase where
 * it stands. What the viewer may do is decided here, from the status and the principal's
 * scopes: a control that would be refused is not offered (the service refuses it anyway).
 */
import type { Ctx } from '../deps.js';
import type { DsrRequest, RequestStatus } from '../db/schema/requests.js';
import type { Scope } from '../db/schema/api-keys.js';
import { requestView } from '../requests/views.js';
import { principalOf } from '../requests/duties.js';
import { OPEN } from '../requests/service.js';

/** Entries shown on the timeline (a request with thousands of task outcomes shows its first ones). */
export const TIMELINE_MAX = 500;

export type AdminAction = 'approve' | 'deny' | 'extend' | 'retry' | 'cancel';

/** The statuses each action starts from (as the request service checks them). */
const ACTION_FROM: Record<AdminAction, readonly RequestStatus[]> = {
  approve: ['awaiting_approval'],
  deny: ['pending_verification', 'awaiting_approval'],
  extend: OPEN,
  retry: ['needs_attention', 'failed'],
  cancel: OPEN,
};
/** Actions that are the DPO's authority, never the opener's. */
const DUTIES: readonly AdminAction[] = ['approve', 'deny', 'extend'];

/**
 * The erasure preview asks every silo where the person is: only for an erasure still to be
 * decided or carried out. Not for a refused or finished one (refused as "identity not
 * verified", its identities may be someone else's), nor for an access request.
 */
export function previewable(req: Pick<DsrRequest, 'type' | 'status'>): boolean {
  return req.type === 'erasure' && OPEN.includes(req.status);
}

export interface TimelineEntry {
  index: number;
  at: string;
  type: string;
  /** Who: a staff member's email, an API key's id, the system. */
  actor: string;
}

export interface SiloPhase {
  connector: string;
  title: string;
  phase: string;
  total: number;
  done: number;
  failed: number;
  attempts: number;
  /** The last error of a task of this silo and phase, in words. */
  lastError: string | null;
}

export interface AdminRequestView {
  request: DsrRequest;
  view: Awaited<ReturnType<typeof requestView>>;
  timeline: TimelineEntry[];
  truncated: boolean;
  silos: SiloPhase[];
  actions: AdminAction[];
  /** This principal opened the request: the DPO's decisions are another's. */
  opener: boolean;
  /** May show an identity in clear (one at a time, audited). */
  mayReveal: boolean;
  /** May include or exclude identities under review. */
  mayDecide: boolean;
  /** May run the erasure preview (it calls every silo). */
  mayPreview: boolean;
}

export async function adminRequestView(ctx: Ctx, req: DsrRequest, scopes: readonly Scope[]): Promise<AdminRequestView> {
  const [view, entries] = await Promise.all([requestView(ctx, req), ctx.db.audit.entriesOfRequest(req.id, TIMELINE_MAX + 1)]);
  const emails = new Map<string, string>();
  const timeline: TimelineEntry[] = [];
  for (const row of entries.slice(0, TIMELINE_MAX)) {
    const e = JSON.parse(row.entry) as { at: string; type: string; actor: { type: string; id: string } };
    let actor = `${e.actor.type}:${e.actor.id}`;
    if (e.actor.type === 'user') {
      if (!emails.has(e.actor.id)) emails.set(e.actor.id, (await ctx.db.auth.user(e.actor.id))?.email ?? actor);
      actor = emails.get(e.actor.id)!;
    }
    timeline.push({ index: row.idx, at: e.at, type: e.type, actor });
  }
  const titles = new Map(ctx.connectors.map((c) => [c.id, c.title]));
  const byKey = new Map<string, SiloPhase>();
  for (const t of view.tasks) {
    const key = `${t.connector}\0${t.phase}`;
    let s = byKey.get(key);
    if (!s) byKey.set(key, (s = { connector: t.connector, title: titles.get(t.connector) ?? t.connector, phase: t.phase, total: 0, done: 0, failed: 0, attempts: 0, lastError: null }));
    s.total++;
    if (t.status === 'done') s.done++;
    if (t.status === 'failed') s.failed++;
    s.attempts += t.attempts;
    if (t.lastError) s.lastError = `${t.lastError.code}: ${t.lastError.message}`;
  }
  const opener = req.createdBy === principalOf(ctx.actor);
  const mayAct = (a: AdminAction) =>
    ACTION_FROM[a].includes(req.status) && (DUTIES.includes(a) ? scopes.includes('requests:approve') && !opener : scopes.includes('requests:write'));
  const actions = (['approve', 'deny', 'extend', 'retry', 'cancel'] as const).filter(mayAct);
  const approver = scopes.includes('requests:approve');
  return {
    request: req,
    view,
    timeline,
    truncated: entries.length > TIMELINE_MAX,
    silos: [...byKey.values()],
    actions,
    opener,
    mayReveal: scopes.includes('requests:verify'),
    mayDecide: approver && !opener && req.status === 'needs_review',
    mayPreview: approver && previewable(req),
  };
}
