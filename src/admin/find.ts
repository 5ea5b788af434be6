/**
 * Finding a person's requests by an identifier (an email, a phone…), for the DPO: the value comes
 * in a POST body — never in an address, a log or the audit log — is normalised as requests'
 * identities are, and looked up by its keyed hash in the consent registry (the subject holding
 * it); the requests are that subject's. The search is audited: who searched, for which type of
 * identifier, how many requests it found — not the value. An unverified request names no subject
 * and is not found this way (its number is).
 */
import type { Ctx } from '../deps.js';
import type { DsrRequest } from '../db/schema/requests.js';
import { normalizeIdentities } from '../requests/service.js';

export const FIND_MAX = 100;

export async function findRequestsByIdentity(ctx: Ctx, input: { type: string; value: string }): Promise<DsrRequest[]> {
  const [identity] = normalizeIdentities(ctx, [input]);
  const subjectId = await ctx.db.subjects.idByIdentity(identity!);
  const found = subjectId ? await ctx.db.requests.ofSubject(subjectId, FIND_MAX) : [];
  await ctx.db.tx((t) => ctx.audit.append(t, { type: 'request.searched', actor: ctx.actor, data: { identityType: identity!.type, found: found.length } }));
  return found;
}
