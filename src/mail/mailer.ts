/**
 * Sending e-mail: over SMTP (OUBLI_SMTP_URL) with nodemailer, or — with no SMTP configured, as
 * in the demo — as .eml files in `<data dir>/mailbox/` (shown at /dev/mailbox by the demo only).
 *
 * Sent directly by the request that needs it (not through a durable outbox): a sign-in code is
 * only worth something for the next minutes, so a failed send is shown to the person at once
 * ("try again") rather than retried behind their back.
 *
 * Invariants:
 * - a recipient is one plain address (no display name, no control character, no comma): an
 *   address typed by a person can never add a header or a second recipient; subjects are one
 *   line (control characters removed) — nodemailer encodes headers as well, this is a second wall;
 * - nothing about a recipient reaches the logs: a failure is reported by its SMTP code only
 *   (nodemailer's messages may quote the address).
 */
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import nodemailer, { type Transporter } from 'nodemailer';
import type { Config } from '../config.js';

export interface OutgoingMail {
  to: string;
  subject: string;
  text: string;
  html: string;
  lang: string;
  /** The same for every attempt at one mail: a client shows a mail sent twice once. */
  messageId?: string;
}

export interface Mailer {
  /** Resolves once the mail was accepted by the SMTP server (or written to the mailbox). */
  send(mail: OutgoingMail): Promise<void>;
  /** The mailbox directory when mails go to files (no SMTP). */
  readonly mailbox?: string;
  close(): void;
}

/** Thrown when a mail could not be sent; `reason` is safe to log (no address in it). */
export class MailError extends Error {
  constructor(readonly reason: string) {
    super(`mail not sent: ${reason}`);
  }
}

const PLAIN_ADDRESS = /^[^\s@<>,;"'()\\\p{Cc}]{1,64}@[^\s@<>,;"'()\\\p{Cc}]{1,255}$/u;

export function assertPlainAddress(to: string): void {
  if (to.length > 320 || !PLAIN_ADDRESS.test(to)) throw new MailError('invalid recipient');
}

const oneLine = (s: string) => s.replace(/[\p{Cc}\u2028\u2029]+/gu, ' ').trim();

function message(from: string, mail: OutgoingMail) {
  assertPlainAddress(mail.to);
  return {
    from,
    to: mail.to,
    subject: oneLine(mail.subject),
    text: mail.text,
    html: mail.html,
    ...(mail.messageId ? { messageId: mail.messageId } : {}),
    headers: { 'Content-Language': mail.lang === 'fr' ? 'fr' : 'en', 'Auto-Submitted': 'auto-generated' },
  };
}

function smtpError(err: unknown): MailError {
  const e = err as { code?: unknown; responseCode?: unknown };
  const code = typeof e.code === 'string' ? e.code : 'ERROR';
  return new MailError(typeof e.responseCode === 'number' ? `${code} ${e.responseCode}` : code);
}

export function smtpMailer(url: string, from: string): Mailer {
  const transport: Transporter = nodemailer.createTransport({
    url,
    connectionTimeout: 10_000,
    greetingTimeout: 10_000,
    socketTimeout: 20_000,
  });
  return {
    async send(mail) {
      const msg = message(from, mail);
      try {
        await transport.sendMail({ ...msg, disableFileAccess: true, disableUrlAccess: true });
      } catch (err) {
        throw smtpError(err);
      }
    },
    close: () => transport.close(),
  };
}

/** Mails as files, one .eml each (0600 in a 0700 directory: they hold codes and addresses). */
export function mailboxMailer(dir: string, from: string, now: () => number): Mailer {
  const transport = nodemailer.createTransport({ streamTransport: true, buffer: true, newline: 'unix' });
  return {
    mailbox: dir,
    async send(mail) {
      const info = await transport.sendMail({ ...message(from, mail), disableFileAccess: true, disableUrlAccess: true });
      // Off the event loop: on a busy disk a file's creation waits for the journal (≈ 1.5 ms
      // each under 1,000 erasures on PostgreSQL, the service's whole thread stalled meanwhile).
      await mkdir(dir, { recursive: true, mode: 0o700 });
      await chmod(dir, 0o700);
      const name = `${new Date(now()).toISOString().replace(/[:.]/g, '-')}-${randomBytes(4).toString('hex')}.eml`;
      await writeFile(join(dir, name), info.message as Buffer, { mode: 0o600, flag: 'wx' });
    },
    close: () => transport.close(),
  };
}

export function createMailer(config: Pick<Config, 'smtpUrl' | 'mailFrom' | 'dataDir'>, now: () => number): Mailer {
  return config.smtpUrl ? smtpMailer(config.smtpUrl, config.mailFrom) : mailboxMailer(join(config.dataDir, 'mailbox'), config.mailFrom, now);
}
