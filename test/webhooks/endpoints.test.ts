/**
 * /v1/webhooks as a hostile or careless caller meets it: scopes and roles, malformed bodies,
 * receiver URLs that would reach inside the network (directly, through a DNS name, through DNS
 * rebinding after registration), secrets shown once and kept out of the audit log.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createWebhookClient } from '../../src/webhooks/client.js';
import { Deliverer } from '../../src/webhooks/deliverer.js';
import type { ResolvedAddress } from '../../connectors/net/index.js';
import { consentApp, grant } from '../consent/helpers.js';
import { bearer, call } from '../helpers/http.js';
import { auditTexts, loginCookie, staff } from '../auth/helpers.js';
import { startReceiver, type Receiver } from '../helpers/receiver.js';

let t: Awaited<ReturnType<typeof consentApp>>;
let rx: Receiver;

const v4 = (address: string): ResolvedAddress => ({ address, family: 4 });

/** Answers per host name; a list of answers is served one after the other (DNS rebinding). */
function stubDns(answers: Record<string, ResolvedAddress[][]>) {
  const seen: Record<string, number> = {};
  return async (host: string) => {
    const list = answers[host];
    if (!list) throw Object.assign(new Error('ENOTFOUND'), { code: 'ENOTFOUND' });
    const n = (seen[host] = (seen[host] ?? 0) + 1);
    return list[Math.min(n, list.length) - 1]!;
  };
}

beforeEach(async () => {
  t = await consentApp();
  rx = await startReceiver((_r, res) => {
    res.writeHead(204);
    res.end();
  });
});
afterEach(() => rx.close());

const create = (body: unknown, headers: Record<string, string> = t.auth) => call(t.app, 'POST', '/v1/webhooks', { headers, body });

describe('webhook endpoints: who may do what', () => {
  it('no credentials 401; a key without webhooks scopes 403; webhooks:read sees but cannot change', async () => {
    t.deps.webhookClient = createWebhookClient({ allowPrivate: false, resolve: stubDns({ 'hooks.example.com': [[v4('93.184.215.14')]] }) });
    expect((await call(t.app, 'GET', '/v1/webhooks')).status).toBe(401);
    const consents = await bearer(t.deps, ['consents:read', 'consents:write', 'requests:write']);
    expect((await call(t.app, 'GET', '/v1/webhooks', { headers: { authorization: consents.authorization } })).status).toBe(403);
    expect((await create({ url: 'https://hooks.example.com/x', events: ['consent.updated'] }, { authorization: consents.authorization })).status).toBe(403);
    const reader = { authorization: (await bearer(t.deps, ['webhooks:read'])).authorization };
    const made = await create({ url: 'https://hooks.example.com/x', events: ['consent.updated'] });
    expect(made.status, made.text).toBe(201);
    expect((await call(t.app, 'GET', '/v1/webhooks', { headers: reader })).json.endpoints).toHaveLength(1);
    expect((await create({ url: 'https://hooks.example.com/y', events: ['consent.updated'] }, reader)).status).toBe(403);
    expect((await call(t.app, 'DELETE', `/v1/webhooks/${made.json.id}`, { headers: reader })).status).toBe(403);
    expect((await call(t.app, 'POST', `/v1/webhooks/${made.json.id}/rotate-secret`, { headers: reader })).status).toBe(403);
  });

  it('a DPO session sees the webhooks but may not change them; an admin may; a viewer sees nothing', async () => {
    t.deps.webhookClient = createWebhookClient({ allowPrivate: false, resolve: stubDns({ 'hooks.example.com': [[v4('93.184.215.14')]] }) });
    for (const [email, role] of [['dpo@example.com', 'dpo'], ['admin@example.com', 'admin'], ['viewer@example.com', 'viewer']] as const) await staff(t.deps, email, role);
    const session = async (email: string) => ({ cookie: await loginCookie(t.app, email) });
    const admin = await session('admin@example.com');
    const dpo = await session('dpo@example.com');
    const viewer = await session('viewer@example.com');
    const made = await create({ url: 'https://hooks.example.com/x', events: ['request.completed'] }, admin);
    expect(made.status, made.text).toBe(201);
    expect((await call(t.app, 'GET', '/v1/webhooks', { headers: dpo })).status).toBe(200);
    expect((await call(t.app, 'PATCH', `/v1/webhooks/${made.json.id}`, { headers: dpo, body: { description: 'x' } })).status).toBe(403);
    expect((await call(t.app, 'GET', '/v1/webhooks', { headers: viewer })).status).toBe(403);
  });
});

describe('webhook endpoints: bad input', () => {
  it.each([
    [{ url: 'ftp://hooks.example.com/x', events: ['consent.updated'] }, 'WEBHOOK_URL_NOT_ALLOWED'],
    [{ url: 'file:///etc/passwd', events: ['consent.updated'] }, 'WEBHOOK_URL_NOT_ALLOWED'],
    [{ url: 'https://user:secret@hooks.example.com/x', events: ['consent.updated'] }, 'WEBHOOK_URL_NOT_ALLOWED'],
    [{ url: 'not a url', events: ['consent.updated'] }, 'WEBHOOK_URL_NOT_ALLOWED'],
    [{ url: 'http://127.0.0.1:9/x', events: ['consent.updated'] }, 'WEBHOOK_ADDRESS_FORBIDDEN'],
    [{ url: 'http://[::1]/x', events: ['consent.updated'] }, 'WEBHOOK_ADDRESS_FORBIDDEN'],
    [{ url: 'http://169.254.169.254/latest/meta-data/', events: ['consent.updated'] }, 'WEBHOOK_ADDRESS_FORBIDDEN'],
    [{ url: 'http://10.1.2.3/x', events: ['consent.updated'] }, 'WEBHOOK_ADDRESS_FORBIDDEN'],
    [{ url: 'https://internal.example.com/x', events: ['consent.updated'] }, 'WEBHOOK_ADDRESS_FORBIDDEN'],
    [{ url: 'https://nowhere.example.com/x', events: ['consent.updated'] }, 'WEBHOOK_URL_UNRESOLVABLE'],
    [{ url: 'https://hooks.example.com/x', events: ['consent.deleted'] }, 'VALIDATION_FAILED'],
    [{ url: 'https://hooks.example.com/x', events: [] }, 'VALIDATION_FAILED'],
    [{ url: 'https://hooks.example.com/x' }, 'VALIDATION_FAILED'],
    [{ url: 'https://hooks.example.com/x', events: ['consent.updated'], secret: 'whsec_mine' }, 'VALIDATION_FAILED'],
    [{ url: 'https://hooks.example.com/x', events: ['consent.updated'], description: 'x'.repeat(501) }, 'VALIDATION_FAILED'],
    [{ url: `https://hooks.example.com/${'x'.repeat(2100)}`, events: ['consent.updated'] }, 'VALIDATION_FAILED'],
  ])('%j → 400 %s, nothing registered', async (body, code) => {
    t.deps.webhookClient = createWebhookClient({
      allowPrivate: false,
      resolve: stubDns({ 'hooks.example.com': [[v4('93.184.215.14')]], 'internal.example.com': [[v4('93.184.215.14'), v4('192.168.1.20')]] }),
    });
    const r = await create(body);
    expect(r.status, r.text).toBe(400);
    expect(r.json.error.code).toBe(code);
    expect((await call(t.app, 'GET', '/v1/webhooks', { headers: t.auth })).json.endpoints).toHaveLength(0);
  });

  it('a URL changed to a forbidden address is refused and the endpoint left as it was', async () => {
    t.deps.webhookClient = createWebhookClient({ allowPrivate: false, resolve: stubDns({ 'hooks.example.com': [[v4('93.184.215.14')]] }) });
    const made = await create({ url: 'https://hooks.example.com/x', events: ['consent.updated'] });
    const r = await call(t.app, 'PATCH', `/v1/webhooks/${made.json.id}`, { headers: t.auth, body: { url: 'http://127.0.0.1/admin' } });
    expect(r.status).toBe(400);
    expect(r.json.error.code).toBe('WEBHOOK_ADDRESS_FORBIDDEN');
    expect((await call(t.app, 'GET', `/v1/webhooks/${made.json.id}`, { headers: t.auth })).json.url).toBe('https://hooks.example.com/x');
    expect((await call(t.app, 'PATCH', `/v1/webhooks/${made.json.id}`, { headers: t.auth, body: {} })).status).toBe(400);
  });

  it('unknown ids are 404; bad cursors and dates 400', async () => {
    expect((await call(t.app, 'GET', '/v1/webhooks/whe_nope', { headers: t.auth })).status).toBe(404);
    expect((await call(t.app, 'DELETE', '/v1/webhooks/whe_nope', { headers: t.auth })).status).toBe(404);
    expect((await call(t.app, 'GET', '/v1/webhooks/whe_nope/deliveries', { headers: t.auth })).status).toBe(404);
    expect((await call(t.app, 'POST', '/v1/webhooks/whe_nope/rotate-secret', { headers: t.auth })).status).toBe(404);
    t.deps.webhookClient = createWebhookClient({ allowPrivate: false, resolve: stubDns({ 'hooks.example.com': [[v4('93.184.215.14')]] }) });
    const made = await create({ url: 'https://hooks.example.com/x', events: ['consent.updated'] });
    expect((await call(t.app, 'GET', `/v1/webhooks/${made.json.id}/deliveries?cursor=zzz`, { headers: t.auth })).status).toBe(400);
    expect((await call(t.app, 'GET', `/v1/webhooks/${made.json.id}/deliveries?limit=100000`, { headers: t.auth })).status).toBe(400);
    expect((await call(t.app, 'POST', `/v1/webhooks/${made.json.id}/recover`, { headers: t.auth, body: { since: 'yesterday' } })).status).toBe(400);
    const future = await call(t.app, 'POST', `/v1/webhooks/${made.json.id}/recover`, { headers: t.auth, body: { since: new Date(t.deps.now() + 86_400_000).toISOString() } });
    expect(future.status).toBe(400);
    expect(future.json.error.code).toBe('SINCE_IN_FUTURE');
  });
});

describe('webhook endpoints: secrets and evidence', () => {
  it('the secret is shown once; never listed; never in the audit log, nor the URL path (a receiver token)', async () => {
    t.deps.webhookClient = createWebhookClient({ allowPrivate: false, resolve: stubDns({ 'hooks.example.com': [[v4('93.184.215.14')]] }) });
    const made = await create({ url: 'https://hooks.example.com/in/tok_SECRETPATH?key=QUERYSECRET', events: ['consent.updated'] });
    expect(made.json.secret).toMatch(/^whsec_/);
    const listed = await call(t.app, 'GET', '/v1/webhooks', { headers: t.auth });
    expect(listed.text).not.toContain(made.json.secret);
    const one = await call(t.app, 'GET', `/v1/webhooks/${made.json.id}`, { headers: t.auth });
    expect(one.json.secret).toBeUndefined();
    const rotated = await call(t.app, 'POST', `/v1/webhooks/${made.json.id}/rotate-secret`, { headers: t.auth });
    expect(rotated.json.previousSecretUntil).not.toBeNull();
    const audit = (await auditTexts(t.deps)).join('\n');
    expect(audit).toContain('webhook.created');
    expect(audit).toContain('webhook.secret_rotated');
    for (const s of [made.json.secret, rotated.json.secret, 'tok_SECRETPATH', 'QUERYSECRET']) expect(audit).not.toContain(s);
  });

  it('deleting an endpoint deletes its deliveries; nothing more is sent to it', async () => {
    const local = await consentApp({ env: { OUBLI_WEBHOOK_ALLOW_PRIVATE: '1' } });
    const made = await call(local.app, 'POST', '/v1/webhooks', { headers: local.auth, body: { url: `${rx.url}/h`, events: ['consent.updated'] } });
    await local.post(grant('zoe@example.com'));
    expect((await call(local.app, 'DELETE', `/v1/webhooks/${made.json.id}`, { headers: local.auth })).status).toBe(204);
    expect((await local.deps.db.webhooks.counts()).pending).toBe(0);
    await new Deliverer(local.deps, local.deps.webhookClient).runUntilIdle();
    expect(rx.received).toHaveLength(0);
  });
});

describe('webhook endpoints: the address is checked when connecting, not only when registered', () => {
  it('a name that resolved to a public address at registration and to loopback at delivery (DNS rebinding) is never reached', async () => {
    const dns = stubDns({ 'rebind.example.com': [[v4('93.184.215.14')], [v4('127.0.0.1')]] });
    t.deps.webhookClient = createWebhookClient({ allowPrivate: false, resolve: dns });
    const made = await create({ url: `http://rebind.example.com:${rx.port}/hook`, events: ['consent.updated'] });
    expect(made.status, made.text).toBe(201);
    await t.post(grant('zoe@example.com'));
    await new Deliverer(t.deps, t.deps.webhookClient).runUntilIdle();
    expect(rx.received).toHaveLength(0);
    const row = (await t.deps.db.webhooks.deliveries(made.json.id, 10))[0]!;
    expect(row.status).toBe('pending');
    expect(row.lastError).toMatch(/^ADDRESS_FORBIDDEN/);
  });
});
