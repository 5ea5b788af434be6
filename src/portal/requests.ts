/**
 * The privacy portal's requests: a signed-in person asks for access, portability or erasure of
 * their data, sees what an erasure would delete and keep before confirming it, and follows each
 * request — what the person may know of it, in their terms (silo titles, not connector ids,
 * counts or error texts).
 *
 * Invariants:
 * - a request opened here is the request service's (src/requests/service.ts `openRequest`),
 *   channel `web`, verified — the sign-in code proved the email it is opened for — and opened by
 *   the actor `subject:<the session's email pseudonym>`;
 * - a person reaches a request (list, status page, archive, receipt) if that actor opened it, or
 *   if it names the session's registry subject. The pseudonym is recomputed from the proven
 *   email at every sign-in (src/portal/codes.ts), so it survives the erasure of the person (the
 *   registry subject does not: after an erasure only the requests opened here stay listed). The
 *   shared subject is the same person because both sides were proven: the session's subject is
 *   the one the registry holds the signed-in email under (found at sign-in, or created by the
 *   person's own verified request), and a request names a subject only once it is verified
 *   (src/requests/service.ts: its primary identity found or created it) — so a request staff or
 *   the API opened and verified for that person shows here. An unverified request names no
 *   subject (anyone can claim an email) and stays out of the portal;
 * - no id typed in the address bar leads to anyone else's request: NotFound, the same answer as
 *   an id that does not exist;
 * - the only identity a request opened here carries is the session's email: nothing from the
 *   form names a person.
 */
import type { Ctx } from '../deps.js';
import type { DsrRequest, RequestType } from '../db/schema/requests.js';
import { REQUEST_TYPES } from '../db/schema/requests.js';
import type { TaskStatus } from '../db/schema/tasks.js';
import { FINALIZE_CONNECTOR } from '../db/schema/tasks.js';
import { NotFoundError, TooManyRequestsError } from '../errors.js';
import { OPEN, TERMINAL, openRequest } from '../requests/service.js';
import { previewErasure } from '../requests/preview.js';
import { PAGE_LINK_TTL_MS, archiveLinkToken } from '../requests/archive-link.js';
import { exportFileOf } from '../requests/spool.js';
import { exportKept } from '../requests/downloads.js';
import { requestReceipt } from '../requests/receipt.js';
import type { PortalSessionView } from './sessions.js';

export const PORTAL_REQUEST_TYPES: readonly RequestType[] = REQUEST_TYPES;
/** The most requests a person's list shows (a person asks a handful over years). */
const LIST_LIMIT = 100;

const creatorOf = (s: PortalSessionView) => `subject:${s.emailRef}`;
/** The portal's actor for the session's person (as src/web/portal-routes.tsx builds it). */
const asPerson = (ctx: Ctx, s: PortalSessionView): Ctx => ({ ...ctx, actor: { type: 'subject', id: s.emailRef } });

/**
 * Opens the person's request — or answers the one of that type they already have open
 * (`existing`): every request fans out to every silo, and a person clicking again, or a script
 * behind a stolen session, must not multiply that work.
 */
export async function openPortalRequest(ctx: Ctx, s: PortalSessionView, input: { type: RequestType; lang: 'fr' | 'en' }): Promise<{ request: DsrRequest; existing: boolean }> {
  const open = (await portalRequests(ctx, s)).find((r) => r.type === input.type && OPEN.includes(r.status));
  if (open) return { request: open, existing: true };
  const { request } = await openRequest(asPerson(ctx, s), {
    type: input.type,
    identities: [{ type: 'email', value: s.email }],
    channel: 'web',
    locale: input.lang,
    verified: true,
  });
  // The verified request found or created the person: the session now names them.
  if (!s.subjectId && request.subjectId) {
    await ctx.db.tx((t) => t.portal.setSessionSubject(s.id, request.subjectId!));
    s.subjectId = request.subjectId;
  }
  return { request, existing: false };
}

/** The person's requests, newest first: opened here, or naming their registry subject. */
export function portalRequests(ctx: Ctx, s: PortalSessionView): Promise<DsrRequest[]> {
  return ctx.db.requests.ofPerson(creatorOf(s), s.subjectId, LIST_LIMIT);
}

/** The session's person may see `req` (the same rule as portalRequests). */
const isPersons = (s: PortalSessionView, req: DsrRequest) => req.createdBy === creatorOf(s) || (s.subjectId !== null && req.subjectId === s.subjectId);

/** The session's person's request `id`, or NotFoundError (also for anyone else's). */
export async function portalRequestRow(ctx: Ctx, s: PortalSessionView, id: string): Promise<DsrRequest> {
  const req = /^req_[0-9a-z]{1,64}$/.test(id) ? await ctx.db.requests.get(id) : undefined;
  if (!req || !isPersons(s, req)) throw new NotFoundError('REQUEST_NOT_FOUND', 'no such request');
  return req;
}

/** One silo's part in a request, as the person sees it. */
export interface SiloProgress {
  title: string;
  state: 'waiting' | 'working' | 'done' | 'delayed';
}

export interface PortalRequestView {
  request: DsrRequest;
  silos: SiloProgress[];
  /** An access or portability archive is ready to download. */
  archive: boolean;
  /** The request is finished: its signed receipt can be downloaded. */
  receipt: boolean;
}

const RANK: Record<SiloProgress['state'], number> = { done: 0, waiting: 1, working: 2, delayed: 3 };
const STATE_OF: Record<TaskStatus, SiloProgress['state']> = { queued: 'waiting', running: 'working', waiting: 'working', done: 'done', failed: 'delayed', cancelled: 'done' };

export async function portalRequest(ctx: Ctx, s: PortalSessionView, id: string): Promise<PortalRequestView> {
  const request = await portalRequestRow(ctx, s, id);
  const tasks = await ctx.db.tasks.ofRequest(request.id);
  const titles = new Map(ctx.connectors.map((c) => [c.id, c.title]));
  // Per silo, the least advanced of its tasks (access, erase, verify) tells where it stands.
  const bySilo = new Map<string, SiloProgress['state']>();
  for (const t of tasks) {
    if (t.connectorId === FINALIZE_CONNECTOR || t.phase === 'finalize') continue;
    const state = STATE_OF[t.status];
    const had = bySilo.get(t.connectorId);
    if (had === undefined || RANK[state] > RANK[had]) bySilo.set(t.connectorId, state);
  }
  const silos = [...bySilo].map(([cid, state]) => ({ title: titles.get(cid) ?? cid, state })).sort((a, b) => a.title.localeCompare(b.title));
  return {
    request,
    silos,
    archive: request.type !== 'erasure' && request.status === 'completed' && request.exportPath !== null && exportKept(request, ctx.now()),
    receipt: TERMINAL.includes(request.status),
  };
}

/** What an erasure would do, per silo, in the person's terms. */
export interface ErasurePlan {
  silos: {
    title: string;
    deleted: number;
    masked: number;
    retained: { records: number; because: string | null }[];
    /** The preview could not reach the silo: the request will still cover it. */
    unreachable: boolean;
  }[];
  /** Some records found need a check by the team before they count as the person's. */
  review: boolean;
}

/** Erasure previews per person and window: each one calls every silo (dry run). */
export const PREVIEWS_PER_WINDOW = 10;
export const PREVIEW_WINDOW_MS = 15 * 60_000;

/**
 * Throws TooManyRequestsError TOO_MANY_PREVIEWS past PREVIEWS_PER_WINDOW: the counter is the
 * API rate limiter's shared fixed window (src/db/stores/limits.ts), keyed by the person's
 * pseudonym, so the limit holds across instances.
 */
async function takePreview(ctx: Ctx, s: PortalSessionView): Promise<void> {
  const now = ctx.now();
  const windowStart = now - (now % PREVIEW_WINDOW_MS);
  const taken = await ctx.db.tx((t) => t.limits.takeApiRequest(`portal-preview:${s.emailRef}`, windowStart));
  if (taken.count > PREVIEWS_PER_WINDOW) {
    throw new TooManyRequestsError('TOO_MANY_PREVIEWS', 'too many erasure previews; try again later', Math.max(1, Math.ceil((taken.windowStart + PREVIEW_WINDOW_MS - now) / 1000)));
  }
}

export async function portalErasurePlan(ctx: Ctx, s: PortalSessionView): Promise<ErasurePlan> {
  await takePreview(ctx, s);
  const preview = await previewErasure(asPerson(ctx, s), [{ type: 'email', value: s.email }]);
  const titles = new Map(ctx.connectors.map((c) => [c.id, c.title]));
  const silos = preview.connectors
    .map((c) => ({
      title: titles.get(c.connector) ?? c.connector,
      deleted: c.collections.reduce((n, col) => n + col.deleted, 0),
      masked: c.collections.reduce((n, col) => n + col.masked, 0),
      retained: c.collections.filter((col) => col.retained > 0).map((col) => ({ records: col.retained, because: col.retainedBecause ?? null })),
      unreachable: c.error !== null,
    }))
    .filter((x) => x.unreachable || x.deleted + x.masked + x.retained.length > 0)
    .sort((a, b) => a.title.localeCompare(b.title));
  return { silos, review: preview.review.needed };
}

/**
 * A 10-minute signed link to the archive of the person's completed access or portability
 * request (src/requests/archive-link.ts), or NotFoundError when there is none to download.
 */
export async function portalArchiveLink(ctx: Ctx, s: PortalSessionView, id: string): Promise<string> {
  const req = await portalRequestRow(ctx, s, id);
  if (req.type === 'erasure' || req.status !== 'completed' || !exportFileOf(ctx.config.dataDir, req) || !exportKept(req, ctx.now())) throw new NotFoundError('EXPORT_NOT_FOUND', 'no archive to download');
  return `/privacy/archive/${await archiveLinkToken(ctx, req.id, PAGE_LINK_TTL_MS)}`;
}

/**
 * The signed receipt of the person's finished request (src/requests/receipt.ts: its audit
 * entries with inclusion proofs and the tree head they are proven against), or NotFoundError
 * before it is finished.
 */
export async function portalRequestReceipt(ctx: Ctx, s: PortalSessionView, id: string): Promise<string> {
  const req = await portalRequestRow(ctx, s, id);
  if (!TERMINAL.includes(req.status)) throw new NotFoundError('REQUEST_NOT_FOUND', 'no receipt before the request is finished');
  return (await requestReceipt(asPerson(ctx, s), req)).jws;
}
