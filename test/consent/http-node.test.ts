/**
 * The consent write routes over a real @hono/node-server socket: on Node their bodies are read
 * straight from the socket (src/consent/socket-body.ts) and capped from Content-Length
 * (src/http/basics.ts), paths app.request() does not take.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serve } from '@hono/node-server';
import type { AddressInfo } from 'node:net';
import { request as httpRequest } from 'node:http';
import { consentApp, count, grant } from './helpers.js';

let t: Awaited<ReturnType<typeof consentApp>>;
let server: ReturnType<typeof serve>;
let base: string;

beforeAll(async () => {
  t = await consentApp();
  server = serve({ fetch: t.app.fetch, port: 0, hostname: '127.0.0.1' });
  await new Promise<void>((r) => server.once('listening', () => r()));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

const post = async (path: string, body: string | Buffer, headers: Record<string, string> = {}) => {
  const res = await fetch(base + path, { method: 'POST', body: typeof body === 'string' ? body : new Uint8Array(body), headers: { ...t.auth, 'content-type': 'application/json', ...headers } });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : undefined };
};

describe('consent writes over a Node socket', () => {
  it('records an event (also with a UTF-8 BOM and a multi-byte value split across chunks)', async () => {
    const r = await post('/v1/consents', JSON.stringify(grant('emilie@example.com', 'newsletter', { method: 'café' })));
    expect(r.status).toBe(201);
    expect(r.json.subjectId).toMatch(/^sub_/);
    const bom = await post('/v1/consents', Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(JSON.stringify(grant('bom@example.com')))]));
    expect(bom.status).toBe(201);
    // a body sent in two writes, the split inside a multi-byte character
    const payload = Buffer.from(JSON.stringify(grant('zoe@example.com', 'newsletter', { method: 'é'.repeat(40) })));
    const status = await new Promise<number>((resolve, reject) => {
      const req = httpRequest(`${base}/v1/consents`, {
        method: 'POST',
        headers: { ...t.auth, 'content-type': 'application/json', 'content-length': String(payload.length) },
      });
      req.on('response', (res) => {
        res.resume();
        resolve(res.statusCode!);
      });
      req.on('error', reject);
      const cut = payload.indexOf(Buffer.from('é')) + 1;
      req.write(payload.subarray(0, cut));
      setTimeout(() => req.end(payload.subarray(cut)), 20);
    });
    expect(status).toBe(201);
    const h = await fetch(`${base}/v1/subjects/email:zoe%40example.com/consents/history`, { headers: t.auth });
    expect(((await h.json()) as { events: { method: string }[] }).events[0]!.method).toBe('é'.repeat(40));
    expect(await count(t.deps, 'consentEvents')).toBe(3);
  });

  it('bad bodies get the same answers as elsewhere, and nothing is written', async () => {
    const before = await count(t.deps, 'consentEvents');
    const bad = await post('/v1/consents', '{"subject":');
    expect(bad.status).toBe(400);
    expect(bad.json.error.code).toBe('INVALID_JSON');
    const invalid = await post('/v1/consents', JSON.stringify({ ...grant('a@example.com'), decision: 'maybe', extra: 1 }));
    expect(invalid.status).toBe(400);
    expect(invalid.json.error.code).toBe('VALIDATION_FAILED');
    expect(invalid.json.error.details.fields.map((f: { path: string }) => f.path)).toEqual(expect.arrayContaining(['decision']));
    const form = await post('/v1/consents', 'a=b', { 'content-type': 'application/x-www-form-urlencoded' });
    expect(form.status).toBe(415);
    expect(form.json.error.code).toBe('UNSUPPORTED_MEDIA_TYPE');
    const big = await post('/v1/consents', JSON.stringify({ ...grant('a@example.com'), evidence: { note: 'x'.repeat(1024 * 1024) } }));
    expect(big.status).toBe(413);
    expect(big.json.error.code).toBe('PAYLOAD_TOO_LARGE');
    const unauth = await post('/v1/consents', JSON.stringify(grant('a@example.com')), { authorization: 'Bearer nope' });
    expect(unauth.status).toBe(401);
    expect(await count(t.deps, 'consentEvents')).toBe(before);
  });

  it('a chunked body (no Content-Length) is capped and read the usual way', async () => {
    const body = new ReadableStream({
      start(c) {
        c.enqueue(new TextEncoder().encode(JSON.stringify(grant('chunked@example.com'))));
        c.close();
      },
    });
    const res = await fetch(`${base}/v1/consents`, {
      method: 'POST',
      body,
      duplex: 'half',
      headers: { ...t.auth, 'content-type': 'application/json' },
    } as RequestInit);
    expect(res.status).toBe(201);
  });

  it('NDJSON batches are read from the socket too', async () => {
    const ndjson = [grant('n1@example.com'), grant('n2@example.com', 'targeted-ads')].map((e) => JSON.stringify(e)).join('\n');
    const r = await post('/v1/consents/batch', ndjson, { 'content-type': 'application/x-ndjson' });
    expect(r.status).toBe(201);
    expect(r.json.recorded).toBe(2);
  });
});
