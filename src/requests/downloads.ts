/**
 * Handing over an access / portability archive: who may have it (its request, completed, not
 * expired), where it is (see spool.ts: never a path the database alone chose), and the audit
 * entry saying it was downloaded — written before the first byte leaves.
 */
import type { ReadStream } from 'node:fs';
import { Readable } from 'node:stream';
import { open } from 'node:fs/promises';
import type { Ctx } from '../deps.js';
import { ConflictError, NotFoundError } from '../errors.js';
import { auditRequest, requestLock } from './audit.js';
import { requireRequest } from './service.js';
import { exportFileOf } from './spool.js';
import { checkArchiveLink } from './archive-link.js';

export interface ExportDownload {
  requestId: string;
  size: number;
  filename: string;
  stream: ReadStream;
}

const expired = () => new NotFoundError('EXPORT_EXPIRED', 'the export was deleted after its retention period');

/**
 * The archive is still the person's to have: its retention is not over. Checked on the row, not
 * on the file: the sweep deletes the file some time after, and until then it must not be served.
 */
export function exportKept(req: { exportExpiresAt: number | null }, now: number): boolean {
  return req.exportExpiresAt !== null && req.exportExpiresAt > now;
}

/**
 * Opens the request's archive and records the download. The file is opened before the entry is
 * written and read from that descriptor: a sweep deleting it meanwhile cannot leave an audited
 * download that sends nothing.
 */
export async function downloadExport(ctx: Ctx, id: string): Promise<ExportDownload> {
  const req = await requireRequest(ctx, id);
  if (req.type === 'erasure') throw new ConflictError('NO_EXPORT_FOR_ERASURE', 'an erasure request has no export');
  if (req.status !== 'completed') throw new ConflictError('EXPORT_NOT_READY', `the export is ready once the request is completed (it is ${req.status})`, { status: req.status });
  const file = exportFileOf(ctx.config.dataDir, req);
  if (!file || !exportKept(req, ctx.now())) throw expired();
  const fd = await open(file, 'r').catch(() => {
    throw expired();
  });
  try {
    const { size } = await fd.stat();
    await ctx.db.tx((t) => auditRequest(ctx, t, req, 'request.export_downloaded', { bytes: size }), { locks: [requestLock(req.id)] });
    return { requestId: req.id, size, filename: `oubli-${req.id}.zip`, stream: fd.createReadStream() };
  } catch (err) {
    await fd.close();
    throw err;
  }
}

/** The HTTP answer streaming an archive (the API's and the portal's download). */
export function archiveResponse(file: ExportDownload): Response {
  return new Response(Readable.toWeb(file.stream) as unknown as ReadableStream, {
    status: 200,
    headers: {
      'content-type': 'application/zip',
      'content-length': String(file.size),
      'content-disposition': `attachment; filename="${file.filename}"`,
      'cache-control': 'no-store',
    },
  });
}

/**
 * The archive a signed link opens (./archive-link.ts), downloaded as the link's holder: the
 * audit entry names the link, not a person. `expired` for a genuine link past its time; a
 * tampered or made-up link, or one to an archive no longer kept, is not found.
 */
export async function downloadByLink(ctx: Ctx, token: string): Promise<ExportDownload | { expired: true }> {
  const link = await checkArchiveLink(ctx, token);
  if (!link.ok) {
    if (link.expired) return { expired: true };
    throw new NotFoundError('LINK_NOT_FOUND', 'no such link');
  }
  return downloadExport({ ...ctx, actor: { type: 'subject', id: `link:${link.linkId}` } }, link.requestId);
}
