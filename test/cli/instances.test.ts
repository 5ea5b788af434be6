/**
 * Several `oubli serve` processes on one store, as behind a load balancer: two servers on the
 * same data dir (SQLite), or on two data dirs sharing one PostgreSQL database and the secrets
 * given by env (OUBLI_SIGNING_KEY, OUBLI_MASTER_KEY, OUBLI_PSEUDONYM_KEY), as the README's
 * "Several instances" section tells an operator. What one instance counts or signs, the other
 * sees: one tree-head signer at a time (the audit-signer lease), login throttling and the API
 * rate limit across instances.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseCheckpoint } from '../../src/audit/note.js';
import { describe, expect, it } from 'vitest';
import { TEST_STORE } from '../helpers/db.js';
import { oubli, serve, storeEnv, tempDir, type Served } from './helpers.js';

const T = 120_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The env every instance of one deployment shares. */
function sharedSecrets(): Record<string, string> {
  const { privateKey } = generateKeyPairSync('ed25519');
  return {
    OUBLI_SIGNING_KEY: JSON.stringify(privateKey.export({ format: 'jwk' })),
    OUBLI_MASTER_KEY: randomBytes(32).toString('base64'),
    OUBLI_PSEUDONYM_KEY: randomBytes(32).toString('base64'),
  };
}

/**
 * A deployment: `dataDir(i)` is instance i's data dir (one shared dir on SQLite, where the
 * store is a file in it; one each on PostgreSQL), `env` what every instance is started with.
 */
async function deployment(extra: Record<string, string> = {}) {
  const first = tempDir('inst');
  const dirs = TEST_STORE === 'sqlite' ? [first, first, first] : [first, tempDir('inst'), tempDir('inst')];
  const env = { ...sharedSecrets(), ...(await storeEnv(first)), ...extra };
  return { dataDir: (i: number) => dirs[i]!, env, start: (i: number, more: Record<string, string> = {}) => serve({ dataDir: dirs[i]!, env: { ...env, ...more } }) };
}

/** The heads an instance logged as signed by itself (OUBLI_LOG_LEVEL=debug). */
function signedBy(s: Served): number[] {
  return s
    .stderr()
    .split('\n')
    .filter((l) => l.includes('"tree head signed"'))
    .map((l) => (JSON.parse(l) as { size: number }).size);
}

async function createKey(d: Awaited<ReturnType<typeof deployment>>, scopes: string): Promise<string> {
  const res = await oubli(['apikey', 'create', '--name', 'ops', '--scopes', scopes], { dataDir: d.dataDir(0), env: d.env });
  expect(res.code, res.stderr).toBe(0);
  return res.stdout.trim().split('\n').at(-1)!;
}

describe(`several instances on one store (${TEST_STORE})`, () => {
  it('one instance signs tree heads at a time; when it stops or dies, another takes over; the heads stay consistent', { timeout: T }, async () => {
    const d = await deployment({ OUBLI_LOG_LEVEL: 'debug' });
    const key = await createKey(d, 'admin,audit:read');
    const a = await d.start(0);
    const b = await d.start(1);
    const servers = [a, b];
    let n = 0;
    /** Appends (an API key created, so an audit entry) through each running server in turn, for `ms`. */
    const traffic = async (on: Served[], ms: number) => {
      const until = Date.now() + ms;
      while (Date.now() < until) {
        for (const s of on) {
          const res = await fetch(`${s.url}/v1/api-keys`, {
            method: 'POST',
            headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
            body: JSON.stringify({ name: `k${n++}`, scopes: ['audit:read'] }),
          });
          expect(res.status).toBe(201);
        }
        await sleep(150);
      }
      await sleep(1500); // a tick after the last append
    };
    let c: Served | undefined;
    try {
      await traffic(servers, 3500);
      const [byA, byB] = [signedBy(a), signedBy(b)];
      // exactly one of them signed, and more than once (it renews the lease at every tick)
      expect(Math.min(byA.length, byB.length), `a signed ${byA}, b signed ${byB}`).toBe(0);
      expect(Math.max(byA.length, byB.length)).toBeGreaterThanOrEqual(2);
      const [leader, follower] = byA.length ? [a, b] : [b, a];
      // Every data dir keeps the newest checkpoint: the follower's (its own dir on PostgreSQL) too.
      const newest = Math.max(...byA, ...byB);
      const saved = readFileSync(join(d.dataDir(follower === a ? 0 : 1), 'audit', 'latest-checkpoint'), 'utf8');
      expect(parseCheckpoint(saved.split('\n\n')[0]! + '\n')?.size).toBe(newest);

      // The leader stops (SIGTERM): it gives the lease up, the follower signs from its next tick.
      expect(await leader.stop()).toBe(0);
      const before = signedBy(follower).length;
      await traffic([follower], 1000);
      expect(signedBy(follower).length).toBeGreaterThan(before);

      // A new instance joins and follows; the signer is killed (-9): its lease runs out, the
      // newcomer takes over.
      c = await d.start(2);
      await traffic([follower, c], 1200);
      expect(signedBy(c)).toEqual([]);
      follower.child.kill('SIGKILL');
      await new Promise((r) => follower.child.once('exit', r));
      await traffic([c], 7000); // the lease (5 s) runs out, then a tick
      expect(signedBy(c).length).toBeGreaterThanOrEqual(1);
      const head = (await (await fetch(`${c.url}/v1/audit/tree-head`, { headers: { authorization: `Bearer ${key}` } })).json()) as { size: number };
      expect(head.size).toBe(1 + n);
    } finally {
      for (const s of [...servers, c]) if (s && s.child.exitCode === null && s.child.signalCode === null) await s.stop();
    }
    const verified = await oubli(['audit', 'verify', '--strict'], { dataDir: d.dataDir(0), env: d.env });
    expect(verified.code, verified.stderr).toBe(0);
    expect(verified.stdout).toMatch(new RegExp(`^audit log ok: ${1 + n} entries`));
  });

  it('login throttling and the API rate limit count across instances', { timeout: T }, async () => {
    const d = await deployment({ OUBLI_API_RATE_LIMIT: '10' });
    const admin = await oubli(['admin', 'create', '--email', 'ops@example.com', '--role', 'admin'], { dataDir: d.dataDir(0), env: d.env, input: 'the right password' });
    expect(admin.code, admin.stderr).toBe(0);
    const key = await createKey(d, 'audit:read');
    const a = await d.start(0);
    const b = await d.start(1);
    try {
      // 40 wrong guesses at once, spread over both instances: at most 5 are checked in all.
      const guesses = await Promise.all(
        Array.from({ length: 40 }, (_, i) =>
          fetch(`${(i % 2 ? a : b).url}/v1/auth/login`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ email: 'ops@example.com', password: `guess number ${i}` }),
          }).then((r) => r.status),
        ),
      );
      expect(guesses.filter((s) => s === 401).length).toBeLessThanOrEqual(5);
      expect(guesses.filter((s) => s === 429).length).toBeGreaterThanOrEqual(35);
      const right = await fetch(`${a.url}/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: 'ops@example.com', password: 'the right password' }) });
      expect(right.status).toBe(429);

      // 10 requests a minute per key, whichever instance answers (not 10 on each).
      if (Date.now() % 60_000 > 50_000) await sleep(60_000 - (Date.now() % 60_000) + 100); // one window for the whole burst
      const calls = await Promise.all(
        Array.from({ length: 30 }, (_, i) => fetch(`${(i % 2 ? a : b).url}/v1/audit/tree-head`, { headers: { authorization: `Bearer ${key}` } })),
      );
      const statuses = calls.map((r) => r.status);
      expect(statuses.filter((s) => s === 200)).toHaveLength(10);
      expect(statuses.filter((s) => s === 429)).toHaveLength(20);
      const limited = calls.find((r) => r.status === 429)!;
      expect(Number(limited.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect(Number(limited.headers.get('retry-after'))).toBeLessThanOrEqual(60);
      expect(((await limited.json()) as { error: { code: string } }).error.code).toBe('RATE_LIMITED');
    } finally {
      await a.stop();
      await b.stop();
    }
  });
});
