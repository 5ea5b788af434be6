/**
 * The sign-in code e-mail, in the person's language, as text and HTML. The HTML is rendered
 * with hono/jsx (every value escaped) and styled inline — mail clients ignore stylesheets; the
 * portal's CSP does not apply to a mail.
 */
import type { Brand } from '../config.js';
import { palette } from '../web/brand.js';
import { translator, type Lang } from '../web/i18n.js';

export function codeMail(brand: Brand, lang: Lang, code: string): { subject: string; text: string; html: string } {
  const t = translator(lang);
  const company = brand.companyName;
  const { primary } = palette(brand.primaryColor);
  const text = [t('mail.greeting'), '', t('mail.body', { company }), '', `    ${code}`, '', t('mail.validity', { company }), '', t('mail.ignore'), '', `— ${company}`, ''].join('\n');
  const html =
    '<!doctype html>' +
    (
      <html lang={lang}>
        <head>
          <meta charset="utf-8" />
          <title>{t('mail.subject', { code, company })}</title>
        </head>
        <body style="font-family:system-ui,sans-serif;line-height:1.5;color:#1a1a1a">
          <p>{t('mail.greeting')}</p>
          <p>{t('mail.body', { company })}</p>
          <p style={`font-size:28px;font-weight:700;letter-spacing:6px;color:${primary}`}>{code}</p>
          <p>{t('mail.validity', { company })}</p>
          <p>{t('mail.ignore')}</p>
          <p>— {company}</p>
        </body>
      </html>
    ).toString();
  return { subject: t('mail.subject', { code, company }), text, html };
}
