/**
 * The REST connector against the fake SaaS (a real server on 127.0.0.1): what each kind of
 * answer becomes (not found, retryable, fatal), pagination, OAuth token handling, and the
 * attacks a hostile silo or a hostile identity can try (header injection, path steps, a Link
 * to another origin, a private address, secrets in logs).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { conformanceContext } from '../../connectors/conformance.js';
import { httpConnector, type HttpConnector } from '../../connectors/http/index.js';
import type { ResolvedAddress } from '../../connectors/net/index.js';
import { ConnectorError, type ConnectorContext, type Identity } from '../../connectors/types.js';
import { startFakeSaas, saasConnectorConfig, type FakeSaas } from './http-saas.js';

let saas: FakeSaas;
const built: HttpConnector[] = [];

beforeAll(async () => {
  saas = await startFakeSaas();
});
afterAll(async () => {
  await Promise.all(built.map((c) => c.close()));
  await saas.close();
});

function connector(overrides: Record<string, unknown> = {}, opts: Parameters<typeof httpConnector>[1] = {}): HttpConnector {
  const c = httpConnector(saasConnectorConfig(saas, overrides), opts);
  built.push(c);
  return c;
}

/** A one-collection connector whose search is `url` on the fake SaaS's /bad/ endpoints. */
function badEndpoint(path: string, extra: Record<string, unknown> = {}, top: Record<string, unknown> = {}): HttpConnector {
  return connector({
    baseUrl: `${saas.url}/bad/`,
    auth: undefined,
    health: undefined,
    ...top,
    collections: { things: { search: { email: { url: `${path}?q={email}`, records: 'contacts', ...extra } }, erase: { action: 'delete', request: { method: 'DELETE', url: 'x/{record.id}' } } } },
  });
}

async function failure(p: Promise<unknown>): Promise<ConnectorError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(ConnectorError);
    return err as ConnectorError;
  }
  throw new Error('the call did not fail');
}

const ZOE: Identity[] = [{ type: 'email', value: 'zoe@example.com' }];

/** A context whose log keeps every line, to check what reaches the logs. */
function recordingContext(opts: { dryRun?: boolean; signal?: AbortSignal } = {}): ConnectorContext & { lines: unknown[] } {
  const lines: unknown[] = [];
  const keep = (obj: object, msg?: string) => void lines.push({ obj, msg });
  return { ...conformanceContext(opts), log: { debug: keep, info: keep, warn: keep, error: keep }, lines };
}

describe('http connector: what each answer means', () => {
  it('a 404 meaning "no such person" is an empty result, not a failure', async () => {
    const before = saas.hits('/v3/contacts/by-email/');
    const r = await connector().access([{ type: 'email', value: 'nobody@example.com' }], conformanceContext());
    expect(saas.hits('/v3/contacts/by-email/') - before).toBe(1);
    expect(r.collections.find((c) => c.name === 'contacts')).toMatchObject({ records: [], matchedBy: [{ identity: 'email', records: 0 }, { identity: 'phone', records: 0 }, { identity: 'customer_id', records: 0 }, { identity: 'loyalty_card', records: 0 }] });
  });

  it('a 429 with a short Retry-After is waited in the call, then the answer is taken', async () => {
    const c = badEndpoint('rate-limited-once', {}, { maxRetryAfterMs: 2_000 });
    const t = performance.now();
    const r = await c.access(ZOE, conformanceContext());
    expect(r.collections[0]!.records).toEqual([]);
    expect(performance.now() - t).toBeGreaterThanOrEqual(950);
    expect(saas.hits('/bad/rate-limited-once')).toBe(2);
  });

  it('a 429 asking for longer is a retryable error carrying Retry-After for the engine', async () => {
    const e = await failure(badEndpoint('rate-limited-long').access(ZOE, conformanceContext()));
    expect(e).toMatchObject({ code: 'SILO_RATE_LIMITED', retryable: true, retryAfterMs: 120_000 });
    expect(saas.hits('/bad/rate-limited-long')).toBe(1);
  });

  it('a 5xx is retryable', async () => {
    expect(await failure(badEndpoint('unavailable').access(ZOE, conformanceContext()))).toMatchObject({ code: 'SILO_UNAVAILABLE', retryable: true });
  });

  it('HTML instead of JSON (behind a 200) is fatal, and the page is not quoted', async () => {
    const e = await failure(badEndpoint('html').access(ZOE, conformanceContext()));
    expect(e).toMatchObject({ code: 'SILO_BAD_RESPONSE', retryable: false });
    expect(e.message).toContain('text/html, not JSON');
    expect(e.message).not.toMatch(/log in|zoe/);
  });

  it('a redirect loop is not followed: one request, a fatal error', async () => {
    const e = await failure(badEndpoint('redirect-loop').access(ZOE, conformanceContext()));
    expect(e).toMatchObject({ code: 'SILO_REDIRECT', retryable: false });
    expect(saas.hits('/bad/redirect-loop')).toBe(1);
  });

  it('a slow answer beyond the time limit is a retryable timeout, within the limit', async () => {
    const c = badEndpoint('slow', {}, { timeoutMs: 300 });
    const t = performance.now();
    expect(await failure(c.access(ZOE, conformanceContext()))).toMatchObject({ code: 'SILO_TIMEOUT', retryable: true });
    expect(performance.now() - t).toBeLessThan(1_500);
  });

  it('a 10 MB answer is cut at maxResponseBytes and refused, not exported in part', async () => {
    const c = badEndpoint('huge', {}, { maxResponseBytes: 256 * 1024 });
    const e = await failure(c.access(ZOE, conformanceContext()));
    expect(e).toMatchObject({ code: 'SILO_BAD_RESPONSE', retryable: false });
    expect(e.message).toContain('longer than 262144 bytes');
  });

  it('records that are not objects do not fit the mapping', async () => {
    expect(await failure(badEndpoint('text-record').access(ZOE, conformanceContext()))).toMatchObject({ code: 'SILO_BAD_RESPONSE' });
  });

  it('an aborted call rejects with the signal\'s reason', async () => {
    const ac = new AbortController();
    const reason = new Error('shutdown');
    setTimeout(() => ac.abort(reason), 100);
    await expect(badEndpoint('slow').access(ZOE, conformanceContext({ signal: ac.signal }))).rejects.toBe(reason);
  });
});

describe('http connector: pagination', () => {
  it('numbered pages, cursors and Link headers are all read to the end', async () => {
    for (const email of ['Page.Person@Example.com', 'page.person@example.com ', 'PAGE.PERSON@EXAMPLE.COM']) saas.addContact({ email, attributes: { CUSTOMER_ID: 'C-PAGES' } });
    for (let i = 0; i < 2; i++) saas.addContact({ attributes: { CUSTOMER_ID: 'C-PAGES' }, sms: '+33 7 00 00 00 01' });
    const c = connector();
    const byEmail = await c.access([{ type: 'email', value: 'page.person@example.com' }], conformanceContext());
    expect(byEmail.collections.find((x) => x.name === 'contacts')!.records).toHaveLength(3);
    const byCustomer = await c.access([{ type: 'customer_id', value: 'C-PAGES' }], conformanceContext());
    expect(byCustomer.collections.find((x) => x.name === 'contacts')!.records).toHaveLength(5);
    const byPhone = await c.access([{ type: 'phone', value: '+33700000001' }], conformanceContext());
    expect(byPhone.collections.find((x) => x.name === 'contacts')!.records).toHaveLength(2);
  });

  it('a Link to another origin is never followed (it would carry the credentials there)', async () => {
    const asked: string[] = [];
    const resolve = async (host: string): Promise<ResolvedAddress[]> => {
      asked.push(host);
      return [{ address: '127.0.0.1', family: 4 }];
    };
    const c = connector({ baseUrl: `${saas.url}/bad/`, auth: { type: 'bearer', token: 'tok_secret' }, health: undefined, collections: { things: { search: { email: { url: 'cross-origin-link?q={email}', pagination: { type: 'link' } } }, erase: { action: 'retain', basis: 'n/a basis' } } } }, { resolve });
    const e = await failure(c.access(ZOE, conformanceContext()));
    expect(e).toMatchObject({ code: 'SILO_BAD_RESPONSE', retryable: false });
    expect(e.message).toContain('another origin');
    expect(asked).not.toContain('attacker.example');
  });

  it('a cursor that never ends, or more pages than maxPages, fails instead of looping', async () => {
    expect(await failure(badEndpoint('cursor-loop', { pagination: { type: 'cursor', cursor: 'next', param: 'c' } }).access(ZOE, conformanceContext()))).toMatchObject({ code: 'SILO_BAD_RESPONSE' });
    const c = badEndpoint('pages', { pagination: { type: 'page' } }, { maxPages: 4 });
    expect(await failure(c.access(ZOE, conformanceContext()))).toMatchObject({ code: 'SILO_TOO_MANY_PAGES' });
    expect(saas.hits('/bad/pages')).toBe(4);
  });
});

describe('http connector: OAuth 2.0 client credentials', () => {
  it('one token serves many calls, and concurrent calls share one token request', async () => {
    const own = await startFakeSaas();
    try {
      const c = httpConnector(saasConnectorConfig(own));
      built.push(c);
      await Promise.all(Array.from({ length: 8 }, () => c.access(ZOE, conformanceContext())));
      await c.access(ZOE, conformanceContext());
      expect(own.tokensIssued()).toBe(1);
    } finally {
      await own.close();
    }
  });

  it('a token the silo stopped accepting (401) is renewed once and the call goes through', async () => {
    const own = await startFakeSaas();
    try {
      own.addContact({ email: 'ren@example.com' });
      const c = httpConnector(saasConnectorConfig(own));
      built.push(c);
      await c.access([{ type: 'email', value: 'ren@example.com' }], conformanceContext());
      own.revokeTokens();
      const r = await c.access([{ type: 'email', value: 'ren@example.com' }], conformanceContext());
      expect(r.collections[0]!.records).toHaveLength(1);
      expect(own.tokensIssued()).toBe(2);
    } finally {
      await own.close();
    }
  });

  it('a token is renewed before it expires', async () => {
    const own = await startFakeSaas({ tokenLifetimeS: 120 });
    try {
      let now = Date.now();
      const c = httpConnector(saasConnectorConfig(own), { now: () => now });
      built.push(c);
      await c.access(ZOE, conformanceContext());
      now += 60_000;
      await c.access(ZOE, conformanceContext());
      expect(own.tokensIssued()).toBe(1);
      now += 35_000; // within 30 s of expiry
      await c.access(ZOE, conformanceContext());
      expect(own.tokensIssued()).toBe(2);
    } finally {
      await own.close();
    }
  });

  it('wrong client credentials: a fatal SILO_AUTH that does not quote the secret; health says so', async () => {
    const c = connector({ auth: { type: 'oauth2', tokenUrl: `${saas.url}/oauth/token`, clientId: 'oubli', clientSecret: 'cs_wrong_secret_123' } });
    const e = await failure(c.access(ZOE, conformanceContext()));
    expect(e).toMatchObject({ code: 'SILO_AUTH', retryable: false });
    expect(e.message).not.toContain('cs_wrong_secret_123');
    expect(await c.health!(conformanceContext())).toMatchObject({ ok: false, code: 'SILO_AUTH' });
    expect(await connector().health!(conformanceContext())).toMatchObject({ ok: true });
  });
});

describe('http connector: attacks', () => {
  function echo(search: Record<string, unknown>): HttpConnector {
    return connector({ baseUrl: `${saas.url}/bad/`, auth: undefined, health: undefined, collections: { echoed: { search: { customer_id: { url: 'echo', records: 'received', ...search } }, erase: { action: 'retain', basis: 'test basis' } } } });
  }

  it('header injection through an identity placeholder (CR/LF) is refused, nothing sent', async () => {
    const c = echo({ headers: { 'x-customer': '{customer_id}' } });
    const before = saas.hits('/bad/echo');
    for (const value of ['42\r\nX-Injected: 1', '42\nX-Injected: 1', '42\u0000']) {
      const e = await failure(c.access([{ type: 'customer_id', value }], conformanceContext()));
      expect(e).toMatchObject({ code: 'UNSAFE_VALUE', retryable: false });
      expect(e.message).toContain('{customer_id}');
      expect(e.message).not.toContain('X-Injected');
    }
    expect(saas.hits('/bad/echo')).toBe(before);
    const ok = await c.access([{ type: 'customer_id', value: '42' }], conformanceContext());
    expect((ok.collections[0]!.records[0] as { headers: Record<string, string> }).headers['x-customer']).toBe('42');
  });

  it('an identity cannot reshape the URL: it is percent-encoded, and "." / ".." path steps are refused', async () => {
    const c = echo({ url: 'echo/{customer_id}', notFound: [] });
    const e = await failure(c.access([{ type: 'customer_id', value: '..' }], conformanceContext()));
    expect(e.code).toBe('UNSAFE_VALUE');
    const q = echo({ url: 'echo', query: { id: '{customer_id}' } });
    const r = await q.access([{ type: 'customer_id', value: 'a/b?c=d#e@f&g=h' }], conformanceContext());
    expect((r.collections[0]!.records[0] as { path: string }).path).toBe('/bad/echo?id=a%2Fb%3Fc%3Dd%23e%40f%26g%3Dh');
    const b = echo({ method: 'POST', body: { filter: { id: '{customer_id}' } } });
    const posted = await b.access([{ type: 'customer_id', value: '"}, "admin": true, "x": {"' }], conformanceContext());
    expect(JSON.parse((posted.collections[0]!.records[0] as { body: string }).body)).toEqual({ filter: { id: '"}, "admin": true, "x": {"' } });
  });

  it('a silo on a private address is refused unless the declaration allows it; then metadata still is', async () => {
    const c = connector({ allowPrivateNetwork: false });
    expect(await failure(c.access(ZOE, conformanceContext()))).toMatchObject({ code: 'SILO_ADDRESS_FORBIDDEN', retryable: false });
    const viaDns = connector({ allowPrivateNetwork: false, baseUrl: 'http://newsletter.internal.example/v3/', auth: undefined }, { resolve: async () => [{ address: '10.0.0.7', family: 4 }] });
    expect(await failure(viaDns.access(ZOE, conformanceContext()))).toMatchObject({ code: 'SILO_ADDRESS_FORBIDDEN' });
    const metadata = connector({ allowPrivateNetwork: true, baseUrl: 'http://169.254.169.254/latest/', auth: undefined });
    expect(await failure(metadata.access(ZOE, conformanceContext()))).toMatchObject({ code: 'SILO_ADDRESS_FORBIDDEN' });
  });

  it('no identity, token or secret reaches the logs or the errors', async () => {
    saas.addContact({ email: 'log.check@example.com', sms: '+33 6 98 76 54 32', attributes: { CUSTOMER_ID: 'C-LOG' } });
    const c = connector();
    const ctx = recordingContext();
    await c.access([{ type: 'email', value: 'log.check@example.com' }], ctx);
    await c.erase([{ type: 'email', value: 'log.check@example.com' }], { ...ctx, dryRun: true });
    const text = JSON.stringify(ctx.lines);
    expect(ctx.lines.length).toBeGreaterThan(3);
    expect(text).not.toMatch(/log\.check|98 76|C-LOG|Bearer|cs_/);
    expect(text).not.toContain(saas.clientSecret);
  });

  it('a dry run sends no delete', async () => {
    const contact = saas.addContact({ email: 'dry.run@example.com' });
    const c = connector();
    const before = saas.receiver.received.filter((r) => r.method === 'DELETE').length;
    const preview = await c.erase([{ type: 'email', value: 'dry.run@example.com' }], conformanceContext({ dryRun: true }));
    expect(preview.collections.find((x) => x.name === 'contacts')).toMatchObject({ deleted: 1 });
    expect(saas.receiver.received.filter((r) => r.method === 'DELETE').length).toBe(before);
    expect(saas.contacts).toContain(contact);
  });
});
