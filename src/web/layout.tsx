/**
 * The frame of every portal page: `<html lang>`, the skip link, the brand, the language switch
 * and sign-out, the footer (policy, contact, accessibility statement). Server-rendered with
 * hono/jsx, which escapes every value; no inline script or style — the one script, tz.js
 * (./time-zone.ts), is a file that tells the server the browser's time zone.
 */
import type { Child } from 'hono/jsx';
import type { Brand } from '../config.js';
import type { Lang, T } from './i18n.js';
import { TZ_SCRIPT_PATH } from './time-zone.js';

export interface PageCtx {
  lang: Lang;
  t: T;
  brand: Brand;
  /** The path of this page (the language switch comes back to it). */
  path: string;
  /** The CSRF token of this page's forms. */
  csrf: string;
  signedIn: boolean;
}

export const STYLESHEET_PATH = '/privacy/assets/portal.css';

/**
 * What the portal's and the dashboard's pages share: the head (stylesheet, no favicon request),
 * the skip link, the brand linking home, the navigation with the language switch first and the
 * sign-out form last, the page's one h1. Each layout adds its own links, head and footer.
 */
export function Frame(props: {
  p: PageCtx;
  title: string;
  /** What the brand says after the company's name (and the navigation's label). */
  area: string;
  home: string;
  signOutAction: string;
  bodyClass?: string;
  head?: Child;
  links?: Child;
  footer?: Child;
  children?: Child;
}) {
  const { p } = props;
  const other: Lang = p.lang === 'fr' ? 'en' : 'fr';
  const switchHref = `/privacy/lang?to=${other}&next=${encodeURIComponent(p.path)}`;
  return (
    <html lang={p.lang}>
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <meta name="referrer" content="same-origin" />
        <title>{`${props.title} — ${p.brand.companyName}`}</title>
        {/* No favicon: without this line every page costs a /favicon.ico 404. */}
        <link rel="icon" href="data:," />
        <link rel="stylesheet" href={STYLESHEET_PATH} />
        {props.head}
      </head>
      <body class={props.bodyClass}>
        <a class="skip" href="#main">
          {p.t('nav.skip')}
        </a>
        <header class="top">
          <a class="brand" href={props.home}>
            {p.brand.logoUrl ? <img src={p.brand.logoUrl} alt="" /> : null}
            <span>{p.brand.companyName}</span>
            <span class="hint">{props.area}</span>
          </a>
          <nav aria-label={props.area}>
            <a href={switchHref} hreflang={other} lang={other}>
              {p.t('lang.switch')}
            </a>
            {p.signedIn ? props.links : null}
            {p.signedIn ? (
              <form class="inline" method="post" action={props.signOutAction}>
                <input type="hidden" name="csrf" value={p.csrf} />
                <button class="link" type="submit">
                  {p.t('nav.signOut')}
                </button>
              </form>
            ) : null}
          </nav>
        </header>
        <main id="main" tabindex={-1}>
          <h1>{props.title}</h1>
          {props.children}
        </main>
        {props.footer}
      </body>
    </html>
  );
}

/** A portal page: the frame with the person's links, tz.js, and the footer (policy, contact, accessibility). */
export function Layout(props: {
  p: PageCtx;
  title: string;
  /** The zone this page's dates are shown in, when tz.js may reload it in the browser's (PortalDates.reloadableIn). */
  datesIn?: string;
  children?: Child;
}) {
  const { p } = props;
  return (
    <Frame
      p={p}
      title={props.title}
      area={p.t('portal.title')}
      home="/privacy"
      signOutAction="/privacy/sign-out"
      head={<script src={TZ_SCRIPT_PATH} defer data-zone={props.datesIn} />}
      links={
        <>
          <a href="/privacy/consents">{p.t('nav.consents')}</a>
          <a href="/privacy/requests">{p.t('nav.requests')}</a>
        </>
      }
      footer={
        <footer>
          <ul>
            {p.brand.privacyPolicyUrl ? (
              <li>
                <a href={p.brand.privacyPolicyUrl}>{p.t('footer.policy')}</a>
              </li>
            ) : null}
            {p.brand.contactUrl ? (
              <li>
                <a href={p.brand.contactUrl}>{p.t('footer.contact')}</a>
              </li>
            ) : null}
            <li>
              <a href="/privacy/accessibility">{p.t('footer.accessibility')}</a>
            </li>
          </ul>
        </footer>
      }
    >
      {props.children}
    </Frame>
  );
}

export function Notice(props: { kind?: 'error' | 'ok'; children?: Child }) {
  return (
    <div class={props.kind ? `notice ${props.kind}` : 'notice'} role={props.kind === 'error' ? 'alert' : 'status'}>
      {props.children}
    </div>
  );
}

/** A text input with its visible label, hint and error, tied by aria-describedby / aria-invalid. */
export function Field(props: {
  id: string;
  label: string;
  hint: string;
  error?: string;
  type: 'email' | 'text';
  value?: string;
  autocomplete: string;
  inputmode?: 'email' | 'numeric';
  maxlength: number;
}) {
  const describedBy = [`${props.id}-hint`, props.error ? `${props.id}-error` : ''].filter(Boolean).join(' ');
  return (
    <div>
      <label for={props.id}>{props.label}</label>
      <span class="hint" id={`${props.id}-hint`}>
        {props.hint}
      </span>
      {props.error ? (
        <span class="field-error" id={`${props.id}-error`}>
          {props.error}
        </span>
      ) : null}
      <input
        id={props.id}
        name={props.id}
        type={props.type}
        value={props.value ?? ''}
        autocomplete={props.autocomplete}
        inputmode={props.inputmode}
        maxlength={props.maxlength}
        required
        aria-describedby={describedBy}
        aria-invalid={props.error ? 'true' : undefined}
      />
    </div>
  );
}
