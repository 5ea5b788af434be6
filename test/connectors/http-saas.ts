/**
 * A small fake newsletter SaaS, served for real on 127.0.0.1 (port 0), for the REST connector's
 * tests. Its API behaves like the ones deployments meet:
 *
 * - OAuth 2.0 client credentials (`POST /oauth/token`, tokens that expire); every /v3 call
 *   needs a valid bearer token (401 otherwise).
 * - Contacts found four ways, each with its own pagination:
 *   `GET /v3/contacts/by-email/{email}` — 404 `contact_not_found` when nobody matches, else
 *   numbered pages (`page`, `limit`); `GET /v3/contacts?sms=` — cursor pages; `GET
 *   /v3/contacts?ext_id=` — `Link: rel="next"` pages; `POST /v3/contacts/search {loyalty}`.
 *   Its searches are fuzzy like many SaaS searches: emails with accents folded, phones by
 *   their last nine digits, cards without spaces — the connector must drop the look-alikes.
 * - A contact's events (`GET /v3/contacts/{id}/events`, cursor pages), deleted with it.
 * - Invoices by customer (`GET /v3/invoices?customer=`), which the SaaS keeps.
 * - `DELETE /v3/contacts/{id}`: 204, or 404 when already gone.
 * - Misbehaving endpoints under /bad/: a 429 with Retry-After, a 503, an HTML page with a 200,
 *   a redirect loop, a slow answer, a 10 MB body, a Link to another origin, a looping cursor,
 *   and /bad/echo, which returns what it received.
 */
import { randomBytes } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { startReceiver, streamBytes, type Received, type Receiver } from '../helpers/receiver.js';

export interface Contact {
  id: string;
  email: string | null;
  sms: string | null;
  attributes: { CUSTOMER_ID?: string; LOYALTY?: string; FIRSTNAME?: string };
  listIds: number[];
}

export interface SaasEvent {
  id: string;
  contactId: string;
  type: string;
  campaign: string;
}

export interface Invoice {
  number: string;
  customer: string;
  amountCents: number;
}

export interface FakeSaas {
  url: string;
  receiver: Receiver;
  contacts: Contact[];
  events: SaasEvent[];
  invoices: Invoice[];
  /** Token requests answered so far. */
  tokensIssued(): number;
  /** Makes every token issued so far invalid (the SaaS rotated them). */
  revokeTokens(): void;
  /** Requests to paths starting with this, by count. */
  hits(prefix: string): number;
  addContact(c: Partial<Contact> & { email?: string | null }): Contact;
  close(): Promise<void>;
  clientId: string;
  clientSecret: string;
}

const fold = (s: string) => s.normalize('NFD').replace(/\p{M}/gu, '').trim().toLowerCase();
const lastNine = (s: string) => s.replace(/\D/g, '').slice(-9);
const compact = (s: string) => s.replace(/[\s.-]/g, '').toLowerCase();

function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

export async function startFakeSaas(opts: { tokenLifetimeS?: number } = {}): Promise<FakeSaas> {
  const contacts: Contact[] = [];
  const events: SaasEvent[] = [];
  const invoices: Invoice[] = [];
  const tokens = new Map<string, number>();
  let issued = 0;
  let nextId = 1;
  const clientId = 'oubli';
  const clientSecret = `cs_${randomBytes(12).toString('hex')}`;
  const counters = new Map<string, number>();
  let base = '';

  const authorized = (r: Received) => {
    const m = /^Bearer (.+)$/.exec(String(r.headers.authorization ?? ''));
    const exp = m ? tokens.get(m[1]!) : undefined;
    return exp !== undefined && Date.now() < exp;
  };

  const page = <T>(items: T[], offset: number, limit: number) => items.slice(offset, offset + limit);

  const receiver = await startReceiver(async (r, res) => {
    const url = new URL(r.path, 'http://saas.test');
    const p = url.pathname;
    counters.set(p, (counters.get(p) ?? 0) + 1);

    if (p === '/oauth/token' && r.method === 'POST') {
      const form = new URLSearchParams(r.body);
      const basic = /^Basic (.+)$/.exec(String(r.headers.authorization ?? ''));
      const [id, secret] = basic ? Buffer.from(basic[1]!, 'base64').toString().split(':').map(decodeURIComponent) : [form.get('client_id'), form.get('client_secret')];
      if (form.get('grant_type') !== 'client_credentials' || id !== clientId || secret !== clientSecret) return json(res, 401, { error: 'invalid_client' });
      const token = randomBytes(16).toString('hex');
      const lifetime = opts.tokenLifetimeS ?? 3600;
      tokens.set(token, Date.now() + lifetime * 1000);
      issued++;
      return json(res, 200, { access_token: token, token_type: 'Bearer', expires_in: lifetime });
    }

    if (p.startsWith('/bad/')) return misbehave(p, url, r, res);

    if (!p.startsWith('/v3/')) return json(res, 404, { code: 'not_found' });
    if (!authorized(r)) return json(res, 401, { code: 'unauthorized' });

    let m: RegExpExecArray | null;
    if ((m = /^\/v3\/contacts\/by-email\/([^/]+)$/.exec(p)) && r.method === 'GET') {
      const q = fold(decodeURIComponent(m[1]!));
      const all = contacts.filter((c) => c.email !== null && fold(c.email) === q);
      if (all.length === 0) return json(res, 404, { code: 'contact_not_found', message: 'Contact does not exist' });
      const limit = Number(url.searchParams.get('limit') ?? 50);
      const n = Number(url.searchParams.get('page') ?? 1);
      return json(res, 200, { contacts: page(all, (n - 1) * limit, limit), page: n });
    }
    if (p === '/v3/contacts' && r.method === 'GET' && url.searchParams.has('sms')) {
      const q = lastNine(url.searchParams.get('sms')!);
      const all = contacts.filter((c) => c.sms !== null && q.length === 9 && lastNine(c.sms) === q);
      const limit = Number(url.searchParams.get('limit') ?? 50);
      const offset = Number(url.searchParams.get('cursor') ?? 0);
      const next = offset + limit < all.length ? String(offset + limit) : null;
      return json(res, 200, { contacts: page(all, offset, limit), next_cursor: next });
    }
    if (p === '/v3/contacts' && r.method === 'GET' && url.searchParams.has('ext_id')) {
      const q = url.searchParams.get('ext_id')!;
      const all = contacts.filter((c) => c.attributes.CUSTOMER_ID === q);
      const offset = Number(url.searchParams.get('offset') ?? 0);
      const limit = 2;
      const headers: Record<string, string> = {};
      if (offset + limit < all.length) headers.link = `</v3/contacts?ext_id=${encodeURIComponent(q)}&offset=${offset + limit}>; rel="next", </v3/contacts?ext_id=${encodeURIComponent(q)}>; rel="first"`;
      return json(res, 200, page(all, offset, limit), headers);
    }
    if (p === '/v3/contacts/search' && r.method === 'POST') {
      const body = JSON.parse(r.body || '{}') as { loyalty?: string };
      const q = compact(String(body.loyalty ?? ''));
      return json(res, 200, { results: { items: contacts.filter((c) => c.attributes.LOYALTY !== undefined && compact(c.attributes.LOYALTY) === q) } });
    }
    if ((m = /^\/v3\/contacts\/([^/]+)\/events$/.exec(p)) && r.method === 'GET') {
      const id = decodeURIComponent(m[1]!);
      if (!contacts.some((c) => c.id === id)) return json(res, 404, { code: 'contact_not_found' });
      const all = events.filter((e) => e.contactId === id);
      const offset = Number(url.searchParams.get('cursor') ?? 0);
      const limit = Number(url.searchParams.get('limit') ?? 2);
      return json(res, 200, { data: { events: page(all, offset, limit) }, meta: { next: offset + limit < all.length ? String(offset + limit) : '' } });
    }
    if ((m = /^\/v3\/contacts\/([^/]+)$/.exec(p)) && r.method === 'DELETE') {
      const id = decodeURIComponent(m[1]!);
      const i = contacts.findIndex((c) => c.id === id);
      if (i < 0) return json(res, 404, { code: 'contact_not_found' });
      contacts.splice(i, 1);
      for (let k = events.length - 1; k >= 0; k--) if (events[k]!.contactId === id) events.splice(k, 1);
      res.writeHead(204);
      return res.end();
    }
    if (p === '/v3/invoices' && r.method === 'GET') {
      return json(res, 200, { invoices: invoices.filter((x) => x.customer === url.searchParams.get('customer')) });
    }
    if (p === '/v3/account' && r.method === 'GET') return json(res, 200, { plan: 'pro' });
    return json(res, 404, { code: 'not_found' });
  });
  base = receiver.url;

  function misbehave(p: string, url: URL, r: Received, res: ServerResponse): void {
    const n = counters.get(p)!;
    switch (p) {
      case '/bad/rate-limited-once':
        if (n === 1) return json(res, 429, { code: 'too_many_requests' }, { 'retry-after': '1' });
        return json(res, 200, { contacts: [] });
      case '/bad/rate-limited-long':
        return json(res, 429, { code: 'too_many_requests' }, { 'retry-after': '120' });
      case '/bad/unavailable':
        return json(res, 503, { code: 'maintenance' });
      case '/bad/html':
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
        return void res.end('<!doctype html><html><body><h1>Please log in</h1></body></html>');
      case '/bad/redirect-loop':
        res.writeHead(302, { location: `${base}/bad/redirect-loop` });
        return void res.end();
      case '/bad/slow':
        return void setTimeout(() => json(res, 200, { contacts: [] }), 3_000);
      case '/bad/huge':
        return streamBytes(res, 10 * 1024 * 1024);
      case '/bad/cross-origin-link':
        return json(res, 200, [{ id: 'x1' }], { link: '<http://attacker.example/collect>; rel="next"' });
      case '/bad/cursor-loop':
        return json(res, 200, { contacts: [{ id: 'y' }], next: 'same' });
      case '/bad/pages':
        return json(res, 200, { contacts: [{ id: `p${url.searchParams.get('page')}` }] });
      case '/bad/echo':
        return json(res, 200, { received: { path: r.path, headers: r.headers, body: r.body } });
      case '/bad/text-record':
        return json(res, 200, { contacts: ['just a string'] });
      default:
        return json(res, 404, {});
    }
  }

  return {
    url: receiver.url,
    receiver,
    contacts,
    events,
    invoices,
    clientId,
    clientSecret,
    tokensIssued: () => issued,
    revokeTokens: () => tokens.clear(),
    hits: (prefix) => [...counters.entries()].filter(([k]) => k.startsWith(prefix)).reduce((s, [, v]) => s + v, 0),
    addContact(c) {
      const contact: Contact = { id: `c_${nextId++}`, email: null, sms: null, attributes: {}, listIds: [2], ...c };
      contacts.push(contact);
      return contact;
    },
    close: () => receiver.close(),
  };
}

/** The connector declaration for the fake SaaS (the same shape as oubli.config.example.ts's). */
export function saasConnectorConfig(saas: FakeSaas, overrides: Record<string, unknown> = {}) {
  return {
    id: 'newsletter',
    title: 'Newsletter platform (fake SaaS)',
    driver: 'http' as const,
    baseUrl: `${saas.url}/v3/`,
    allowPrivateNetwork: ['127.0.0.0/8'],
    timeoutMs: 2_000,
    auth: { type: 'oauth2' as const, tokenUrl: `${saas.url}/oauth/token`, clientId: saas.clientId, clientSecret: saas.clientSecret, scope: 'contacts' },
    health: { url: 'account' },
    collections: {
      contacts: {
        portable: true,
        key: 'id',
        search: {
          email: { url: 'contacts/by-email/{email}', records: 'contacts', pagination: { type: 'page' as const, size: { param: 'limit', value: 2 } } },
          phone: { url: 'contacts', query: { sms: '{phone}', limit: '2' }, records: '$.contacts[*]', pagination: { type: 'cursor' as const, cursor: 'next_cursor', param: 'cursor' } },
          customer_id: { url: 'contacts?ext_id={customer_id}', pagination: { type: 'link' as const } },
          loyalty_card: { method: 'POST' as const, url: 'contacts/search', body: { loyalty: '{loyalty_card}' }, records: 'results.items' },
        },
        match: { email: 'email', phone: 'sms', customer_id: 'attributes.CUSTOMER_ID', loyalty_card: 'attributes.LOYALTY' },
        discover: {
          customer_id: { path: 'attributes.CUSTOMER_ID', reason: 'newsletter.contacts.attributes.CUSTOMER_ID of the contact found' },
          phone: { path: 'sms', reason: 'newsletter.contacts.sms of the contact found' },
        },
        erase: { action: 'delete' as const, request: { method: 'DELETE' as const, url: 'contacts/{record.id}' } },
      },
      events: {
        via: { collection: 'contacts', url: 'contacts/{parent.id}/events', query: { limit: '2' }, records: 'data.events', pagination: { type: 'cursor' as const, cursor: 'meta.next', param: 'cursor' } },
        erase: { action: 'cascade' as const },
      },
      invoices: {
        key: 'number',
        search: { customer_id: { url: 'invoices?customer={customer_id}', records: 'invoices' } },
        erase: { action: 'retain' as const, basis: 'legal obligation: 10-year retention of accounting records', keep: ['number', 'customer', 'amountCents'] },
      },
    },
    ...overrides,
  };
}
