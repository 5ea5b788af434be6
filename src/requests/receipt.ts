/**
 * The request receipt: a JWS (audit key) naming the request, its type and outcome per
 * connector (counts only), each of its audit entries with an RFC 9162 inclusion proof, and the
 * signed tree head they are proven against. What the person or a regulator keeps; checkable
 * offline with src/audit/verify.ts.
 */
import type { Ctx } from '../deps.js';
import type { DsrRequest } from '../db/schema/requests.js';
import { toHex } from '../audit/verify.js';
import { ConflictError } from '../errors.js';
import { outcomeCounts } from './plan.js';

const FINISHED = ['completed', 'failed', 'denied', 'cancelled', 'expired'];

export async function requestReceipt(ctx: Ctx, req: DsrRequest): Promise<{ jws: string }> {
  if (!FINISHED.includes(req.status)) {
    throw new ConflictError('REQUEST_NOT_FINISHED', `a receipt is issued once the request is finished (it is ${req.status})`, { status: req.status });
  }
  const indices = await ctx.db.audit.indicesOfRequest(req.id);
  // A head that covers every entry of the request (sign one if the latest is older).
  let head = await ctx.treeHeads.current();
  if (indices.length && head.size <= indices.at(-1)!) head = await ctx.treeHeads.sign();
  const payload = {
    typ: 'oubli-request-receipt',
    // When it was signed: verifiers reject a receipt signed by a key after that key's notAfter.
    issuedAt: ctx.now(),
    request: {
      id: req.id,
      type: req.type,
      status: req.status,
      receivedAt: new Date(req.receivedAt).toISOString(),
      dueAt: new Date(req.dueAt).toISOString(),
      completedAt: req.completedAt ? new Date(req.completedAt).toISOString() : null,
    },
    outcome: outcomeCounts(await ctx.db.tasks.ofRequest(req.id)),
    verification: req.verification,
    entries: await Promise.all(
      indices.map(async (index) => ({
        index,
        leafHash: toHex(await ctx.audit.leafHashAt(index)),
        proof: (await ctx.audit.inclusionProof(index, head.size)).map(toHex),
      })),
    ),
    treeHead: { log: head.log, size: head.size, root: head.root, timestamp: head.timestamp, jws: head.jws },
  };
  return { jws: await ctx.keys.sign(payload, 'oubli-receipt+jws') };
}
