/**
 * The dashboard's silos and webhooks page and its administration (staff users, API keys),
 * through the pages: what an admin may do and what it leaves behind (sessions ended, keys that
 * work or stop working, audit entries), what a DPO or a viewer is refused (GET and POST), a
 * secret shown once, an admin locking themselves out, missing or forged CSRF tokens, and markup
 * in an email, a key's name or a receiver's error shown as text.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { eq } from 'drizzle-orm';
import { Browser } from './helpers.js';
import { createTestApp, systemCtx, type TestDeps } from '../helpers/deps.js';
import { bearer, call } from '../helpers/http.js';
import { auditTypes } from '../auth/helpers.js';
import { createUser } from '../../src/auth/users.js';
import { SCOPES } from '../../src/db/schema/api-keys.js';
import { Engine } from '../../src/engine/worker.js';
import type { App } from '../../src/app.js';
import { ALICE, BOB, syntheticSilos } from '../helpers/synthetic-connector.js';

const PASSWORD = 'correct horse battery staple';
let deps: TestDeps;
let app: App;
let api: { authorization: string };
const ids: Record<'admin' | 'dpo' | 'viewer', string> = { admin: '', dpo: '', viewer: '' };

beforeEach(async () => {
  ({ deps, app } = await createTestApp({ env: { OUBLI_WEBHOOK_ALLOW_PRIVATE: '1' } }));
  api = { authorization: (await bearer(deps, [...SCOPES])).authorization };
  for (const role of ['admin', 'dpo', 'viewer'] as const) ids[role] = (await createUser(systemCtx(deps), { email: `${role}@shop.example`, role, password: PASSWORD })).id;
});

async function logIn(email: string, password = PASSWORD): Promise<Browser> {
  const b = new Browser(app);
  await b.get('/admin/login');
  const r = await b.post('/admin/login', { email, password, next: '/admin' });
  expect(r.status, r.text.slice(0, 400)).toBe(303);
  return b;
}

async function loginStatus(email: string, password: string): Promise<number> {
  const b = new Browser(app);
  await b.get('/admin/login');
  return (await b.post('/admin/login', { email, password, next: '/admin' })).status;
}

/** The secret a page shows once. */
const onceSecret = (html: string) => /class="notice ok once"[^]*?<code>([^<]+)<\/code>/.exec(html)?.[1];

describe('staff users', () => {
  it('an admin creates a user with a generated password shown once, changes the role, disables, enables and resets the password', async () => {
    const admin = await logIn('admin@shop.example');
    await admin.get('/admin/users');
    const created = await admin.post('/admin/users', { email: 'New.Person@Shop.example', role: 'viewer', password: '', confirm: 'yes' });
    expect(created.status).toBe(200);
    expect(created.text).toContain('new.person@shop.example');
    const password = onceSecret(created.text)!;
    expect(password).toMatch(/^[A-Za-z0-9_-]{24}$/);
    const list = await admin.get('/admin/users');
    expect(list.text).toContain('new.person@shop.example');
    expect(list.text).not.toContain(password);
    const user = (await deps.db.auth.userByEmail('new.person@shop.example'))!;
    expect(user.role).toBe('viewer');

    const them = await logIn('new.person@shop.example', password);
    expect((await them.get('/admin')).status).toBe(200);
    expect((await them.get('/admin/users')).status).toBe(403);

    expect((await admin.post(`/admin/users/${user.id}/role`, { role: 'dpo', confirm: 'yes' })).location).toBe('/admin/users?m=role');
    expect((await deps.db.auth.user(user.id))!.role).toBe('dpo');

    // Disabling ends their session: their old cookie is sent to the login page.
    const disabled = await admin.post(`/admin/users/${user.id}/disable`, { confirm: 'yes' });
    expect(disabled.location).toBe('/admin/users?m=disable');
    expect((await admin.follow(disabled)).text).toContain('Le compte est désactivé ; ses sessions ont pris fin.');
    const sent = await them.get('/admin');
    expect(sent.status).toBe(303);
    expect(sent.location).toMatch(/^\/admin\/login\?next=/);
    expect(await loginStatus('new.person@shop.example', password)).toBe(401);

    expect((await admin.post(`/admin/users/${user.id}/enable`, { confirm: 'yes' })).location).toBe('/admin/users?m=enable');
    const again = await logIn('new.person@shop.example', password);

    const reset = await admin.post(`/admin/users/${user.id}/password`, { confirm: 'yes' });
    expect(reset.status).toBe(200);
    const fresh = onceSecret(reset.text)!;
    expect(fresh).toBeDefined();
    expect(fresh).not.toBe(password);
    expect((await admin.get('/admin/users')).text).not.toContain(fresh);
    expect((await again.get('/admin')).status).toBe(303); // their session ended with the reset
    expect(await loginStatus('new.person@shop.example', password)).toBe(401);
    expect(await loginStatus('new.person@shop.example', fresh)).toBe(303);

    const types = await auditTypes(deps);
    for (const t of ['user.created', 'user.role_changed', 'user.disabled', 'user.enabled', 'user.password_set']) expect(types, t).toContain(t);
  });

  it('creates a user with a typed password (303, nothing shown), and refuses a taken email, a short password, a bad role or no confirmation', async () => {
    const admin = await logIn('admin@shop.example');
    await admin.get('/admin/users');
    const r = await admin.post('/admin/users', { email: 'typed@shop.example', role: 'dpo', password: 'a typed long password', confirm: 'yes' });
    expect(r.status).toBe(303);
    expect(await loginStatus('typed@shop.example', 'a typed long password')).toBe(303);
    expect((await admin.post('/admin/users', { email: 'typed@shop.example', role: 'dpo', password: '', confirm: 'yes' })).status).toBe(409);
    expect((await admin.post('/admin/users', { email: 'short@shop.example', role: 'dpo', password: 'short', confirm: 'yes' })).status).toBe(400);
    expect((await admin.post('/admin/users', { email: 'role@shop.example', role: 'root', password: '', confirm: 'yes' })).status).toBe(400);
    const unconfirmed = await admin.post('/admin/users', { email: 'nope@shop.example', role: 'dpo', password: '' });
    expect(unconfirmed.status).toBe(400);
    expect(unconfirmed.text).toContain('value="nope@shop.example"'); // the form kept as typed
    for (const e of ['short@shop.example', 'role@shop.example', 'nope@shop.example']) expect(await deps.db.auth.userByEmail(e)).toBeUndefined();
  });

  it('an admin can neither disable nor demote themselves', async () => {
    const admin = await logIn('admin@shop.example');
    const page = await admin.get('/admin/users');
    expect(page.text).not.toContain(`/admin/users/${ids.admin}/disable`);
    const disable = await admin.post(`/admin/users/${ids.admin}/disable`, { confirm: 'yes' });
    expect(disable.status).toBe(403);
    expect(disable.text).toContain('Vous ne pouvez ni désactiver votre propre compte ni changer votre propre rôle');
    const demote = await admin.post(`/admin/users/${ids.admin}/role`, { role: 'viewer', confirm: 'yes' });
    expect(demote.status).toBe(403);
    const me = (await deps.db.auth.user(ids.admin))!;
    expect(me.disabledAt).toBeNull();
    expect(me.role).toBe('admin');
    expect((await admin.get('/admin/users')).status).toBe(200); // still signed in
  });

  it('refuses the administration to a DPO and a viewer, GET and POST, and shows them no link to it', async () => {
    for (const role of ['dpo', 'viewer'] as const) {
      const b = await logIn(`${role}@shop.example`);
      const home = await b.get('/admin');
      expect(home.text).not.toContain('href="/admin/users"');
      expect(home.text).not.toContain('href="/admin/keys"');
      expect(home.text).toContain('href="/admin/silos"');
      for (const path of ['/admin/users', '/admin/keys']) {
        const r = await b.get(path);
        expect(r.status, `${role} ${path}`).toBe(403);
        expect(r.text).toContain('Cette page est réservée aux administrateurs.');
      }
      expect((await b.post('/admin/users', { email: `x-${role}@shop.example`, role: 'admin', password: '', confirm: 'yes' })).status).toBe(403);
      expect((await b.post(`/admin/users/${ids.admin}/disable`, { confirm: 'yes' })).status).toBe(403);
      expect((await b.post(`/admin/users/${ids[role]}/role`, { role: 'admin', confirm: 'yes' })).status).toBe(403);
      expect((await b.post('/admin/keys', { name: 'mine', 'scope_admin': 'yes', confirm: 'yes' })).status).toBe(403);
    }
    expect(await deps.db.auth.userByEmail('x-dpo@shop.example')).toBeUndefined();
    expect((await deps.db.auth.user(ids.admin))!.disabledAt).toBeNull();
    expect((await deps.db.auth.user(ids.viewer))!.role).toBe('viewer');
    expect((await deps.db.auth.apiKeys()).map((k) => k.name)).not.toContain('mine');
    const admin = await logIn('admin@shop.example');
    expect((await admin.get('/admin')).text).toContain('href="/admin/users"');
  });

  it('refuses a form without the CSRF token, with a forged one, or from another origin', async () => {
    const admin = await logIn('admin@shop.example');
    await admin.get('/admin/users');
    const fields = { email: 'csrf@shop.example', role: 'admin', password: '', confirm: 'yes' };
    expect((await admin.post('/admin/users', { ...fields, csrf: '' })).status).toBe(403);
    expect((await admin.post('/admin/users', { ...fields, csrf: 'A'.repeat(43) })).status).toBe(403);
    expect((await admin.post('/admin/users', fields, { origin: 'https://evil.example' })).status).toBe(403);
    expect((await admin.post(`/admin/users/${ids.dpo}/disable`, { confirm: 'yes', csrf: '' })).status).toBe(403);
    expect((await admin.post('/admin/keys', { name: 'k', 'scope_admin': 'yes', confirm: 'yes', csrf: 'forged' })).status).toBe(403);
    expect(await deps.db.auth.userByEmail('csrf@shop.example')).toBeUndefined();
    expect((await deps.db.auth.user(ids.dpo))!.disabledAt).toBeNull();
  });

  it('shows markup in a user’s email as text', async () => {
    const { users } = deps.db.tables;
    await deps.db.tx((t) => t.q.update(users).set({ email: '"<img src=x onerror=alert(1)>"@shop.example' }).where(eq(users.id, ids.viewer)));
    const admin = await logIn('admin@shop.example');
    const page = await admin.get('/admin/users');
    expect(page.text).toContain('&quot;&lt;img src=x onerror=alert(1)&gt;&quot;@shop.example');
    expect(page.text).not.toContain('<img src=x');
  });
});

describe('API keys', () => {
  it('creates a key with the chosen scopes, shown once, that works against /v1 as scoped, and stops working when revoked', async () => {
    const admin = await logIn('admin@shop.example');
    await admin.get('/admin/keys');
    const created = await admin.post('/admin/keys', { name: 'CRM sync', 'scope_requests:read': 'yes', confirm: 'yes' });
    expect(created.status).toBe(200);
    const key = onceSecret(created.text)!;
    expect(key).toMatch(/^oubli_sk_/);
    const narrow = await admin.post('/admin/keys', { name: 'Consents only', 'scope_consents:read': 'yes', confirm: 'yes' });
    const other = onceSecret(narrow.text)!;

    expect((await call(app, 'GET', '/v1/requests', { headers: { authorization: `Bearer ${key}` } })).status).toBe(200);
    expect((await call(app, 'GET', '/v1/requests', { headers: { authorization: `Bearer ${other}` } })).status).toBe(403);
    const row = (await deps.db.auth.apiKeys()).find((k) => k.name === 'CRM sync')!;
    expect(row.scopes).toEqual(['requests:read']);

    const list = await admin.get('/admin/keys');
    expect(list.text).toContain('CRM sync');
    expect(list.text).toContain(`<code>${row.prefix}…</code>`);
    expect(list.text).not.toContain(key);
    expect(list.text).not.toContain(other);

    const revoked = await admin.post(`/admin/keys/${row.id}/revoke`, { confirm: 'yes' });
    expect(revoked.location).toBe('/admin/keys?m=revoke');
    expect((await call(app, 'GET', '/v1/requests', { headers: { authorization: `Bearer ${key}` } })).status).toBe(401);
    expect((await admin.post(`/admin/keys/${row.id}/revoke`, { confirm: 'yes' })).status).toBe(404);
    const types = await auditTypes(deps);
    expect(types).toContain('api_key.created');
    expect(types).toContain('api_key.revoked');
  });

  it('refuses a key without a name, without a scope or unconfirmed, and shows a name’s markup as text', async () => {
    const admin = await logIn('admin@shop.example');
    await admin.get('/admin/keys');
    const before = (await deps.db.auth.apiKeys()).length;
    expect((await admin.post('/admin/keys', { name: ' ', 'scope_admin': 'yes', confirm: 'yes' })).status).toBe(400);
    expect((await admin.post('/admin/keys', { name: 'no scope', confirm: 'yes' })).status).toBe(400);
    expect((await admin.post('/admin/keys', { name: 'unconfirmed', 'scope_admin': 'yes' })).status).toBe(400);
    expect((await deps.db.auth.apiKeys()).length).toBe(before);
    const r = await admin.post('/admin/keys', { name: '<script>alert(1)</script>', 'scope_audit:read': 'yes', confirm: 'yes' });
    expect(r.status).toBe(200);
    const list = await admin.get('/admin/keys');
    expect(list.text).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(list.text).not.toContain('<script>alert(1)');
  });
});

describe('silos and webhooks', () => {
  it('shows each silo’s health, last success, failure rate over 7 days and oldest waiting callback', async () => {
    deps.connectors = syntheticSilos([ALICE, BOB]).all;
    const engine = new Engine(deps, { random: () => 0.5, backoffBaseMs: 1000 });
    const open = async (email: string) => {
      const r = await call(app, 'POST', '/v1/requests', { body: { type: 'access', identities: [{ type: 'email', value: email }], verified: true }, headers: api });
      expect(r.status, r.text).toBe(201);
      return (r.json as { id: string }).id;
    };
    await open(ALICE.email);
    await engine.runUntilIdle();
    const bob = await open(BOB.email);
    const { tasks: t } = deps.db.tables;
    const [shopTask] = (await deps.db.tasks.ofRequest(bob)).filter((x) => x.connectorId === 'shop');
    const [crmTask] = (await deps.db.tasks.ofRequest(bob)).filter((x) => x.connectorId === 'crm');
    const now = deps.now();
    await deps.db.tx(async (tx) => {
      await tx.q.update(t).set({ status: 'failed', finishedAt: now, lastErrorCode: 'SILO_ERROR', lastError: 'x' }).where(eq(t.id, shopTask!.id));
      await tx.q.update(t).set({ status: 'waiting', createdAt: now - 3_600_000 }).where(eq(t.id, crmTask!.id));
    });
    const stats = await deps.db.tasks.connectorStats(now - 7 * 86_400_000);
    const shop = stats.find((s) => s.connectorId === 'shop')!;
    expect(shop.failed).toBe(1);
    expect(shop.done).toBeGreaterThanOrEqual(1);
    expect(shop.lastDoneAt).toBeTypeOf('number');
    expect(stats.find((s) => s.connectorId === 'crm')).toMatchObject({ waiting: 1, oldestWaitingAt: now - 3_600_000 });

    const viewer = await logIn('viewer@shop.example');
    const page = await viewer.get('/admin/silos');
    expect(page.status).toBe(200);
    const row = (id: string) => new RegExp(`<tr id="silo-${id}">[^]*?</tr>`).exec(page.text)![0];
    expect(row('shop')).toContain('Synthetic shop');
    expect(row('shop')).toContain(`${Math.round((100 * shop.failed) / (shop.failed + shop.done))} % (1 sur ${shop.failed + shop.done})`);
    expect(row('crm')).toContain('(1 en attente)');
    expect(row('newsletter')).toContain('aucun');
    expect(row('newsletter')).toContain('0 % (0 sur');
    expect(page.text).not.toContain('jamais'); // every silo succeeded once

    const en = await viewer.get('/admin/silos', { 'accept-language': 'en', cookie: `${[...viewer.jar].map(([k, v]) => `${k}=${v}`).join('; ')}; lang=en` });
    expect(en.text).toContain('<h1>Silos and webhooks</h1>');
    expect(en.text).toContain('(1 waiting)');

    // A week later, the failure has left the window.
    deps.clock.advance(8 * 86_400_000);
    const later = await (await logIn('viewer@shop.example')).get('/admin/silos');
    expect(/<tr id="silo-shop">[^]*?<\/tr>/.exec(later.text)![0]).toContain('rien de terminé');
  });

  it('shows a viewer the silos but not the webhooks, which the API refuses them (webhooks:read)', async () => {
    const r = await call(app, 'POST', '/v1/webhooks', { body: { url: 'http://127.0.0.1:9/hook?token=s3cret', events: ['request.received'] }, headers: api });
    expect(r.status, r.text).toBe(201);
    const viewer = await logIn('viewer@shop.example');
    const page = await viewer.get('/admin/silos');
    expect(page.status).toBe(200);
    expect(page.text).not.toContain('127.0.0.1:9/hook');
    expect(page.text).not.toContain('s3cret');
    const dpo = await logIn('dpo@shop.example');
    expect((await dpo.get('/admin/silos')).text).toContain('http://127.0.0.1:9/hook?token=s3cret');
  });

  it('lists webhook endpoints and deliveries (errors as text); only an admin redelivers or recovers', async () => {
    const r = await call(app, 'POST', '/v1/webhooks', { body: { url: 'http://127.0.0.1:9/hook', events: ['request.received'] }, headers: api });
    expect(r.status, r.text).toBe(201);
    const endpointId = (r.json as { id: string }).id;
    const opened = await call(app, 'POST', '/v1/requests', { body: { type: 'access', identities: [{ type: 'email', value: ALICE.email }], verified: true }, headers: api });
    expect(opened.status).toBe(201);
    const { webhookDeliveries: d } = deps.db.tables;
    const [delivery] = await deps.db.webhooks.deliveries(endpointId, 20);
    expect(delivery).toBeDefined();
    await deps.db.tx((tx) => tx.q.update(d).set({ status: 'failed', attempts: 11, lastStatus: 500, lastError: '<img src=x onerror=alert(1)>' }).where(eq(d.id, delivery!.id)));

    const dpo = await logIn('dpo@shop.example');
    const seen = await dpo.get('/admin/silos');
    expect(seen.text).toContain('http://127.0.0.1:9/hook');
    expect(seen.text).toContain('500 &lt;img src=x onerror=alert(1)&gt;');
    expect(seen.text).not.toContain('<img src=x');
    expect(seen.text).not.toContain('/redeliver');
    expect((await dpo.post(`/admin/silos/deliveries/${delivery!.id}/redeliver`, { confirm: 'yes' })).status).toBe(403);
    expect((await deps.db.webhooks.delivery(delivery!.id))!.status).toBe('failed');

    const admin = await logIn('admin@shop.example');
    const page = await admin.get('/admin/silos');
    expect(page.text).toContain(`/admin/silos/deliveries/${delivery!.id}/redeliver`);
    expect((await admin.post(`/admin/silos/deliveries/${delivery!.id}/redeliver`, { confirm: 'yes', csrf: '' })).status).toBe(403);
    expect((await admin.post(`/admin/silos/deliveries/${delivery!.id}/redeliver`, {})).status).toBe(400);
    const redelivered = await admin.post(`/admin/silos/deliveries/${delivery!.id}/redeliver`, { confirm: 'yes' });
    expect(redelivered.location).toBe('/admin/silos?m=redeliver');
    expect((await deps.db.webhooks.delivery(delivery!.id))!.status).toBe('pending');
    expect((await admin.post(`/admin/silos/deliveries/${delivery!.id}/redeliver`, { confirm: 'yes' })).status).toBe(409);

    // Disabled by an operator: its pending delivery fails; recover enables it and queues it again.
    expect((await call(app, 'PATCH', `/v1/webhooks/${endpointId}`, { body: { enabled: false }, headers: api })).status).toBe(200);
    expect((await deps.db.webhooks.delivery(delivery!.id))!.status).toBe('failed');
    const disabled = await admin.get('/admin/silos');
    expect(disabled.text).toContain('disabled by an operator');
    expect(disabled.text).toContain(`/admin/silos/webhooks/${endpointId}/recover`);
    expect(disabled.text).not.toContain(`/admin/silos/deliveries/${delivery!.id}/redeliver`);
    expect((await dpo.post(`/admin/silos/webhooks/${endpointId}/recover`, { confirm: 'yes' })).status).toBe(403);
    expect((await deps.db.webhooks.endpoint(endpointId))!.status).toBe('disabled');
    const recovered = await admin.post(`/admin/silos/webhooks/${endpointId}/recover`, { confirm: 'yes' });
    expect(recovered.location).toBe('/admin/silos?m=recover');
    expect((await deps.db.webhooks.endpoint(endpointId))!.status).toBe('enabled');
    expect((await deps.db.webhooks.delivery(delivery!.id))!.status).toBe('pending');
    const types = await auditTypes(deps);
    expect(types).toContain('webhook.redelivered');
    expect(types).toContain('webhook.recovered');
  });
});
