/**
 * The outbound client against a real receiver on 127.0.0.1: what it refuses (schemes, private
 * and metadata addresses — directly, through a DNS name, through DNS rebinding, through a
 * redirect), and how it bounds a peer (time, body size, header injection).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OutboundClient, OutboundError, type ResolvedAddress } from '../../connectors/net/index.js';
import { startReceiver, streamBytes, type Receiver } from '../helpers/receiver.js';

let rx: Receiver;
const clients: OutboundClient[] = [];
function client(opts: ConstructorParameters<typeof OutboundClient>[0] = {}): OutboundClient {
  const c = new OutboundClient(opts);
  clients.push(c);
  return c;
}

beforeAll(async () => {
  rx = await startReceiver(async (req, res) => {
    if (req.path === '/redirect') {
      res.writeHead(302, { location: 'http://169.254.169.254/latest/meta-data/iam/security-credentials/' });
      res.end();
    } else if (req.path === '/slow') {
      setTimeout(() => res.end('late'), 2_000);
    } else if (req.path === '/trickle') {
      res.writeHead(200);
      const t = setInterval(() => res.write('.'), 50);
      res.on('close', () => clearInterval(t));
    } else if (req.path === '/big') {
      streamBytes(res, 10 * 1024 * 1024);
    } else {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ ok: true, path: req.path }));
    }
  });
});

afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await rx.close();
});

async function refusal(p: Promise<unknown>): Promise<OutboundError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(OutboundError);
    return err as OutboundError;
  }
  throw new Error('the call was not refused');
}

/** A resolver stub: the answers a test's DNS gives, and how often it was asked. */
function stubResolver(answers: Record<string, ResolvedAddress[] | ResolvedAddress[][]>) {
  const asked: string[] = [];
  const resolve = async (host: string): Promise<ResolvedAddress[]> => {
    const n = asked.filter((h) => h === host).length;
    asked.push(host);
    const a = answers[host];
    if (!a) throw Object.assign(new Error('not found'), { code: 'ENOTFOUND' });
    return Array.isArray(a[0]) ? ((a as ResolvedAddress[][])[Math.min(n, a.length - 1)] ?? []) : (a as ResolvedAddress[]);
  };
  return { resolve, asked };
}

const v4 = (address: string): ResolvedAddress => ({ address, family: 4 });

describe('outbound client: what it refuses', () => {
  it('a URL that is not http(s), or carries credentials, is refused before any connection', async () => {
    const c = client({ privateNetworks: true });
    for (const url of ['ftp://127.0.0.1/x', 'file:///etc/passwd', 'gopher://127.0.0.1:70/', 'javascript:alert(1)', 'data:text/plain,hi', 'ws://127.0.0.1/', '/relative', 'not a url']) {
      const e = await refusal(c.request({ url }));
      expect(e.code, url).toBe('URL_NOT_ALLOWED');
      expect(e.retryable).toBe(false);
    }
    const e = await refusal(c.request({ url: `http://admin:hunter2@127.0.0.1:${rx.port}/` }));
    expect(e.code).toBe('URL_NOT_ALLOWED');
    expect(e.message).not.toContain('hunter2');
    expect(rx.received).toHaveLength(0);
  });

  it('an address in a forbidden range, given directly, is refused at connect time', async () => {
    const c = client();
    for (const host of [`127.0.0.1:${rx.port}`, `[::1]:${rx.port}`, `[::ffff:127.0.0.1]:${rx.port}`, `0x7f000001:${rx.port}`, `2130706433:${rx.port}`, `0.0.0.0:${rx.port}`, '10.0.0.1', '192.168.1.1', '172.16.0.1', '100.64.0.1', '169.254.169.254', '[fd00:ec2::254]', '[fe80::1]', '[fc00::1]', '224.0.0.1']) {
      const t = performance.now();
      const e = await refusal(c.request({ url: `http://${host}/latest/meta-data` }));
      expect(e.code, host).toBe('ADDRESS_FORBIDDEN');
      expect(e.retryable).toBe(false);
      expect(performance.now() - t, `${host} refused without a connection attempt`).toBeLessThan(500);
    }
    expect(rx.received).toHaveLength(0);
  });

  it('a name resolving to a forbidden address is refused (localhost, through the system resolver)', async () => {
    const e = await refusal(client().request({ url: `http://localhost:${rx.port}/` }));
    expect(e.code).toBe('ADDRESS_FORBIDDEN');
    expect(e.message).toMatch(/resolved from localhost/);
    expect(rx.received).toHaveLength(0);
  });

  it('every A/AAAA record is checked: one private address among public ones refuses the name', async () => {
    const dns = stubResolver({
      'internal.example': [v4('10.1.2.3')],
      'mixed.example': [v4('93.184.215.14'), v4('127.0.0.1')],
      'mapped.example': [{ address: '::ffff:127.0.0.1', family: 6 }],
      'metadata.example': [v4('169.254.169.254')],
    });
    const c = client({ resolve: dns.resolve });
    for (const host of ['internal.example', 'mixed.example', 'mapped.example', 'metadata.example']) {
      const e = await refusal(c.request({ url: `http://${host}:${rx.port}/` }));
      expect(e.code, host).toBe('ADDRESS_FORBIDDEN');
    }
    expect(rx.received).toHaveLength(0);
  });

  it('DNS rebinding does not pass: a name checked as public, then answering loopback, is refused when connecting', async () => {
    const dns = stubResolver({ 'rebind.example': [[v4('93.184.215.14')], [v4('127.0.0.1')]] });
    const c = client({ resolve: dns.resolve });
    await expect(c.checkDestination(`http://rebind.example:${rx.port}/hook`)).resolves.toBeInstanceOf(URL);
    const e = await refusal(c.request({ url: `http://rebind.example:${rx.port}/hook`, method: 'POST', body: '{}' }));
    expect(e.code).toBe('ADDRESS_FORBIDDEN');
    expect(dns.asked).toEqual(['rebind.example', 'rebind.example']);
    expect(rx.received).toHaveLength(0);
  });

  it('checkDestination answers early, with the same verdicts', async () => {
    const dns = stubResolver({ 'internal.example': [v4('10.1.2.3')] });
    const c = client({ resolve: dns.resolve });
    expect((await refusal(c.checkDestination('http://internal.example/'))).code).toBe('ADDRESS_FORBIDDEN');
    expect((await refusal(c.checkDestination('http://[::1]/'))).code).toBe('ADDRESS_FORBIDDEN');
    expect((await refusal(c.checkDestination('ftp://example.com/'))).code).toBe('URL_NOT_ALLOWED');
    expect((await refusal(c.checkDestination('http://nowhere.example/'))).code).toBe('DNS_FAILED');
  });

  it('a redirect is an answer, never a hop: the 3xx comes back and nothing else is requested', async () => {
    const before = rx.received.length;
    const dns = stubResolver({});
    const c = client({ privateNetworks: true, resolve: dns.resolve });
    const r = await c.request({ url: `${rx.url}/redirect` });
    expect(r.status).toBe(302);
    expect(r.headers.location).toMatch(/^http:\/\/169\.254\.169\.254\//);
    expect(rx.received.length - before).toBe(1);
    expect(dns.asked).toEqual([]);
  });

  it('private networks opened for tests and internal silos still never reach the metadata service', async () => {
    const all = client({ privateNetworks: true });
    expect((await all.request({ url: `${rx.url}/ok` })).status).toBe(200);
    expect((await refusal(all.request({ url: 'http://169.254.169.254/latest/meta-data' }))).code).toBe('ADDRESS_FORBIDDEN');
    expect((await refusal(all.request({ url: 'http://[fd00:ec2::254]/' }))).code).toBe('ADDRESS_FORBIDDEN');
    const listed = client({ privateNetworks: ['127.0.0.0/8'] });
    expect((await listed.request({ url: `${rx.url}/ok` })).status).toBe(200);
    expect((await refusal(listed.request({ url: 'http://10.0.0.1/' }))).code).toBe('ADDRESS_FORBIDDEN');
  });

  it('header injection (CR/LF in a value) is refused before anything is sent', async () => {
    const c = client({ privateNetworks: true });
    const before = rx.received.length;
    for (const value of ['zoe@example.com\r\nX-Injected: 1', 'a\nb', 'a\rb', 'a\u0000b']) {
      const e = await refusal(c.request({ url: `${rx.url}/ok`, headers: { 'x-subject': value } }));
      expect(e.code).toBe('INVALID_REQUEST');
      expect(e.message).not.toContain('zoe');
    }
    expect((await refusal(c.request({ url: `${rx.url}/ok`, headers: { 'x-a\r\nb': '1' } }))).code).toBe('INVALID_REQUEST');
    expect(rx.received.length).toBe(before);
  });

  it('errors name the origin only, never the path or query (identities travel there)', async () => {
    const e = await refusal(client().request({ url: `http://127.0.0.1:${rx.port}/contacts/zoe%40example.com?token=s3cret` }));
    expect(e.message).not.toMatch(/zoe|s3cret|contacts/);
    const closed = await startReceiver(() => {});
    await closed.close();
    const refused = await refusal(client({ privateNetworks: true }).request({ url: `${closed.url}/contacts/zoe%40example.com?token=s3cret` }));
    expect(refused.code).toBe('CONNECTION_FAILED');
    expect(refused.retryable).toBe(true);
    expect(refused.message).toContain(closed.url);
    expect(refused.message).not.toMatch(/zoe|s3cret|contacts/);
  });
});

describe('outbound client: how it bounds a peer', () => {
  it('a slow receiver hits the total time limit: TIMEOUT, retryable', async () => {
    const c = client({ privateNetworks: true, timeoutMs: 300 });
    const t = performance.now();
    const e = await refusal(c.request({ url: `${rx.url}/slow` }));
    expect(e.code).toBe('TIMEOUT');
    expect(e.retryable).toBe(true);
    expect(performance.now() - t).toBeLessThan(1_500);
  });

  it('a body trickling in forever is bounded by the same total limit', async () => {
    const c = client({ privateNetworks: true });
    const t = performance.now();
    const e = await refusal(c.request({ url: `${rx.url}/trickle`, timeoutMs: 400 }));
    expect(e.code).toBe('TIMEOUT');
    expect(performance.now() - t).toBeLessThan(1_500);
  });

  it('a 10 MB body is cut at the cap and the rest never read', async () => {
    const c = client({ privateNetworks: true, maxResponseBytes: 64 * 1024 });
    const r = await c.request({ url: `${rx.url}/big` });
    expect(r.status).toBe(200);
    expect(r.truncated).toBe(true);
    expect(r.body.length).toBe(64 * 1024);
    const small = await c.request({ url: `${rx.url}/ok` });
    expect(small.truncated).toBe(false);
    expect(JSON.parse(small.body.toString())).toEqual({ ok: true, path: '/ok' });
  });

  it("the caller's signal aborting rejects with its reason", async () => {
    const c = client({ privateNetworks: true });
    const ac = new AbortController();
    const reason = new Error('shutting down');
    setTimeout(() => ac.abort(reason), 50);
    await expect(c.request({ url: `${rx.url}/slow`, signal: ac.signal })).rejects.toBe(reason);
    await expect(c.request({ url: `${rx.url}/ok`, signal: ac.signal })).rejects.toBe(reason);
  });

  it('keeps connections alive per origin: 50 calls reuse one or two sockets', async () => {
    const own = await startReceiver((_req, res) => res.end('ok'));
    try {
      const c = client({ privateNetworks: true });
      for (let i = 0; i < 50; i++) expect((await c.request({ url: `${own.url}/n${i}`, method: 'POST', body: '{}' })).status).toBe(200);
      expect(own.received).toHaveLength(50);
      // undici may open a second socket while the first request's completion is still being
      // booked; after that the pool reuses what it has.
      expect(own.sockets()).toBeLessThanOrEqual(2);
    } finally {
      await own.close();
    }
  });
});
