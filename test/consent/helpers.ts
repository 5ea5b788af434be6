import { SCOPES } from '../../src/db/schema/api-keys.js';
import { createTestApp } from '../helpers/deps.js';
import { bearer, call } from '../helpers/http.js';

export const NEWSLETTER = {
  id: 'newsletter',
  title: { fr: 'Lettre d’information', en: 'Newsletter' },
  text: { fr: 'Recevoir notre lettre par e-mail.', en: 'Receive our newsletter by email.' },
  legalBasis: 'dpv:Consent',
  channels: ['email'],
  validityDays: 365,
};
export const ADS = {
  id: 'targeted-ads',
  title: { fr: 'Publicité ciblée', en: 'Targeted advertising' },
  text: { fr: 'Partager vos données pour la publicité ciblée.', en: 'Share your data for targeted advertising.' },
  legalBasis: 'dpv:Consent',
  channels: ['web'],
  gpcApplies: true,
};

/** An app with the two purposes above and an all-scopes key. */
export async function consentApp(overrides: Parameters<typeof createTestApp>[0] = {}) {
  const t = createTestApp(overrides);
  const auth = { authorization: bearer(t.deps, [...SCOPES]).authorization };
  for (const p of [NEWSLETTER, ADS]) {
    const r = await call(t.app, 'POST', '/v1/purposes', { body: p, headers: auth });
    if (r.status !== 201) throw new Error(`purpose setup failed: ${r.text}`);
  }
  const post = (body: unknown, headers: Record<string, string> = {}) =>
    call(t.app, 'POST', '/v1/consents', { body, headers: { ...auth, ...headers } });
  const get = (path: string) => call(t.app, 'GET', path, { headers: auth });
  return { ...t, auth, post, get };
}

export const grant = (value: string, purpose = 'newsletter', extra: Record<string, unknown> = {}) => ({
  subject: { type: 'email', value },
  purpose,
  decision: 'granted',
  source: { channel: 'web' },
  ...extra,
});

export function count(deps: { db: { $client: { prepare(sql: string): { pluck(): { get(...a: unknown[]): unknown } } } } }, sql: string, ...args: unknown[]): number {
  return deps.db.$client.prepare(sql).pluck().get(...args) as number;
}
