/** The portal's pages (each one a component over the Layout); no logic beyond showing. */
import type { PortalPurpose } from '../portal/consents.js';
import type { MessageKey } from './i18n.js';
import { Field, Layout, Notice, type PageCtx } from './layout.js';
import type { PortalDates } from './time-zone.js';

export function SignInPage(props: { p: PageCtx; error?: string; notice?: string; email?: string }) {
  const { p } = props;
  return (
    <Layout p={p} title={p.t('signIn.heading')}>
      {props.notice ? <Notice>{props.notice}</Notice> : null}
      <p>{p.t('signIn.intro')}</p>
      <form method="post" action="/privacy/sign-in" novalidate>
        <input type="hidden" name="csrf" value={p.csrf} />
        <Field id="email" type="email" label={p.t('signIn.email')} hint={p.t('signIn.emailHint')} error={props.error} value={props.email} autocomplete="email" inputmode="email" maxlength={320} />
        <div class="actions">
          <button type="submit">{p.t('signIn.submit')}</button>
        </div>
      </form>
    </Layout>
  );
}

export function CodePage(props: { p: PageCtx; error?: string; notice?: string; noticeKind?: 'error' | 'ok' }) {
  const { p } = props;
  return (
    <Layout p={p} title={p.t('code.heading')}>
      {props.notice ? <Notice kind={props.noticeKind}>{props.notice}</Notice> : null}
      <p>{p.t('code.intro')}</p>
      <form method="post" action="/privacy/code" novalidate>
        <input type="hidden" name="csrf" value={p.csrf} />
        <Field id="code" type="text" label={p.t('code.label')} hint={p.t('code.hint')} error={props.error} autocomplete="one-time-code" inputmode="numeric" maxlength={40} />
        <div class="actions">
          <button type="submit">{p.t('code.submit')}</button>
        </div>
      </form>
      <div class="actions">
        <form class="inline" method="post" action="/privacy/resend">
          <input type="hidden" name="csrf" value={p.csrf} />
          <button class="link" type="submit">
            {p.t('code.resend')}
          </button>
        </form>
        <a href="/privacy">{p.t('code.otherEmail')}</a>
      </div>
    </Layout>
  );
}

const STATE_KEY: Record<PortalPurpose['state'], MessageKey> = {
  granted: 'consents.state.granted',
  refused: 'consents.state.refused',
  withdrawn: 'consents.state.withdrawn',
  expired: 'consents.state.expired',
  unknown: 'consents.state.unknown',
};

/**
 * One purpose: its title (the legend), full text, version and current choice, and the two
 * choices as two submit buttons of ONE form — same element, same class (same size, same colour
 * family, outlined), refusing first. The button matching the current choice is filled and
 * marked aria-pressed; which one it is says nothing about which is "better".
 */
function PurposeChoice(props: { p: PageCtx; item: PortalPurpose; gpc: boolean; dates: PortalDates }) {
  const { p, item } = props;
  const view = item.purpose.view;
  const title = view.title[p.lang];
  const granted = item.state === 'granted';
  const refusal = granted ? 'withdrawn' : 'refused';
  const stateText = p.t(STATE_KEY[item.state], { date: item.since === null ? '' : props.dates.dateTime(item.since) });
  const id = `purpose-${view.id}`;
  return (
    <form method="post" action="/privacy/consents">
      <input type="hidden" name="csrf" value={p.csrf} />
      <input type="hidden" name="purpose" value={view.id} />
      <input type="hidden" name="version" value={String(view.version)} />
      <fieldset class="purpose" id={id} aria-describedby={`${id}-state`}>
        <legend>{title}</legend>
        <p>{view.text[p.lang]}</p>
        <p class="meta">{p.t('consents.version', { v: view.version })}</p>
        {view.gpcApplies ? <p class="meta">{p.t('consents.gpcApplies')}</p> : null}
        <p id={`${id}-state`}>
          <strong>{stateText}</strong>
        </p>
        <div class="choices" role="group" aria-label={p.t('consents.choiceFor', { title })}>
          <button type="submit" name="decision" value={refusal} aria-pressed={item.state === 'refused' || item.state === 'withdrawn' ? 'true' : 'false'}>
            {p.t(granted ? 'consents.withdraw' : 'consents.refuse')}
          </button>
          <button type="submit" name="decision" value="granted" aria-pressed={granted ? 'true' : 'false'}>
            {p.t('consents.accept')}
          </button>
        </div>
        {item.hasEvent ? (
          <p>
            <a href={`/privacy/consents/${encodeURIComponent(view.id)}/receipt`} download>
              {p.t('consents.receipt')}
            </a>
          </p>
        ) : null}
      </fieldset>
    </form>
  );
}

export function ConsentsPage(props: {
  p: PageCtx;
  items: PortalPurpose[];
  gpc: boolean;
  saved?: string;
  gpcApplied?: boolean;
  error?: string;
  dates: PortalDates;
}) {
  const { p } = props;
  return (
    <Layout p={p} title={p.t('consents.heading')} datesIn={props.dates.reloadableIn}>
      {props.error ? <Notice kind="error">{props.error}</Notice> : null}
      {props.saved ? <Notice kind="ok">{p.t('consents.saved', { title: props.saved })}</Notice> : null}
      {props.gpcApplied ? <Notice>{p.t('consents.gpcApplied')}</Notice> : null}
      {props.gpc ? (
        <Notice>
          <span id="gpc">{p.t('consents.gpcOn')}</span>
        </Notice>
      ) : null}
      <p>{p.t('consents.intro')}</p>
      {props.items.length === 0 ? <p>{p.t('consents.none')}</p> : null}
      {props.items.map((item) => (
        <PurposeChoice p={p} item={item} gpc={props.gpc} dates={props.dates} />
      ))}
    </Layout>
  );
}

export function AccessibilityPage(props: { p: PageCtx }) {
  const { p } = props;
  const company = p.brand.companyName;
  return (
    <Layout p={p} title={p.t('a11y.heading')}>
      <p>{p.t('a11y.commitment', { company })}</p>
      <p>{p.t('a11y.status')}</p>
      <p>{p.t('a11y.tested')}</p>
      <p>{p.t('a11y.feedback')}</p>
      {p.brand.contactUrl ? (
        <p>
          <a href={p.brand.contactUrl}>{p.t('a11y.contact')}</a>
        </p>
      ) : null}
      <p>
        {p.t('a11y.remedy')} <a href="https://formulaire.defenseurdesdroits.fr/">formulaire.defenseurdesdroits.fr</a>
      </p>
    </Layout>
  );
}

export function ErrorPage(props: { p: PageCtx; message: string }) {
  const { p } = props;
  return (
    <Layout p={p} title={p.t('error.heading')}>
      <Notice kind="error">{props.message}</Notice>
      <p>
        <a href="/privacy">{p.t('error.back')}</a>
      </p>
    </Layout>
  );
}

export function MailboxPage(props: { p: PageCtx; files: string[] }) {
  const { p } = props;
  return (
    <Layout p={p} title={p.t('mailbox.heading')}>
      <p>{p.t('mailbox.intro')}</p>
      {props.files.length === 0 ? <p>{p.t('mailbox.empty')}</p> : null}
      <ul>
        {props.files.map((f) => (
          <li>
            <a href={`/dev/mailbox/${encodeURIComponent(f)}`}>{f}</a>
          </li>
        ))}
      </ul>
    </Layout>
  );
}

export function MailPage(props: { p: PageCtx; name: string; text: string }) {
  const { p } = props;
  return (
    <Layout p={p} title={props.name}>
      <p>
        <a href="/dev/mailbox">{p.t('mailbox.back')}</a>
      </p>
      <pre>{props.text}</pre>
    </Layout>
  );
}
