/**
 * The demo's consent registry: a realistic purposes catalogue (French and English) and the
 * consents of the first 300 demo customers (the same people as the demo silos), with their
 * phone, customer id and loyalty card linked to them.
 *
 * Idempotent across restarts: purposes are added only when missing (PURPOSE_EXISTS otherwise),
 * and consents only on the start that created the catalogue, so a person erased during a demo
 * does not come back.
 */
import type { Ctx } from '../deps.js';
import type { Decision, SourceChannel } from '../db/schema/consents.js';
import { demoCustomer, type DemoCustomer } from '../../connectors/demo/index.js';
import { normalizeIdentity } from '../identity.js';
import { mix, rng } from '../../connectors/demo/people.js';
import { ConflictError } from '../errors.js';
import { ensureSubject, linkIdentifier } from '../subjects/service.js';
import { createPurpose, type PurposeInput } from '../consent/purposes.js';
import { recordConsentBatch, type BatchLine } from '../consent/record.js';

export const DEMO_CONSENT_PEOPLE = 300;

export const DEMO_PURPOSES: PurposeInput[] = [
  {
    id: 'newsletter',
    title: { fr: 'Lettre d’information', en: 'Newsletter' },
    text: {
      fr: 'Recevoir par e-mail notre lettre d’information hebdomadaire : nouveautés, conseils et offres de la boutique. Vous pouvez vous désabonner à tout moment via le lien présent dans chaque lettre.',
      en: 'Receive our weekly newsletter by email: new products, tips and shop offers. You can unsubscribe at any time with the link in every issue.',
    },
    legalBasis: 'dpv:Consent',
    channels: ['email'],
    validityDays: 1095,
    gpcApplies: false,
  },
  {
    id: 'partner-offers',
    title: { fr: 'Offres de nos partenaires', en: 'Partner offers' },
    text: {
      fr: 'Recevoir les offres de nos partenaires commerciaux ; vos coordonnées leur sont transmises à cette fin.',
      en: 'Receive offers from our business partners; your contact details are shared with them for this purpose.',
    },
    legalBasis: 'dpv:Consent',
    channels: ['email', 'post'],
    validityDays: 730,
    gpcApplies: true,
  },
  {
    id: 'recommendations',
    title: { fr: 'Recommandations personnalisées', en: 'Personalised recommendations' },
    text: {
      fr: 'Utiliser vos achats et votre navigation pour vous recommander des produits sur le site, l’application et par e-mail.',
      en: 'Use your purchases and browsing to recommend products on the website, in the app and by email.',
    },
    legalBasis: 'dpv:Consent',
    channels: ['web', 'push', 'email'],
    validityDays: null,
    gpcApplies: false,
  },
  {
    id: 'targeted-ads',
    title: { fr: 'Publicité ciblée', en: 'Targeted advertising' },
    text: {
      fr: 'Partager des identifiants de navigation avec des régies publicitaires pour vous montrer des publicités ciblées sur d’autres sites.',
      en: 'Share browsing identifiers with advertising networks to show you targeted ads on other websites.',
    },
    legalBasis: 'dpv:Consent',
    channels: ['web'],
    validityDays: 395,
    gpcApplies: true,
  },
  {
    id: 'analytics',
    title: { fr: 'Mesure d’audience', en: 'Audience measurement' },
    text: {
      fr: 'Mesurer la fréquentation du site avec des traceurs d’audience, conservés 13 mois au plus.',
      en: 'Measure visits to the website with analytics trackers, kept for at most 13 months.',
    },
    legalBasis: 'dpv:Consent',
    channels: ['web'],
    validityDays: 395,
    gpcApplies: false,
  },
  {
    id: 'sms-offers',
    title: { fr: 'Offres par SMS', en: 'SMS offers' },
    text: {
      fr: 'Recevoir par SMS nos offres et ventes privées, au plus deux messages par mois. Répondez STOP pour ne plus en recevoir.',
      en: 'Receive our offers and private sales by text message, at most two a month. Reply STOP to opt out.',
    },
    legalBasis: 'dpv:Consent',
    channels: ['sms'],
    validityDays: 1095,
    gpcApplies: false,
  },
];

const DAY = 86_400_000;

/** Seeds the catalogue (missing purposes only) and, on the first seeding, the demo consents. */
export async function seedConsentDemo(ctx: Ctx): Promise<{ purposesCreated: number; events: number }> {
  let purposesCreated = 0;
  for (const p of DEMO_PURPOSES) {
    try {
      await createPurpose(ctx, p);
      purposesCreated++;
    } catch (err) {
      if (!(err instanceof ConflictError && err.code === 'PURPOSE_EXISTS')) throw err;
    }
  }
  if (purposesCreated < DEMO_PURPOSES.length) return { purposesCreated, events: 0 };

  const now = ctx.now();
  const lines: BatchLine[] = [];
  const people: DemoCustomer[] = [];
  for (let i = 1; i <= DEMO_CONSENT_PEOPLE; i++) {
    const c = demoCustomer(i);
    people.push(c);
    const r = rng(mix(0xc0115e47, i));
    const created = Math.min(Date.parse(c.createdAt), now - 30 * DAY);
    // Spread over the customer's life, a third of them in the last 90 days (the dashboard's window).
    const at = (from: number) => {
      const start = r() < 0.35 ? Math.max(from, now - 90 * DAY) : from;
      return new Date(start + Math.floor(r() * Math.max(DAY, now - start - DAY))).toISOString();
    };
    const add = (purpose: string, decision: Decision, channel: SourceChannel, occurredAt: string, extra: Record<string, unknown> = {}) =>
      lines.push({
        line: lines.length + 1,
        ok: true,
        value: {
          subject: { type: 'email', value: c.email },
          purpose,
          decision,
          source: { channel, ...(channel === 'store' ? { location: `magasin-${1 + Math.floor(r() * 40)}` } : {}) },
          method: channel === 'web' ? 'checkbox' : channel === 'store' ? 'signature' : channel === 'call_center' ? 'verbal' : 'form',
          evidence: { purposeVersion: 1, uiElement: `${purpose}-${channel}` },
          occurredAt,
          ...extra,
        },
      });
    // Newsletter: subscribers granted at sign-up; a fifth of them withdrew later.
    if (c.inNewsletter) {
      const t = at(created);
      add('newsletter', 'granted', 'web', t);
      if (r() < 0.2) add('newsletter', 'withdrawn', r() < 0.5 ? 'email' : 'web', at(Date.parse(t)));
    } else if (r() < 0.5) add('newsletter', 'refused', 'web', at(created));
    // Cookie banner: analytics and targeted ads, some visitors sending Global Privacy Control.
    const banner = at(Math.max(created, now - 395 * DAY));
    const gpc = r() < 0.1;
    add('analytics', r() < 0.7 ? 'granted' : 'refused', 'web', banner);
    add('targeted-ads', r() < 0.45 ? 'granted' : 'refused', 'web', banner, gpc ? { gpc: true } : {});
    if (r() < 0.6) add('recommendations', r() < 0.65 ? 'granted' : 'refused', 'app', at(created));
    if (r() < 0.3) add('partner-offers', r() < 0.3 ? 'granted' : 'refused', r() < 0.5 ? 'web' : 'call_center', at(created));
    if (c.loyaltyCard && r() < 0.5) {
      const t = at(created);
      add('sms-offers', 'granted', 'store', t);
      if (r() < 0.15) add('sms-offers', 'withdrawn', 'call_center', at(Date.parse(t)));
    }
  }
  const { recorded } = await recordConsentBatch(ctx, lines, { phoneRegion: ctx.config.phoneRegion });
  // The other identifiers the silos know them by, so a request by phone or card finds them too.
  await ctx.db.tx(async (t) => {
    for (const c of people) {
      const subjectId = await ensureSubject(ctx, t, { type: 'email', value: c.email });
      await linkIdentifier(ctx, t, subjectId, normalizeIdentity({ type: 'phone', value: c.phone }, { defaultRegion: ctx.config.phoneRegion }));
      await linkIdentifier(ctx, t, subjectId, { type: 'customer_id', value: String(c.customerId) });
      if (c.loyaltyCard) await linkIdentifier(ctx, t, subjectId, { type: 'loyalty_card', value: c.loyaltyCard });
    }
  });
  ctx.logger.info({ purposes: purposesCreated, events: recorded, people: people.length }, 'demo consents seeded');
  return { purposesCreated, events: recorded };
}
