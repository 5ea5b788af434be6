/**
 * Staff auth through the real HTTP path: login/logout, cookie flags, throttling per account and
 * per client address, CSRF on cookie writes, roles — and no personal data in the audit log.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { verify } from '@node-rs/argon2';
import { serve } from '@hono/node-server';
import type { AddressInfo } from 'node:net';
import { createTestApp, systemCtx } from '../helpers/deps.js';
import { call } from '../helpers/http.js';
import { createUser } from '../../src/auth/users.js';
import { LOGIN_WINDOW_MS, MAX_ADDRESS_FAILURES, MAX_LOGIN_FAILURES } from '../../src/auth/sessions.js';
import { PASSWORD, auditTexts, auditTypes, loginCookie, staff } from './helpers.js';
import { adminOf } from '../helpers/admin-sql.js';

const login = (app: Parameters<typeof call>[0], email: string, password: string, headers: Record<string, string> = {}) =>
  call(app, 'POST', '/v1/auth/login', { body: { email, password }, headers });

describe('creating staff users', () => {
  it('stores an argon2id hash (OWASP parameters) and audits user.created by id only', async () => {
    const { deps } = await createTestApp();
    const user = await staff(deps, 'Alice.DPO@Example.com', 'dpo');
    expect(user.email).toBe('alice.dpo@example.com');
    expect(user.passwordHash).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
    expect(await verify(user.passwordHash, PASSWORD)).toBe(true);
    const entry = JSON.parse((await auditTexts(deps)).at(-1)!);
    expect(entry).toMatchObject({ type: 'user.created', data: { userId: user.id, role: 'dpo' } });
    expect(JSON.stringify(entry)).not.toMatch(/alice/i);
  });

  it('rejects a duplicate email, a bad email and a short password, writing nothing', async () => {
    const { deps } = await createTestApp();
    await staff(deps, 'a@example.com', 'admin');
    const size = await deps.audit.size();
    await expect(staff(deps, 'A@example.com', 'viewer')).rejects.toMatchObject({ code: 'USER_EXISTS' });
    await expect(staff(deps, 'not-an-email', 'viewer')).rejects.toMatchObject({ code: 'INVALID_EMAIL' });
    await expect(createUser(systemCtx(deps), { email: 'b@example.com', role: 'viewer', password: 'short' })).rejects.toMatchObject({
      code: 'PASSWORD_TOO_SHORT',
    });
    expect(await deps.audit.size()).toBe(size);
    expect((await adminOf(deps.db).value('select count(*) from users'))).toBe(1);
  });
});

describe('POST /v1/auth/login and /logout', () => {
  it('logs in: 200, session cookie HttpOnly + SameSite=Lax, not Secure over plain http', async () => {
    const { app, deps } = await createTestApp();
    const user = await staff(deps, 'admin@example.com', 'admin');
    const res = await login(app, 'ADMIN@example.com ', PASSWORD);
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ userId: user.id, role: 'admin', expiresAt: new Date(deps.now() + 12 * 3600_000).toISOString() });
    const cookie = res.headers.get('set-cookie')!;
    expect(cookie).toMatch(/^oubli_session=[A-Za-z0-9_-]{43};/);
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Lax/);
    expect(cookie).toMatch(/Path=\//);
    expect(cookie).not.toMatch(/Secure/);
    // the session is stored hashed, not as the token
    const token = cookie.split(';')[0]!.split('=')[1]!;
    expect((await adminOf(deps.db).value('select count(*) from sessions where id = ?', token))).toBe(0);
    expect((await adminOf(deps.db).value('select count(*) from sessions'))).toBe(1);
    expect((await auditTypes(deps)).at(-1)).toBe('auth.login_succeeded');
  });

  it('sets Secure behind HTTPS: trusted X-Forwarded-Proto, or an https public URL; an untrusted header is ignored', async () => {
    const trusted = await createTestApp({ env: { OUBLI_TRUST_PROXY: 'true' } });
    await staff(trusted.deps, 'a@example.com', 'admin');
    const viaProxy = await login(trusted.app, 'a@example.com', PASSWORD, { 'x-forwarded-proto': 'https' });
    expect(viaProxy.headers.get('set-cookie')).toMatch(/; Secure/);

    const untrusted = await createTestApp();
    await staff(untrusted.deps, 'a@example.com', 'admin');
    const spoofed = await login(untrusted.app, 'a@example.com', PASSWORD, { 'x-forwarded-proto': 'https' });
    expect(spoofed.headers.get('set-cookie')).not.toMatch(/Secure/);

    const https = await createTestApp({ env: { OUBLI_PUBLIC_URL: 'https://dsr.example.com' } });
    await staff(https.deps, 'a@example.com', 'admin');
    expect((await login(https.app, 'a@example.com', PASSWORD)).headers.get('set-cookie')).toMatch(/; Secure/);
  });

  it('logout ends the session at once and audits it', async () => {
    const { app, deps } = await createTestApp();
    await staff(deps, 'v@example.com', 'viewer');
    const cookie = await loginCookie(app, 'v@example.com');
    expect((await call(app, 'GET', '/v1/audit/tree-head', { headers: { cookie } })).status).toBe(200);
    const out = await call(app, 'POST', '/v1/auth/logout', { headers: { cookie } });
    expect(out.status).toBe(204);
    expect(out.headers.get('set-cookie')).toMatch(/oubli_session=;.*Max-Age=0/);
    expect((await auditTypes(deps)).at(-1)).toBe('auth.logout');
    const after = await call(app, 'GET', '/v1/audit/tree-head', { headers: { cookie } });
    expect(after.status).toBe(401);
    expect(after.json.error.code).toBe('UNAUTHENTICATED');
    expect((await call(app, 'POST', '/v1/auth/logout', { headers: { cookie } })).status).toBe(401);
    expect((await adminOf(deps.db).value('select count(*) from sessions'))).toBe(0);
  });

  it('a session expires after OUBLI_SESSION_HOURS', async () => {
    const { app, deps } = await createTestApp({ env: { OUBLI_SESSION_HOURS: '1' } });
    await staff(deps, 'v@example.com', 'viewer');
    const cookie = await loginCookie(app, 'v@example.com');
    deps.clock.advance(3600_000 - 1);
    expect((await call(app, 'GET', '/v1/audit/tree-head', { headers: { cookie } })).status).toBe(200);
    deps.clock.advance(1);
    expect((await call(app, 'GET', '/v1/audit/tree-head', { headers: { cookie } })).status).toBe(401);
  });

  it('wrong password or unknown account → 401 INVALID_CREDENTIALS, audited without the email', async () => {
    const { app, deps } = await createTestApp();
    await staff(deps, 'a@example.com', 'admin');
    const wrong = await login(app, 'a@example.com', 'not the password');
    expect(wrong.status).toBe(401);
    expect(wrong.json.error.code).toBe('INVALID_CREDENTIALS');
    expect(wrong.headers.get('set-cookie')).toBeNull();
    const unknown = await login(app, 'nobody@example.com', PASSWORD);
    expect(unknown.status).toBe(401);
    expect(unknown.json.error.code).toBe('INVALID_CREDENTIALS');
    expect(unknown.json.error.message).toBe(wrong.json.error.message); // no account enumeration
    const failed = (await auditTexts(deps)).map((t) => JSON.parse(t)).filter((e) => e.type === 'auth.login_failed');
    expect(failed.map((e) => e.data.reason)).toEqual(['bad_password', 'unknown_account']);
    expect(failed[1].actor.id).toMatch(/^acct_/);
  });

  it('a disabled user cannot log in', async () => {
    const { app, deps } = await createTestApp();
    const u = await staff(deps, 'a@example.com', 'admin');
    await adminOf(deps.db).run('update users set disabled_at = ? where id = ?', deps.now(), u.id);
    expect((await login(app, 'a@example.com', PASSWORD)).status).toBe(401);
  });
});

describe('login throttling', () => {
  it('5 failures for an account → 429 TOO_MANY_ATTEMPTS with Retry-After, even with the right password; lifts after 15 min', async () => {
    const { app, deps } = await createTestApp({ env: { OUBLI_TRUST_PROXY: 'true' } });
    await staff(deps, 'a@example.com', 'admin');
    for (let i = 0; i < 5; i++) {
      // different client addresses: only the account counter trips
      const res = await login(app, 'a@example.com', 'wrong password!', { 'x-forwarded-for': `203.0.113.${i}` });
      expect(res.status).toBe(401);
      deps.clock.advance(60_000);
    }
    const blocked = await login(app, 'A@example.com', PASSWORD, { 'x-forwarded-for': '198.51.100.7' });
    expect(blocked.status).toBe(429);
    expect(blocked.json.error.code).toBe('TOO_MANY_ATTEMPTS');
    // first failure at T0, now T0 + 5 min → lifts at T0 + 15 min
    expect(blocked.headers.get('retry-after')).toBe(String(10 * 60));
    const size = await deps.audit.size();
    expect((await login(app, 'a@example.com', 'wrong password!', { 'x-forwarded-for': '198.51.100.8' })).status).toBe(429);
    expect(await deps.audit.size()).toBe(size); // throttled attempts are not even checked
    // another account is unaffected
    await staff(deps, 'b@example.com', 'viewer');
    expect((await login(app, 'b@example.com', PASSWORD, { 'x-forwarded-for': '198.51.100.9' })).status).toBe(200);
    deps.clock.advance(10 * 60_000 - 1000);
    expect((await login(app, 'a@example.com', PASSWORD, { 'x-forwarded-for': '198.51.100.7' })).status).toBe(429);
    deps.clock.advance(1000);
    const ok = await login(app, 'a@example.com', PASSWORD, { 'x-forwarded-for': '198.51.100.7' });
    expect(ok.status).toBe(200);
  });

  it('20 failures from one client address (X-Forwarded-For, trusted proxy) → 429 for any account from it', async () => {
    const { app, deps } = await createTestApp({ env: { OUBLI_TRUST_PROXY: '1' } });
    await staff(deps, 'victim@example.com', 'admin');
    for (let i = 0; i < MAX_ADDRESS_FAILURES; i++) {
      const res = await login(app, `guess${i}@example.com`, 'whatever-pass', { 'x-forwarded-for': '192.0.2.66' });
      expect(res.status).toBe(401);
    }
    const blocked = await login(app, 'victim@example.com', PASSWORD, { 'x-forwarded-for': '192.0.2.66' });
    expect(blocked.status).toBe(429);
    expect(blocked.json.error.code).toBe('TOO_MANY_ATTEMPTS');
    expect(Number(blocked.headers.get('retry-after'))).toBe(15 * 60);
    // the same account from another address still works
    expect((await login(app, 'victim@example.com', PASSWORD, { 'x-forwarded-for': '192.0.2.67' })).status).toBe(200);
    deps.clock.advance(LOGIN_WINDOW_MS);
    expect((await login(app, 'victim@example.com', PASSWORD, { 'x-forwarded-for': '192.0.2.66' })).status).toBe(200);
  });

  it('an IPv6 client counts by its /64: rotating addresses inside it does not dodge the per-address limit', async () => {
    const { app, deps } = await createTestApp({ env: { OUBLI_TRUST_PROXY: '1' } });
    await staff(deps, 'victim@example.com', 'admin');
    for (let i = 0; i < MAX_ADDRESS_FAILURES; i++) {
      const res = await login(app, `guess${i}@example.com`, 'whatever-pass', { 'x-forwarded-for': `2001:db8:1:2::${(i + 1).toString(16)}` });
      expect(res.status).toBe(401);
    }
    const blocked = await login(app, 'victim@example.com', PASSWORD, { 'x-forwarded-for': '2001:db8:1:2:ffff::99' });
    expect(blocked.status).toBe(429);
    expect(blocked.json.error.code).toBe('TOO_MANY_ATTEMPTS');
    // another /64 is another client
    expect((await login(app, 'victim@example.com', PASSWORD, { 'x-forwarded-for': '2001:db8:1:3::1' })).status).toBe(200);
  });

  it('without a trusted proxy, X-Forwarded-For is ignored (cannot be used to dodge the per-address limit)', async () => {
    const { app, deps } = await createTestApp();
    await staff(deps, 'victim@example.com', 'admin');
    for (let i = 0; i < MAX_ADDRESS_FAILURES; i++) {
      await login(app, `guess${i}@example.com`, 'whatever-pass', { 'x-forwarded-for': `192.0.2.${i}` });
    }
    const res = await login(app, 'victim@example.com', PASSWORD, { 'x-forwarded-for': '192.0.2.200' });
    expect(res.status).toBe(429);
  });

  it('a success clears the account counter', async () => {
    const { app, deps } = await createTestApp({ env: { OUBLI_TRUST_PROXY: 'true' } });
    await staff(deps, 'a@example.com', 'admin');
    for (let i = 0; i < 4; i++) await login(app, 'a@example.com', 'nope-nope-nope', { 'x-forwarded-for': `10.1.0.${i}` });
    expect((await login(app, 'a@example.com', PASSWORD, { 'x-forwarded-for': '10.2.0.1' })).status).toBe(200);
    for (let i = 0; i < 4; i++) await login(app, 'a@example.com', 'nope-nope-nope', { 'x-forwarded-for': `10.3.0.${i}` });
    expect((await login(app, 'a@example.com', PASSWORD, { 'x-forwarded-for': '10.2.0.2' })).status).toBe(200);
  });
});

describe('the client address behind reverse proxies', () => {
  it('OUBLI_TRUST_PROXY=1: the address is the right-most X-Forwarded-For hop; a spoofed left part does not rotate it', async () => {
    const { app, deps } = await createTestApp({ env: { OUBLI_TRUST_PROXY: '1' } });
    await staff(deps, 'victim@example.com', 'admin');
    // The attacker sends their own X-Forwarded-For; the proxy appends the real address.
    for (let i = 0; i < MAX_ADDRESS_FAILURES; i++) {
      const res = await login(app, `guess${i}@example.com`, 'whatever-pass', { 'x-forwarded-for': `10.9.${i}.1, 203.0.113.9` });
      expect(res.status).toBe(401);
    }
    const spoofed = await login(app, 'victim@example.com', PASSWORD, { 'x-forwarded-for': '10.200.0.1, 203.0.113.9' });
    expect(spoofed.status).toBe(429);
    expect((await login(app, 'victim@example.com', PASSWORD, { 'x-forwarded-for': '10.200.0.1, 203.0.113.10' })).status).toBe(200);
  });

  it('OUBLI_TRUST_PROXY=2: two proxies, the client is the second hop from the right', async () => {
    const { app, deps } = await createTestApp({ env: { OUBLI_TRUST_PROXY: '2' } });
    for (let i = 0; i < MAX_ADDRESS_FAILURES; i++) {
      await login(app, `guess${i}@example.com`, 'whatever-pass', { 'x-forwarded-for': `spoof-${i}, 203.0.113.9, 10.0.0.${i}` });
    }
    await staff(deps, 'victim@example.com', 'admin');
    expect((await login(app, 'victim@example.com', PASSWORD, { 'x-forwarded-for': '203.0.113.9, 10.0.0.77' })).status).toBe(429);
    expect((await login(app, 'victim@example.com', PASSWORD, { 'x-forwarded-for': '203.0.113.8, 10.0.0.77' })).status).toBe(200);
  });

  describe('OUBLI_TRUST_PROXY as a list of proxy addresses, over a real socket (127.0.0.1)', () => {
    let close: (() => Promise<void>) | undefined;
    afterEach(async () => {
      await close?.();
      close = undefined;
    });
    async function listen(trust: string) {
      const t = await createTestApp({ env: { OUBLI_TRUST_PROXY: trust } });
      const server = serve({ fetch: t.app.fetch, port: 0, hostname: '127.0.0.1' });
      await new Promise<void>((r) => server.once('listening', () => r()));
      close = () => new Promise<void>((r) => server.close(() => r()));
      const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const post = async (email: string, password: string, xff: string) => {
        const res = await fetch(`${base}/v1/auth/login`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-forwarded-for': xff },
          body: JSON.stringify({ email, password }),
        });
        await res.arrayBuffer();
        return res.status;
      };
      return { ...t, post };
    }

    it('trusted socket: the right-most address that is not a trusted proxy is the client', async () => {
      const t = await listen('127.0.0.1, 10.0.0.0/8');
      await staff(t.deps, 'victim@example.com', 'admin');
      for (let i = 0; i < MAX_ADDRESS_FAILURES; i++) {
        expect(await t.post(`guess${i}@example.com`, 'whatever-pass', `192.168.${i}.1, 198.51.100.4, 10.1.1.1`)).toBe(401);
      }
      expect(await t.post('victim@example.com', PASSWORD, '192.168.99.1, 198.51.100.4, 10.2.2.2')).toBe(429);
      expect(await t.post('victim@example.com', PASSWORD, '198.51.100.5, 10.1.1.1')).toBe(200);
    });

    it('untrusted socket: X-Forwarded-For is ignored, the socket address is the client', async () => {
      const t = await listen('10.0.0.0/8');
      await staff(t.deps, 'victim@example.com', 'admin');
      for (let i = 0; i < MAX_ADDRESS_FAILURES; i++) {
        expect(await t.post(`guess${i}@example.com`, 'whatever-pass', `198.51.100.${i}`)).toBe(401);
      }
      expect(await t.post('victim@example.com', PASSWORD, '198.51.100.200')).toBe(429);
    });
  });

  it('behind a proxy with trust off, one account\'s failures do not lock out the other staff', async () => {
    // Every login seems to come from the same address (the proxy's).
    const { app, deps } = await createTestApp();
    await staff(deps, 'alice@example.com', 'dpo');
    await staff(deps, 'bob@example.com', 'admin');
    for (let i = 0; i < 3 * MAX_LOGIN_FAILURES; i++) await login(app, 'alice@example.com', 'mistyped password');
    expect((await login(app, 'alice@example.com', PASSWORD)).status).toBe(429);
    expect((await login(app, 'bob@example.com', PASSWORD)).status).toBe(200);
    expect((await login(app, 'bob@example.com', 'bob mistyped it')).status).toBe(401);
    expect((await login(app, 'bob@example.com', PASSWORD)).status).toBe(200);
  });
});

describe('CSRF and roles', () => {
  it('a cross-origin cookie POST is rejected; same-origin passes', async () => {
    const { app, deps } = await createTestApp();
    await staff(deps, 'admin@example.com', 'admin');
    const cookie = await loginCookie(app, 'admin@example.com');
    const size = await deps.audit.size();
    const body = { name: 'ci', scopes: ['audit:read'] };
    const evil = await call(app, 'POST', '/v1/api-keys', { body, headers: { cookie, origin: 'https://evil.example' } });
    expect(evil.status).toBe(403);
    expect(evil.json.error.code).toBe('CSRF_REJECTED');
    const site = await call(app, 'POST', '/v1/api-keys', { body, headers: { cookie, 'sec-fetch-site': 'cross-site' } });
    expect(site.status).toBe(403);
    expect(site.json.error.code).toBe('CSRF_REJECTED');
    const logout = await call(app, 'POST', '/v1/auth/logout', { headers: { cookie, origin: 'https://evil.example' } });
    expect(logout.status).toBe(403);
    expect(await deps.audit.size()).toBe(size);
    expect((await adminOf(deps.db).value('select count(*) from api_keys'))).toBe(0);
    const same = await call(app, 'POST', '/v1/api-keys', { body, headers: { cookie, origin: 'http://localhost', 'sec-fetch-site': 'same-origin' } });
    expect(same.status).toBe(201);
  });

  it('behind a TLS proxy (OUBLI_PUBLIC_URL): the public origin passes, a forged or the internal origin is refused', async () => {
    const { app, deps } = await createTestApp({ env: { OUBLI_PUBLIC_URL: 'https://dsr.example.com/oubli/', OUBLI_TRUST_PROXY: '1' } });
    await staff(deps, 'admin@example.com', 'admin');
    // The proxy talks plain http to oubli's internal address; the browser is on the public URL.
    const internal = 'http://10.0.0.5:8080';
    const res = await app.request(`${internal}/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: 'https://dsr.example.com', 'x-forwarded-proto': 'https' },
      body: JSON.stringify({ email: 'admin@example.com', password: PASSWORD }),
    });
    expect(res.status).toBe(200);
    const cookie = res.headers.get('set-cookie')!.split(';')[0]!;
    const post = (origin: string) =>
      app.request(`${internal}/v1/api-keys`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', cookie, origin, 'sec-fetch-site': origin === 'https://dsr.example.com' ? 'same-origin' : 'cross-site' },
        body: JSON.stringify({ name: 'ci', scopes: ['audit:read'] }),
      });
    expect((await post('https://dsr.example.com')).status).toBe(201);
    const forged = await app.request(`${internal}/v1/api-keys`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', cookie, origin: 'https://evil.example' },
      body: JSON.stringify({ name: 'evil', scopes: ['admin'] }),
    });
    expect(forged.status).toBe(403);
    expect(((await forged.json()) as { error: { code: string } }).error.code).toBe('CSRF_REJECTED');
    for (const origin of ['http://dsr.example.com', 'https://dsr.example.com:8443', internal]) {
      const r = await app.request(`${internal}/v1/api-keys`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', cookie, origin },
        body: JSON.stringify({ name: 'evil', scopes: ['admin'] }),
      });
      expect(r.status, origin).toBe(403);
    }
    expect((await adminOf(deps.db).column('select name from api_keys'))).toEqual(['ci']);
  });

  it('a viewer or dpo session cannot manage API keys (403); an admin session can', async () => {
    const { app, deps } = await createTestApp();
    await staff(deps, 'viewer@example.com', 'viewer');
    await staff(deps, 'dpo@example.com', 'dpo');
    await staff(deps, 'admin@example.com', 'admin');
    const body = { name: 'ci', scopes: ['audit:read'] };
    for (const who of ['viewer@example.com', 'dpo@example.com']) {
      const cookie = await loginCookie(app, who);
      for (const [m, p] of [['POST', '/v1/api-keys'], ['GET', '/v1/api-keys'], ['DELETE', '/v1/api-keys/key_x']] as const) {
        const res = await call(app, m, p, { body: m === 'POST' ? body : undefined, headers: { cookie } });
        expect(res.status, `${who} ${m}`).toBe(403);
        expect(res.json.error.code).toBe('INSUFFICIENT_SCOPE');
      }
    }
    const cookie = await loginCookie(app, 'admin@example.com');
    const created = await call(app, 'POST', '/v1/api-keys', { body, headers: { cookie } });
    expect(created.status).toBe(201);
    const entry = JSON.parse((await auditTexts(deps)).at(-1)!);
    expect(entry.type).toBe('api_key.created');
    expect(entry.actor).toEqual({ type: 'user', id: expect.stringMatching(/^usr_/) });
  });

  it('roles map to scopes: a viewer reads the audit log; a bad cookie is anonymous', async () => {
    const { app, deps } = await createTestApp();
    await staff(deps, 'viewer@example.com', 'viewer');
    const cookie = await loginCookie(app, 'viewer@example.com');
    expect((await call(app, 'GET', '/v1/audit/entries', { headers: { cookie } })).status).toBe(200);
    const bad = await call(app, 'GET', '/v1/audit/entries', { headers: { cookie: 'oubli_session=forged' } });
    expect(bad.status).toBe(401);
    expect((await call(app, 'GET', '/v1/audit/entries', { headers: { cookie: `oubli_session=${'x'.repeat(5000)}` } })).status).toBe(401);
  });
});

describe('no personal data in the audit log', () => {
  it('after logins, failed logins and throttling, no entry holds an email or an IP', async () => {
    const { app, deps } = await createTestApp({ env: { OUBLI_TRUST_PROXY: 'true' } });
    const emails = ['alice.martin@example.com', 'bob.durand@example.org', 'nobody.here@example.net'];
    const ips = ['203.0.113.77', '2001:db8::1234', '198.51.100.23'];
    await staff(deps, emails[0]!, 'admin');
    await staff(deps, emails[1]!, 'viewer');
    for (let i = 0; i < 6; i++) await login(app, emails[i % 3]!, 'wrong-password-x', { 'x-forwarded-for': ips[i % 3]! });
    await login(app, emails[1]!, PASSWORD, { 'x-forwarded-for': ips[2]! });
    const cookie = await loginCookie(app, emails[0]!, PASSWORD, { 'x-forwarded-for': '192.0.2.1' });
    await call(app, 'POST', '/v1/api-keys', { body: { name: 'ops', scopes: ['admin'] }, headers: { cookie } });
    await call(app, 'POST', '/v1/auth/logout', { headers: { cookie } });
    const types = (await auditTypes(deps));
    expect(types).toEqual(expect.arrayContaining(['user.created', 'auth.login_failed', 'auth.login_succeeded', 'api_key.created', 'auth.logout']));
    const all = (await auditTexts(deps)).join('\n').toLowerCase();
    for (const secret of [...emails, ...emails.map((e) => e.split('@')[0]!), ...ips, '192.0.2.1', 'alice', 'durand', PASSWORD, 'wrong-password-x']) {
      expect(all, secret).not.toContain(secret.toLowerCase());
    }
    // failures are still correlatable through keyed pseudonyms
    const failed = (await auditTexts(deps)).map((t) => JSON.parse(t)).filter((e) => e.type === 'auth.login_failed');
    expect(failed.every((e) => /^client_[A-Za-z0-9_-]{22}$/.test(e.data.client))).toBe(true);
    // the throttling table holds pseudonyms too
    const rows = (await adminOf(deps.db).all('select * from login_failures'));
    expect(JSON.stringify(rows)).not.toMatch(/example|203\.0|2001:db8/);
  });
});
