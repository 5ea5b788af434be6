/**
 * Example deployment config. Copy it to `oubli.config.ts` (or point OUBLI_CONFIG at your copy)
 * and describe your own silos; `oubli serve` loads it, validates it and checks every table and
 * column against the live databases before it starts. Secrets come from the environment.
 *
 * Here: a web shop on PostgreSQL, a loyalty programme on MariaDB and a newsletter platform
 * (a SaaS) reached through its REST API. An erasure by email finds the shop customer, which
 * reveals their customer number and phone; the phone finds the loyalty card, which finds the
 * till receipts; the email and the customer number find the newsletter contact. At start-up `oubli serve` logs, per matched column,
 * whether an index serves the lookup and which one to create when none does (README: "Finding
 * the person in each silo").
 */
import { defineConfig } from './src/deployment/config.js';

export default defineConfig({
  // Erasures wait for the DPO's approval; access and portability run as soon as verified.
  requireApproval: ['erasure'],

  // Identity types of which a person has one value: a record reached through a discovered
  // identity that holds another value of one of these belongs to someone else, and the request
  // waits for the DPO's review. This is the default; leave out types people share (a phone).
  identities: { unique: ['email', 'customer_id', 'loyalty_card'] },

  connectors: [
    {
      id: 'shop',
      title: 'Web shop (PostgreSQL)',
      driver: 'postgres',
      connection: process.env.SHOP_DATABASE_URL ?? 'postgres://oubli@shop-db.internal:5432/shop',
      poolSize: 4,
      queryTimeoutMs: 10_000,
      // Key for keyed-hash masks (HMAC-SHA256); keep it secret and stable.
      hashKey: process.env.SHOP_MASK_KEY,
      collections: {
        customers: {
          table: 'customers',
          key: 'id',
          // Emails are found whatever their case and surrounding spaces (normaliser 'casefold':
          // create the index `oubli serve` recommends at start-up, lower(trim(email))); phones in
          // every written form (E.164, 06 12 34 56 78, +33 6 12 34 56 78, 0033…) on the plain index.
          match: { email: 'email', phone: 'phone', customer_id: 'id' },
          discover: {
            customer_id: { column: 'id', reason: 'shop.customers.id of the account found' },
            // Checked by SMS at sign-up here, so it may lead to the loyalty card. A phone the
            // customer merely typed would be `weak: true`: recorded, never searched by.
            phone: { column: 'phone', reason: 'shop.customers.phone of the account found' },
          },
          portable: true,
          erase: { action: 'delete' },
        },
        addresses: {
          table: 'addresses',
          key: 'id',
          relations: { customer_id: 'customers.id' },
          portable: true,
          erase: { action: 'delete' },
        },
        orders: {
          table: 'orders',
          key: 'id',
          relations: { customer_id: 'customers.id' },
          portable: true,
          erase: { action: 'delete' },
        },
        invoices: {
          table: 'invoices',
          key: 'id',
          match: { customer_id: 'customer_id' },
          relations: { customer_id: 'customers.id' },
          erase: {
            action: 'retain',
            basis: 'legal obligation: 10-year retention of accounting records (Code de commerce L123-22)',
            keep: ['number', 'order_id', 'customer_id', 'amount_cents', 'vat_cents', 'issued_at'],
            mask: { customer_name: { value: '[erased]' }, billing_address: null },
          },
        },
        product_reviews: {
          table: 'product_reviews',
          key: 'id',
          relations: { customer_id: 'customers.id' },
          portable: true,
          // Reviews stay published, no longer signed: the author's name becomes a stable pseudonym.
          erase: { action: 'mask', fields: { author_name: 'hash', author_email: null } },
        },
      },
    },
    {
      id: 'loyalty',
      title: 'Loyalty programme (MariaDB)',
      driver: 'mysql',
      connection: {
        host: process.env.LOYALTY_DB_HOST ?? 'loyalty-db.internal',
        port: 3306,
        user: 'oubli',
        password: process.env.LOYALTY_DB_PASSWORD,
        database: 'loyalty',
      },
      // National numbers in this silo are Belgian (default: OUBLI_PHONE_REGION).
      phoneRegion: 'BE',
      collections: {
        cards: {
          table: 'cards',
          key: 'card_number',
          // The till writes phones in E.164 and card numbers without spaces: exact lookups.
          match: { phone: { column: 'phone', format: 'e164' }, loyalty_card: { column: 'card_number', format: 'compact' } },
          discover: { loyalty_card: { column: 'card_number', reason: 'loyalty.cards.card_number of the card registered to the phone' } },
          portable: true,
          erase: { action: 'delete' },
        },
        receipts: {
          table: 'receipts',
          key: 'id',
          // Receipts keep the card number as the cashier typed it ('2900 1234 5678 9'): the
          // default 'compact' normaliser finds it (index: see the start-up report).
          match: { loyalty_card: 'card_number' },
          relations: { card_number: 'cards.card_number' },
          portable: true,
          // The sale stays in the store statistics; its link to the person goes.
          erase: { action: 'mask', fields: { card_number: null } },
        },
      },
    },
    {
      // A SaaS reached through its REST API (README: "REST silos"). Every call goes to public
      // addresses only (checked when connecting), follows no redirect, and is bounded in time
      // and size. An internal API on a private network needs `allowPrivateNetwork`.
      id: 'newsletter',
      title: 'Newsletter platform (SaaS)',
      driver: 'http',
      baseUrl: 'https://api.newsletter.example/v3/',
      // OAuth 2.0 client credentials: the token is cached until it expires, renewed on a 401.
      auth: {
        type: 'oauth2',
        tokenUrl: 'https://auth.newsletter.example/oauth/token',
        clientId: 'oubli',
        clientSecret: process.env.NEWSLETTER_CLIENT_SECRET,
        scope: 'contacts:read contacts:delete',
      },
      headers: { 'x-account': 'acme-fr' },
      timeoutMs: 10_000,
      // "No such person" (an empty result, not a failure); worth retrying (429 honours Retry-After).
      statuses: { notFound: [404], retryable: [429, '5xx'] },
      health: { url: 'account' },
      collections: {
        contacts: {
          portable: true,
          key: 'id',
          search: {
            // Identities are URL-encoded into the template; 404 here means nobody by that email.
            email: { url: 'contacts/by-email/{email}', records: 'contacts', pagination: { type: 'page', size: { param: 'limit', value: 50 } } },
            customer_id: { url: 'contacts', query: { ext_id: '{customer_id}' }, records: '$.contacts[*]', pagination: { type: 'cursor', cursor: 'next_cursor', param: 'cursor' } },
          },
          // Where each contact shows the identity: what the API returns is kept only when it is
          // the person's (its search folds accents: zoé@… is not zoe@…).
          match: { email: 'email', customer_id: 'attributes.CUSTOMER_ID' },
          discover: { phone: { path: 'attributes.SMS', reason: 'newsletter.contacts.attributes.SMS', weak: true } },
          erase: { action: 'delete', request: { method: 'DELETE', url: 'contacts/{record.id}' } },
        },
        campaign_events: {
          // Opens and clicks, listed per contact; the platform deletes them with the contact.
          via: { collection: 'contacts', url: 'contacts/{parent.id}/events', records: 'data.events', pagination: { type: 'link' } },
          erase: { action: 'cascade' },
        },
      },
    },
    // An internal system that erases (and exports) its own data, told by a signed webhook and
    // answering at once or later through oubli's callback (README: "Internal systems: the
    // webhook connector"). Uncomment and point it at the system:
    //
    // {
    //   id: 'helpdesk',
    //   title: 'Helpdesk (internal)',
    //   driver: 'webhook',
    //   url: 'https://helpdesk.internal.example/oubli/events',
    //   // Standard Webhooks secret: whsec_… (HMAC, any Standard Webhooks library verifies it),
    //   // or whsk_… (Ed25519: give the system the whpk_… public key instead).
    //   secret: process.env.HELPDESK_WEBHOOK_SECRET,
    //   lookupBy: ['email', 'customer_id'],
    //   // 'hashed' (default): SHA-256 hex of the normalised value, keyed (HMAC) by hashKey when given.
    //   identities: 'hashed',
    //   hashKey: process.env.HELPDESK_HASH_KEY,
    //   capabilities: { access: true, erasure: true },
    //   answerWithin: '7d', // then the task fails (CALLBACK_TIMEOUT) and the request needs the DPO
    //   remindEvery: '1d', // the same message again while unanswered (false: no reminders)
    //   allowPrivateNetwork: ['10.20.0.0/16'],
    // },
  ],
});
