/**
 * Login throttling under a burst: many guesses sent at once, through app.request(), while the
 * argon2 verification of the first ones is still running. The number of verifications that
 * actually ran is counted on the real @node-rs/argon2 `verify` (a pass-through spy).
 */
import { describe, expect, it, vi } from 'vitest';
import * as argon2 from '@node-rs/argon2';
import { createTestApp } from '../helpers/deps.js';
import { call } from '../helpers/http.js';
import { MAX_LOGIN_FAILURES, MAX_ADDRESS_FAILURES } from '../../src/auth/sessions.js';
import { PASSWORD, auditTypes, staff } from './helpers.js';
import { adminOf } from '../helpers/admin-sql.js';

vi.mock('@node-rs/argon2', async (importOriginal) => {
  const real = await importOriginal<typeof import('@node-rs/argon2')>();
  return { ...real, verify: vi.fn(real.verify) };
});
const verifications = vi.mocked(argon2.verify);

const login = (app: Parameters<typeof call>[0], email: string, password: string) =>
  call(app, 'POST', '/v1/auth/login', { body: { email, password } });

const statuses = (results: { status: number }[]) =>
  results.reduce<Record<number, number>>((m, r) => ((m[r.status] = (m[r.status] ?? 0) + 1), m), {});

describe('login throttling under a burst of concurrent guesses', () => {
  it('60 concurrent guesses on one admin account: at most 5 passwords are verified, the right one sent last opens no session', { timeout: 30_000 }, async () => {
    const { app, deps } = await createTestApp();
    await staff(deps, 'admin@example.com', 'admin');
    verifications.mockClear();
    const guesses = Array.from({ length: 59 }, (_, i) => `wrong guess number ${i}`).concat(PASSWORD);
    const results = await Promise.all(guesses.map((g) => login(app, 'admin@example.com', g)));
    const byStatus = statuses(results);

    expect(verifications.mock.calls.length).toBeLessThanOrEqual(MAX_LOGIN_FAILURES);
    expect(byStatus[401] ?? 0).toBeLessThanOrEqual(MAX_LOGIN_FAILURES);
    expect((byStatus[401] ?? 0) + (byStatus[200] ?? 0)).toBe(verifications.mock.calls.length);
    expect(byStatus[429]).toBeGreaterThanOrEqual(60 - MAX_LOGIN_FAILURES);
    expect(results.at(-1)!.status).toBe(429);
    expect((await adminOf(deps.db).value('select count(*) from sessions'))).toBe(0);
    expect((await auditTypes(deps)).filter((t) => t === 'auth.login_failed').length).toBe(byStatus[401] ?? 0);
  });

  it('60 concurrent guesses over 60 accounts from one address: at most the per-address limit is verified', { timeout: 30_000 }, async () => {
    const { app, deps } = await createTestApp();
    verifications.mockClear();
    const results = await Promise.all(Array.from({ length: 60 }, (_, i) => login(app, `user${i}@example.com`, 'some password guess')));
    expect(verifications.mock.calls.length).toBeLessThanOrEqual(MAX_ADDRESS_FAILURES);
    expect(statuses(results)[429]).toBeGreaterThanOrEqual(60 - MAX_ADDRESS_FAILURES);
  });

  it('a success releases its reservation: concurrent right logins each open a session and leave no failure behind', { timeout: 30_000 }, async () => {
    const { app, deps } = await createTestApp();
    await staff(deps, 'dpo@example.com', 'dpo');
    for (let i = 0; i < MAX_LOGIN_FAILURES - 2; i++) expect((await login(app, 'dpo@example.com', 'not it, sorry')).status).toBe(401);
    const ok = await Promise.all([login(app, 'dpo@example.com', PASSWORD), login(app, 'dpo@example.com', PASSWORD)]);
    expect(ok.map((r) => r.status)).toEqual([200, 200]);
    expect((await adminOf(deps.db).value('select count(*) from login_failures'))).toBe(0);
    // the account has its full budget again
    for (let i = 0; i < MAX_LOGIN_FAILURES; i++) expect((await login(app, 'dpo@example.com', 'not it, sorry')).status).toBe(401);
    expect((await login(app, 'dpo@example.com', PASSWORD)).status).toBe(429);
  });
});
