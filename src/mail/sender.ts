/**
 * Sends the request e-mails of the outbox (src/mail/request-mails.ts): claims due ones
 * (src/db/stores/mails.ts: leases, SKIP LOCKED), renders each from its request as it now is
 * (./request-mail.tsx), hands it to the mailer, and records what happened.
 *
 * - accepted by the SMTP server: sent; the row loses its address;
 * - refused, or no server: retried on the webhooks' schedule (src/webhooks/retry.ts: the first
 *   retry within seconds, more than three days in all), then failed;
 * - a row whose sealed address does not open (edited, moved onto another request, from another
 *   deployment) or whose request is gone: failed at once, nothing sent.
 *
 * Crash safety: a mail is `pending` until its outcome commits; a sender that dies after the SMTP
 * server took the mail but before recording it leaves its lease to run out, and the mail is
 * sent again — with the same Message-ID, which mail clients use to show it once. One sender per
 * process; any number of processes may share a database.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Deps } from '../deps.js';
import type { DsrRequest } from '../db/schema/requests.js';
import type { RequestMail } from '../db/schema/mails.js';
import type { MailOutcome } from '../db/stores/mails.js';
import { BackgroundLoop } from '../background-loop.js';
import { callbackBase } from '../engine/waiting.js';
import { MAIL_LINK_TTL_MS, archiveLinkToken } from '../requests/archive-link.js';
import { exportFileOf } from '../requests/spool.js';
import { exportKept } from '../requests/downloads.js';
import { nextAttemptAt } from '../webhooks/retry.js';
import { MailError } from './mailer.js';
import { MAIL_CHANNEL, unsealRecipient } from './request-mails.js';
import { requestMail, type RequestMailLinks } from './request-mail.js';

/** Sent and failed mails are kept 30 days (what the DPO sees of a request's mails), without their address. */
export const KEEP_MAILS_MS = 30 * 86_400_000;
const PRUNE_EVERY_MS = 3_600_000;
const PRUNE_LEASE = 'mails.prune';

export interface MailSenderOptions {
  workerId: string;
  /** Most mails claimed per statement (sent one after the other). */
  claimBatch: number;
  pollMs: number;
  /** How long a claimed mail is this process's: longer than an SMTP exchange may take. */
  leaseMs: number;
}

export class MailSender {
  readonly opts: MailSenderOptions;
  private readonly loop: BackgroundLoop;
  private lastPrune = Number.NEGATIVE_INFINITY;
  private sending: Promise<number> | null = null;
  /** Mails this process handed to the SMTP server (tests read it). */
  sent = 0;

  constructor(
    private readonly deps: Deps,
    opts: Partial<MailSenderOptions> = {},
  ) {
    this.opts = {
      workerId: opts.workerId ?? `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`,
      claimBatch: opts.claimBatch ?? 20,
      pollMs: opts.pollMs ?? 5000,
      leaseMs: opts.leaseMs ?? 120_000,
    };
    this.loop = new BackgroundLoop({ db: deps.db, channel: MAIL_CHANNEL, pollMs: this.opts.pollMs, logger: deps.logger, name: 'mail sender', turn: () => this.turn() });
  }

  start(): void {
    this.loop.start();
  }

  async stop(): Promise<void> {
    await this.loop.stop();
  }

  /** Sends everything due now (tests; the server runs the loop). */
  async runUntilIdle(): Promise<void> {
    while ((await this.sendDue()) > 0);
  }

  private async turn(): Promise<void> {
    if (this.deps.now() - this.lastPrune >= PRUNE_EVERY_MS) await this.prune();
    while (!this.loop.stopping && (await this.sendDue()) > 0);
  }

  /** Drops old finished mails, by one instance at a time (the lease holder). */
  async prune(): Promise<number> {
    const now = this.deps.now();
    this.lastPrune = now;
    return this.deps.db.tx(async (t) => {
      if (!(await t.leases.acquire(PRUNE_LEASE, this.opts.workerId, now, now + PRUNE_EVERY_MS))) return 0;
      return t.mails.prune(now - KEEP_MAILS_MS);
    });
  }

  /** Claims one batch and sends it; answers how many were claimed. One batch at a time. */
  private sendDue(): Promise<number> {
    this.sending ??= this.claimAndSend().finally(() => (this.sending = null));
    return this.sending;
  }

  private async claimAndSend(): Promise<number> {
    const now = this.deps.now();
    const claimed = await this.deps.db.tx((t) => t.mails.claim(this.opts.workerId, now, now + this.opts.leaseMs, this.opts.claimBatch));
    for (const mail of claimed) await this.send(mail);
    return claimed.length;
  }

  /** One attempt at one mail: render, send, record. Never throws. */
  private async send(mail: RequestMail): Promise<void> {
    const { deps } = this;
    const at = () => deps.now();
    const outcome = (o: Pick<MailOutcome, 'status' | 'lastError'> & { nextAttemptAt?: number }): MailOutcome => ({ id: mail.id, owner: this.opts.workerId, nextAttemptAt: at(), at: at(), ...o });
    try {
      const to = unsealRecipient(deps.secrets.masterKey, mail);
      const req = to ? await deps.db.requests.get(mail.requestId) : undefined;
      if (!to || !req) {
        // Not a mail this deployment wrote for this request, or the request is gone: never sent.
        if (!to) deps.logger.error({ mail: mail.id, request: mail.requestId }, 'request mail row does not match its seal: not sent');
        await this.record(outcome({ status: 'failed', lastError: to ? 'REQUEST_GONE' : 'MAIL_TAMPERED: the address does not open for this row' }));
        return;
      }
      const content = requestMail(deps.config.portal, mail.lang, deps.config.timeZone, mail.kind, req, await this.links(req));
      try {
        await deps.mailer.send({ to, ...content, lang: mail.lang, messageId: `<${mail.id}@oubli.invalid>` });
      } catch (err) {
        if (!(err instanceof MailError)) throw err;
        const next = nextAttemptAt(at(), mail.attempts, null, null);
        deps.logger.warn({ mail: mail.id, reason: err.reason, attempts: mail.attempts }, 'request mail not sent');
        await this.record(next === null ? outcome({ status: 'failed', lastError: err.reason }) : outcome({ status: 'pending', nextAttemptAt: next, lastError: err.reason }));
        return;
      }
      this.sent++;
      await this.record(outcome({ status: 'sent', lastError: null }));
    } catch (err) {
      // Not recorded: the lease runs out and the mail is tried again.
      deps.logger.error({ err, mail: mail.id }, 'request mail attempt failed');
    }
  }

  private async record(o: MailOutcome): Promise<void> {
    await this.deps.db.tx((t) => t.mails.finish(o));
  }

  /** The status page, and for a completed access or portability request whose archive is still kept, its signed link. */
  private async links(req: DsrRequest): Promise<RequestMailLinks> {
    const base = callbackBase(this.deps.config);
    const links: RequestMailLinks = { status: `${base}/privacy/requests/${req.id}` };
    const kept = exportKept(req, this.deps.now()) && exportFileOf(this.deps.config.dataDir, req) !== null;
    if (req.type !== 'erasure' && req.status === 'completed' && kept) links.archive = `${base}/privacy/archive/${await archiveLinkToken(this.deps, req.id, MAIL_LINK_TTL_MS)}`;
    return links;
  }
}
