import { describe, expect, it } from 'vitest';
import { httpConnector, parseHttpConfig } from '../../connectors/http/index.js';
import { parsePath, select, selectRecords } from '../../connectors/http/paths.js';
import { ConnectorError } from '../../connectors/types.js';

const valid = () => ({
  id: 'news',
  title: 'Newsletter',
  driver: 'http',
  baseUrl: 'https://api.news.example/v3/',
  auth: { type: 'bearer', token: 'tok_123' },
  collections: {
    contacts: {
      key: 'id',
      search: { email: { url: 'contacts/{email}' } },
      match: { email: 'email' },
      erase: { action: 'delete', request: { method: 'DELETE', url: 'contacts/{record.id}' } },
    },
    events: { via: { collection: 'contacts', url: 'contacts/{parent.id}/events' }, erase: { action: 'cascade' } },
  },
});

/** The message a mutated declaration is refused with (tests write malformed configs, hence `any`). */
function problems(mutate: (c: any) => void): string {
  const c: any = valid();
  mutate(c);
  try {
    parseHttpConfig(c);
  } catch (err) {
    expect(err).toBeInstanceOf(ConnectorError);
    expect((err as ConnectorError).code).toBe('CONNECTOR_CONFIG');
    expect((err as ConnectorError).retryable).toBe(false);
    return (err as Error).message;
  }
  throw new Error('the config was accepted');
}

describe('http connector config', () => {
  it('a valid declaration builds a connector (no I/O) with its lookup types', async () => {
    const c = httpConnector(valid() as never);
    expect(c.lookupBy).toEqual(['email']);
    expect(c.capabilities).toEqual({ access: true, erasure: true });
    await c.close();
  });

  it.each<[string, (c: any) => void, string]>([
    ['a missing URL', (c) => delete c.collections.contacts.search.email.url, 'connector "news": collections.contacts.search.email.url: required'],
    ['a secret the environment did not give', (c) => (c.auth.token = undefined), 'connector "news": auth.token: required'],
    ['a base URL that is not http(s)', (c) => (c.baseUrl = 'ftp://api.news.example/'), 'connector "news": baseUrl: only http and https'],
    ['credentials in the base URL', (c) => (c.baseUrl = 'https://u:p@api.news.example/'), 'baseUrl: no credentials'],
    ['a placeholder in the host', (c) => (c.collections.contacts.search.email.url = 'https://{email}.news.example/x'), 'collections.contacts.search.email.url: "https://{email}.news.example/x": a placeholder may not stand in the scheme, host or port'],
    ['a search using another identity', (c) => (c.collections.contacts.search.email.url = 'contacts/{phone}'), 'collections.contacts.search.email.url: {phone} is not the identity this search is for ({email})'],
    ['a search using a record field', (c) => (c.collections.contacts.search.email.query = { q: '{record.id}' }), 'collections.contacts.search.email.query.q: {record.id} is not available here'],
    ['an erase request using an identity', (c) => (c.collections.contacts.erase.request.url = 'contacts/{email}'), 'collections.contacts.erase.request.url: {email} is not available here (use {record.<path>})'],
    ['a header with a line break in its name', (c) => (c.headers = { 'x-a\r\nb': 'x' }), 'headers.x-a\r\nb: must be an HTTP header name'],
    ['a header value with a line break', (c) => (c.headers = { 'x-api-key': 'k\r\nX-Evil: 1' }), 'headers.x-api-key: holds a line break or control character'],
    ['a malformed path', (c) => (c.collections.contacts.match.email = 'emails[?(@.x)]'), 'collections.contacts.match.email'],
    ['an unknown placeholder', (c) => (c.collections.contacts.search.email.url = 'contacts/{Email Address}'), 'unknown placeholder {Email Address}'],
    ['a via to an unknown collection', (c) => (c.collections.events.via.collection = 'people'), 'collections.events.via.collection: unknown collection "people"'],
    ['cascade without via', (c) => (c.collections.contacts.erase = { action: 'cascade' }), "collections.contacts.erase: 'cascade' needs \"via\""],
    ['cascade from a retained parent', (c) => (c.collections.contacts.erase = { action: 'retain', basis: 'legal obligation' }), 'is retained'],
    ['an unreachable collection', (c) => (c.collections.orphans = { erase: { action: 'retain', basis: 'kept' } }), 'collections.orphans: unreachable'],
    ['a match with no search', (c) => (c.collections.contacts.match.phone = 'sms'), 'collections.contacts.match.phone: there is no search by phone'],
    ['a bad status', (c) => (c.statuses = { notFound: [404, '4x'] }), 'statuses.notFound.1'],
    ['a bad CIDR', (c) => (c.allowPrivateNetwork = ['10.0.0.0/33']), 'allowPrivateNetwork.0: must be a CIDR'],
    ['an unknown field', (c) => (c.collections.contacts.serach = {}), 'collections.contacts'],
  ])('%s is refused, naming the connector and the field', (_what, mutate, expected) => {
    expect(problems(mutate)).toContain(expected);
  });

  it('via cycles are refused', () => {
    expect(
      problems((c) => {
        c.collections.a = { via: { collection: 'b', url: 'a/{parent.id}' }, erase: { action: 'cascade' } };
        c.collections.b = { via: { collection: 'a', url: 'b/{parent.id}' }, erase: { action: 'cascade' } };
      }),
    ).toContain('"via" forms a cycle');
  });

  it('an error never quotes a secret', () => {
    const msg = problems((c) => {
      c.auth.token = 'tok_very_secret';
      c.collections.contacts.search.email.url = undefined;
    });
    expect(msg).not.toContain('tok_very_secret');
  });
});

describe('the path syntax', () => {
  const doc = { data: { items: [{ id: 1, tags: ['a', 'b'] }, { id: 2 }], 'odd key': { v: 3 } }, top: null };

  it('navigates members, indexes, wildcards and quoted names', () => {
    expect(select(parsePath('$'), doc)).toEqual([doc]);
    expect(select(parsePath('data.items[*].id'), doc)).toEqual([1, 2]);
    expect(select(parsePath('$.data.items[1].id'), doc)).toEqual([2]);
    expect(select(parsePath("$.data['odd key'].v"), doc)).toEqual([3]);
    expect(select(parsePath('$.data.*'), doc)).toHaveLength(2);
    expect(select(parsePath('$.missing.deeper'), doc)).toEqual([]);
  });

  it('records: objects reached, arrays reached are their elements, null is none, scalars do not fit', () => {
    expect(selectRecords(parsePath('data.items'), doc)).toHaveLength(2);
    expect(selectRecords(parsePath('data.items[*]'), doc)).toHaveLength(2);
    expect(selectRecords(parsePath('top'), doc)).toEqual([]);
    expect(selectRecords(parsePath('data.items[0].tags'), doc)).toEqual({ misfit: 'string' });
  });

  it('refuses what it does not support (filters, scripts, recursive descent)', () => {
    for (const p of ['$..id', '$.items[?(@.price < 10)]', '$.items[(@.length-1)]', '$.a b', '$[']) expect(() => parsePath(p), p).toThrow();
  });

  it('does not reach inherited members', () => {
    expect(select(parsePath('constructor'), {})).toEqual([]);
    expect(select(parsePath('__proto__'), {})).toEqual([]);
  });
});
