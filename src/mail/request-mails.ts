/**
 * Which changes of a request the person is told of by e-mail, and the outbox row that makes
 * sure they are: written in the transaction of the change (src/requests/audit.ts), so a change
 * never commits without its mail, nor a mail without its change; sent by ./sender.ts.
 *
 * - request.received   → received (with the deadline; "we will check it is you" if unverified);
 * - request.extended   → extended (the new deadline and the reason);
 * - request.completed  → completed (an access or portability request: the archive's link);
 * - request.denied     → denied (the reason, the right to complain).
 *
 * The address is the email given with the request (the portal's: the proven one), read while
 * the request still holds it — an erasure's completion is announced before its identities are
 * destroyed — and sealed into the row. A request given no email gets no mail.
 */
import type { Ctx } from '../deps.js';
import type { Stores } from '../db/handle.js';
import type { RequestMailKind } from '../db/schema/mails.js';
import type { DsrRequest } from '../db/schema/requests.js';
import { seal, unseal } from '../secrets/seal.js';

/** The channel the senders listen on for new mails. */
export const MAIL_CHANNEL = 'request_mails';

const KINDS: Record<string, RequestMailKind> = {
  'request.received': 'received',
  'request.extended': 'extended',
  'request.completed': 'completed',
  'request.denied': 'denied',
};

/** The mail a request's audit entry calls for, if any. */
export function requestMailKind(auditType: string): RequestMailKind | undefined {
  return KINDS[auditType];
}

type Sealed = { id: string; requestId: string; kind: RequestMailKind };
const recipientContext = (m: Sealed) => `oubli/request-mail/v1\0${m.id}\0${m.requestId}\0${m.kind}`;

export function sealRecipient(masterKey: Buffer, m: Sealed, address: string): Buffer {
  return seal(masterKey, recipientContext(m), Buffer.from(address, 'utf8'));
}

/** The address, or null when the row's seal does not hold (edited, moved, or from elsewhere). */
export function unsealRecipient(masterKey: Buffer, m: Sealed & { recipient: Buffer | null }): string | null {
  if (!m.recipient) return null;
  return unseal(masterKey, recipientContext(m), m.recipient)?.toString('utf8') ?? null;
}

/** Writes, in `t`, the mail of `kind` for the request `req`; the senders are woken after the commit. */
export async function queueRequestMail(ctx: Pick<Ctx, 'ids' | 'now' | 'secrets' | 'db'>, t: Stores, req: DsrRequest, kind: RequestMailKind): Promise<void> {
  const email = (await t.requests.identities(req.id)).find((i) => i.type === 'email' && i.source === 'request' && i.value !== null)?.value;
  if (!email) return;
  const row = { id: ctx.ids('mail'), requestId: req.id, kind };
  const now = ctx.now();
  await t.mails.insert({ ...row, lang: req.locale, recipient: sealRecipient(ctx.secrets.masterKey, row, email), nextAttemptAt: now, createdAt: now });
  t.afterCommit(() => void ctx.db.notify(MAIL_CHANNEL).catch(() => {}));
}
