/**
 * The e-mails that tell a person about their request — received, deadline extended, completed,
 * refused — in the request's language, as text and HTML (hono/jsx: every value escaped; inline
 * styles, as ./code-mail.tsx). Rendered when sent, from the request as it then is: the outbox row
 * holds no text (src/db/schema/mails.ts).
 *
 * A refusal carries the staff member's reason and the right to complain to the CNIL or the
 * person's own authority (GDPR Art. 12(4)); a completed access or portability request, a link to
 * the archive (src/requests/archive-link.ts). A reason is the staff's free text: in the text part
 * it is one line, so it cannot forge what looks like a paragraph of ours.
 */
import type { Brand } from '../config.js';
import type { RequestMailKind } from '../db/schema/mails.js';
import type { DsrRequest } from '../db/schema/requests.js';
import { palette } from '../web/brand.js';
import { translator, type Lang, type MessageKey } from '../web/i18n.js';
import { CNIL_COMPLAINT_URL } from '../web/request-pages.js';

export interface RequestMailLinks {
  /** The request's status page on the portal (absent without OUBLI_PUBLIC_URL). */
  status?: string;
  /** The archive's signed link (a completed access or portability request). */
  archive?: string;
}

type Paragraph = { text: string } | { text: string; href: string; label: string };

const oneLine = (s: string) => s.replace(/[\p{Cc}\u2028\u2029]+/gu, ' ').trim();

/** Building a formatter costs more than the rest of the mail: one per language and time zone (both few). */
const dayFormats = new Map<string, Intl.DateTimeFormat>();

function dayFormat(lang: Lang, timeZone: string): Intl.DateTimeFormat {
  const key = `${lang} ${timeZone}`;
  let f = dayFormats.get(key);
  if (!f) {
    f = new Intl.DateTimeFormat(lang, { dateStyle: 'long', timeZone });
    dayFormats.set(key, f);
  }
  return f;
}

export function requestMail(
  brand: Brand,
  lang: Lang,
  timeZone: string,
  kind: RequestMailKind,
  req: Pick<DsrRequest, 'id' | 'type' | 'status' | 'verified' | 'receivedAt' | 'dueAt' | 'extendedMonths' | 'extensionReason' | 'statusReason'>,
  links: RequestMailLinks,
): { subject: string; text: string; html: string } {
  const t = translator(lang);
  const company = brand.companyName;
  const type = t(`requests.type.${req.type}` as MessageKey);
  const date = (ms: number) => dayFormat(lang, timeZone).format(ms);
  const due: Paragraph = { text: t('rmail.due', { date: date(req.dueAt), zone: timeZone }) };
  const follow: Paragraph[] = links.status ? [{ text: t('rmail.follow'), href: links.status, label: links.status }] : [];
  const complain: Paragraph = { text: t('requests.complain'), href: CNIL_COMPLAINT_URL, label: t('requests.complainLink') };

  let subject: string;
  let body: Paragraph[];
  switch (kind) {
    case 'received':
      subject = t('rmail.received.subject', { type });
      body = [{ text: t('rmail.received.body', { date: date(req.receivedAt), id: req.id }) }, ...(req.verified ? [] : [{ text: t('rmail.received.verify') }]), due, ...follow];
      break;
    case 'extended':
      subject = t('rmail.extended.subject', { id: req.id });
      body = [{ text: t('requests.extended', { n: req.extendedMonths, reason: oneLine(req.extensionReason ?? '') }) }, due, ...follow];
      break;
    case 'completed': {
      const outcome: Paragraph =
        req.type === 'erasure'
          ? { text: t('rmail.completed.erasure') }
          : links.archive
            ? { text: t('rmail.completed.archive'), href: links.archive, label: links.archive }
            : { text: t('requests.status.completed') };
      subject = t('rmail.completed.subject', { type });
      body = [outcome, ...follow, complain];
      break;
    }
    case 'denied':
      subject = t('rmail.denied.subject', { id: req.id });
      body = [{ text: t('requests.deniedBecause', { reason: oneLine(req.statusReason ?? '') }) }, complain, ...follow];
      break;
  }
  const footer = t('rmail.footer', { id: req.id });
  const text = [t('mail.greeting'), '', ...body.flatMap((p) => ('href' in p ? [p.text, p.href, ''] : [p.text, ''])), `— ${company}`, '', footer, ''].join('\n');
  const { primary } = palette(brand.primaryColor);
  const html =
    '<!doctype html>' +
    (
      <html lang={lang}>
        <head>
          <meta charset="utf-8" />
          <title>{subject}</title>
        </head>
        <body style="font-family:system-ui,sans-serif;line-height:1.5;color:#1a1a1a">
          <p>{t('mail.greeting')}</p>
          {body.map((p) =>
            'href' in p ? (
              <p>
                {p.text}
                <br />
                <a href={p.href} style={`color:${primary}`}>
                  {p.label}
                </a>
              </p>
            ) : (
              <p>{p.text}</p>
            ),
          )}
          <p>— {company}</p>
          <p style="font-size:13px;color:#555">{footer}</p>
        </body>
      </html>
    ).toString();
  return { subject, text, html };
}
