/**
 * Ending a staff user's sessions: a password change (by the user, POST /v1/auth/password, or by
 * an operator) and disabling the account end every session of that user, in the transaction
 * that makes the change, with an audit entry that names the user by id only.
 */
import { describe, expect, it } from 'vitest';
import { createTestApp, systemCtx } from '../helpers/deps.js';
import { call, bearer } from '../helpers/http.js';
import { disableUser, enableUser, setUserPassword } from '../../src/auth/credentials.js';
import { MAX_LOGIN_FAILURES } from '../../src/auth/sessions.js';
import { PASSWORD, auditTexts, loginCookie, staff } from './helpers.js';
import { adminOf } from '../helpers/admin-sql.js';
import type { TestDeps } from '../helpers/deps.js';

const NEW_PASSWORD = 'a brand new passphrase';
const treeHead = (app: Parameters<typeof call>[0], cookie: string) => call(app, 'GET', '/v1/audit/tree-head', { headers: { cookie } });
const changePassword = (app: Parameters<typeof call>[0], cookie: string, currentPassword: string, newPassword: string, headers: Record<string, string> = {}) =>
  call(app, 'POST', '/v1/auth/password', { body: { currentPassword, newPassword }, headers: { cookie, ...headers } });
const sessionRows = (deps: TestDeps, userId: string) => adminOf(deps.db).value('select count(*) from sessions where user_id = ?', userId);

describe('POST /v1/auth/password', () => {
  it('ends every session of the user (other browsers too) and answers with a fresh one', async () => {
    const { app, deps } = await createTestApp();
    const user = await staff(deps, 'dpo@example.com', 'dpo');
    const other = await staff(deps, 'other@example.com', 'viewer');
    const laptop = await loginCookie(app, 'dpo@example.com');
    const stolen = await loginCookie(app, 'dpo@example.com');
    const bystander = await loginCookie(app, 'other@example.com');

    const res = await changePassword(app, laptop, PASSWORD, NEW_PASSWORD);
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ userId: user.id, role: 'dpo' });
    const fresh = res.headers.get('set-cookie')!.split(';')[0]!;
    expect(fresh).not.toBe(laptop);

    expect((await treeHead(app, laptop)).status).toBe(401);
    expect((await treeHead(app, stolen)).status).toBe(401);
    expect((await treeHead(app, fresh)).status).toBe(200);
    expect((await treeHead(app, bystander)).status).toBe(200);
    expect(await sessionRows(deps, user.id)).toBe(1);
    expect(await sessionRows(deps, other.id)).toBe(1);

    expect((await call(app, 'POST', '/v1/auth/login', { body: { email: 'dpo@example.com', password: PASSWORD } })).status).toBe(401);
    expect((await call(app, 'POST', '/v1/auth/login', { body: { email: 'dpo@example.com', password: NEW_PASSWORD } })).status).toBe(200);

    const entry = (await auditTexts(deps)).map((t) => JSON.parse(t)).find((e) => e.type === 'user.password_changed');
    expect(entry).toMatchObject({ actor: { type: 'user', id: user.id }, data: { userId: user.id, sessionsEnded: 2 } });
    const all = (await auditTexts(deps)).join('\n');
    for (const secret of [PASSWORD, NEW_PASSWORD, 'dpo@example.com']) expect(all).not.toContain(secret);
  });

  it('a wrong current password is refused (401) and counts as a failed login; a short or unchanged new one is 400', async () => {
    const { app, deps } = await createTestApp();
    const user = await staff(deps, 'dpo@example.com', 'dpo');
    const cookie = await loginCookie(app, 'dpo@example.com');
    const short = await changePassword(app, cookie, PASSWORD, 'short');
    expect(short.status).toBe(400);
    expect(short.json.error.code).toBe('PASSWORD_TOO_SHORT');
    const same = await changePassword(app, cookie, PASSWORD, PASSWORD);
    expect(same.status).toBe(400);
    expect(same.json.error.code).toBe('PASSWORD_UNCHANGED');
    for (let i = 0; i < MAX_LOGIN_FAILURES; i++) {
      const wrong = await changePassword(app, cookie, 'a guess at the password', NEW_PASSWORD);
      expect(wrong.status).toBe(401);
      expect(wrong.json.error.code).toBe('INVALID_CREDENTIALS');
    }
    // a stolen session cannot go on guessing the current password
    const throttled = await changePassword(app, cookie, PASSWORD, NEW_PASSWORD);
    expect(throttled.status).toBe(429);
    expect(await sessionRows(deps, user.id)).toBe(1);
    expect((await treeHead(app, cookie)).status).toBe(200);
  });

  it('needs a staff session from the same origin: an API key or a cross-origin form cannot change it', async () => {
    const { app, deps } = await createTestApp();
    await staff(deps, 'admin@example.com', 'admin');
    const key = await bearer(deps, ['admin']);
    const viaKey = await call(app, 'POST', '/v1/auth/password', { body: { currentPassword: PASSWORD, newPassword: NEW_PASSWORD }, headers: key });
    expect(viaKey.status).toBe(401);
    const cookie = await loginCookie(app, 'admin@example.com');
    const forged = await changePassword(app, cookie, PASSWORD, NEW_PASSWORD, { origin: 'https://evil.example' });
    expect(forged.status).toBe(403);
    expect(forged.json.error.code).toBe('CSRF_REJECTED');
    expect((await treeHead(app, cookie)).status).toBe(200);
  });
});

describe('operator changes: setUserPassword, disableUser, enableUser', () => {
  it('setting a password ends the user\'s sessions, audited with the count', async () => {
    const { app, deps } = await createTestApp();
    const user = await staff(deps, 'ops@example.com', 'admin');
    const cookie = await loginCookie(app, 'ops@example.com');
    await setUserPassword(systemCtx(deps), user.id, NEW_PASSWORD);
    expect((await treeHead(app, cookie)).status).toBe(401);
    expect(await sessionRows(deps, user.id)).toBe(0);
    const entry = JSON.parse((await auditTexts(deps)).at(-1)!);
    expect(entry).toMatchObject({ type: 'user.password_set', data: { userId: user.id, sessionsEnded: 1 } });
  });

  it('disabling deletes the sessions in the same transaction and is audited; enabling lets the user log in again', async () => {
    const { app, deps } = await createTestApp();
    const user = await staff(deps, 'ops@example.com', 'admin');
    const a = await loginCookie(app, 'ops@example.com');
    await loginCookie(app, 'ops@example.com');
    expect(await disableUser(systemCtx(deps), user.id)).toEqual({ changed: true, sessionsEnded: 2 });
    expect(await sessionRows(deps, user.id)).toBe(0);
    expect((await treeHead(app, a)).status).toBe(401);
    expect(JSON.parse((await auditTexts(deps)).at(-1)!)).toMatchObject({ type: 'user.disabled', data: { userId: user.id, sessionsEnded: 2 } });
    expect((await call(app, 'POST', '/v1/auth/login', { body: { email: 'ops@example.com', password: PASSWORD } })).status).toBe(401);
    const size = await deps.audit.size();
    expect(await disableUser(systemCtx(deps), user.id)).toEqual({ changed: false, sessionsEnded: 0 });
    expect(await deps.audit.size()).toBe(size);
    expect(await enableUser(systemCtx(deps), user.id)).toEqual({ changed: true });
    expect(JSON.parse((await auditTexts(deps)).at(-1)!)).toMatchObject({ type: 'user.enabled', data: { userId: user.id } });
    expect((await call(app, 'POST', '/v1/auth/login', { body: { email: 'ops@example.com', password: PASSWORD } })).status).toBe(200);
  });
});
