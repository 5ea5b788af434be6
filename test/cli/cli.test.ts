/**
 * The `oubli` CLI as a user runs it: spawned processes on a temp data dir. Covers migrate,
 * admin/apikey creation, config errors, key rotation, `audit verify` on good and tampered logs,
 * and a CLI appending to the log while a server on the same data dir does too.
 */
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { verify as argonVerify } from '@node-rs/argon2';
import { describe, expect, it } from 'vitest';
import { adminOfDir, oubli, serve, tempDir } from './helpers.js';
import { goodLog, inProcess, rebuildNodes, rewrite, tampered } from './tamper.js';
import type { AdminSql } from '../helpers/admin-sql.js';
import { TEST_STORE } from '../helpers/db.js';

const T = 60_000;


describe('oubli migrate / admin / apikey', () => {
  it('migrate twice is a no-op', { timeout: T }, async () => {
    const dir = tempDir();
    const first = await oubli(['migrate'], { dataDir: dir });
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(TEST_STORE === 'sqlite' ? /migrations applied to .*oubli\.db/ : /migrations applied to PostgreSQL database oubli_\w+ on 127\.0\.0\.1:5432/);
    expect(first.stdout).not.toMatch(/postgres:\/\//); // no credentials in what a command prints
    // What was applied, and the schema it made (the dialect's catalogue)
    const journal = TEST_STORE === 'sqlite' ? '__drizzle_migrations' : 'drizzle.__drizzle_migrations';
    const schemaSql =
      TEST_STORE === 'sqlite'
        ? 'select name, sql from sqlite_master order by name'
        : "select table_name, column_name, data_type, is_nullable, column_default from information_schema.columns where table_schema = current_schema() order by table_name, column_name";
    const read = async (fn: (db: AdminSql) => Promise<unknown>) => {
      const db = await adminOfDir(dir, { readonly: true });
      try {
        return await fn(db);
      } finally {
        await db.close();
      }
    };
    const before = await read((db) => db.all(`select hash, created_at from ${journal} order by id`));
    const schema = await read((db) => db.all(schemaSql));
    const second = await oubli(['migrate'], { dataDir: dir });
    expect(second.code).toBe(0);
    await read(async (db) => {
      expect(await db.all(`select hash, created_at from ${journal} order by id`)).toEqual(before);
      expect(await db.all(schemaSql)).toEqual(schema);
      expect(await db.value('select count(*) from audit_entries')).toBe(0);
      if (db.dialect === 'sqlite') expect(await db.value('pragma journal_mode')).toBe('wal');
    });
  });

  it('admin create: password from stdin, or generated and printed once; bad input fails clearly', { timeout: T }, async () => {
    const dir = tempDir();
    const piped = await oubli(['admin', 'create', '--email', 'Boss@Example.com', '--role', 'admin'], { dataDir: dir, input: 'a long stdin password\n' });
    expect(piped.code).toBe(0);
    expect(piped.stdout).toBe(''); // nothing to show: the user chose the password
    expect(piped.stderr).toMatch(/created admin usr_/);
    const generated = await oubli(['admin', 'create', '--email', 'dpo@example.com', '--role', 'dpo'], { dataDir: dir });
    expect(generated.code).toBe(0);
    const m = /^password \(shown once\): (\S+)\n$/.exec(generated.stdout);
    expect(m).not.toBeNull();
    const db = await adminOfDir(dir, { readonly: true });
    const rows = await db.all<{ email: string; role: string; password_hash: string }>('select email, role, password_hash from users order by email');
    expect(rows.map((r) => [r.email, r.role])).toEqual([['boss@example.com', 'admin'], ['dpo@example.com', 'dpo']]);
    expect(await argonVerify(rows[0]!.password_hash, 'a long stdin password')).toBe(true);
    expect(await argonVerify(rows[1]!.password_hash, m![1]!)).toBe(true);
    // the audit holds user.created twice, by id, and a signed head covers them
    const texts = await db.column<string>('select entry from audit_entries order by idx');
    expect(texts.map((t) => JSON.parse(t).type)).toEqual(['user.created', 'user.created']);
    expect(texts.join()).not.toMatch(/example\.com/i);
    expect(await db.value('select max(size) from audit_tree_heads')).toBe(2);
    await db.close();

    for (const [args, msg] of [
      [['admin', 'create', '--email', 'x@example.com', '--role', 'root'], /--role must be one of admin, dpo, viewer/],
      [['admin', 'create', '--role', 'admin'], /needs --email/],
      [['admin', 'create', '--email', 'not-an-email', '--role', 'admin'], /INVALID_EMAIL/],
      [['admin', 'create', '--email', 'boss@example.com', '--role', 'admin'], /USER_EXISTS/],
    ] as const) {
      const res = await oubli([...args], { dataDir: dir, input: 'another long password' });
      expect(res.code, args.join(' ')).not.toBe(0);
      expect(res.stderr).toMatch(msg);
      expect(res.stdout).toBe('');
    }
    const short = await oubli(['admin', 'create', '--email', 'y@example.com', '--role', 'viewer'], { dataDir: dir, input: 'short\n' });
    expect(short.code).not.toBe(0);
    expect(short.stderr).toMatch(/PASSWORD_TOO_SHORT/);
  });

  it('admin password / disable / enable: a new password or a disabled account ends every session of the user', { timeout: T }, async () => {
    const dir = tempDir();
    expect((await oubli(['admin', 'create', '--email', 'ops@example.com', '--role', 'admin'], { dataDir: dir, input: 'the first long password' })).code).toBe(0);
    const loginWith = async (password: string) => {
      const { app, close } = await inProcess(dir);
      try {
        const res = await app.request('/v1/auth/login', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: 'ops@example.com', password }) });
        return { status: res.status, cookie: res.headers.get('set-cookie')?.split(';')[0] };
      } finally {
        await close();
      }
    };
    const works = async (cookie: string) => {
      const { app, close } = await inProcess(dir);
      try {
        return (await app.request('/v1/audit/tree-head', { headers: { cookie } })).status === 200;
      } finally {
        await close();
      }
    };
    const first = await loginWith('the first long password');
    expect(first.status).toBe(200);
    expect(await works(first.cookie!)).toBe(true);

    const changed = await oubli(['admin', 'password', '--email', 'OPS@example.com'], { dataDir: dir, input: 'the second long password\n' });
    expect(changed.code, changed.stderr).toBe(0);
    expect(changed.stdout).toBe('');
    expect(changed.stderr).toMatch(/password set for usr_\S+; 1 session\(s\) ended/);
    expect(await works(first.cookie!)).toBe(false);
    expect((await loginWith('the first long password')).status).toBe(401);
    const second = await loginWith('the second long password');
    expect(second.status).toBe(200);

    const generated = await oubli(['admin', 'password', '--email', 'ops@example.com'], { dataDir: dir });
    expect(generated.code).toBe(0);
    const m = /^password \(shown once\): (\S+)\n$/.exec(generated.stdout);
    expect(m).not.toBeNull();
    expect(await works(second.cookie!)).toBe(false);
    const third = await loginWith(m![1]!);
    expect(third.status).toBe(200);

    const disabled = await oubli(['admin', 'disable', '--email', 'ops@example.com'], { dataDir: dir });
    expect(disabled.code, disabled.stderr).toBe(0);
    expect(disabled.stderr).toMatch(/disabled usr_\S+; 1 session\(s\) ended/);
    const db = await adminOfDir(dir, { readonly: true });
    expect(await db.value('select count(*) from sessions')).toBe(0);
    const texts = await db.column<string>('select entry from audit_entries order by idx');
    expect(texts.map((t) => JSON.parse(t).type)).toEqual(expect.arrayContaining(['user.password_set', 'user.disabled']));
    expect(texts.join()).not.toMatch(/example\.com|long password/i);
    expect(await db.value('select max(size) from audit_tree_heads')).toBe(await db.value('select count(*) from audit_entries'));
    await db.close();
    expect(await works(third.cookie!)).toBe(false);
    expect((await loginWith(m![1]!)).status).toBe(401);
    expect((await oubli(['admin', 'disable', '--email', 'ops@example.com'], { dataDir: dir })).stderr).toMatch(/already disabled/);

    expect((await oubli(['admin', 'enable', '--email', 'ops@example.com'], { dataDir: dir })).code).toBe(0);
    expect((await loginWith(m![1]!)).status).toBe(200);

    for (const [args, msg] of [
      [['admin', 'disable', '--email', 'nobody@example.com'], /USER_NOT_FOUND/],
      [['admin', 'disable'], /needs --email/],
      [['admin', 'password', '--email', 'not-an-email'], /INVALID_EMAIL/],
      [['admin', 'frobnicate', '--email', 'ops@example.com'], /usage: oubli/],
    ] as const) {
      const res = await oubli([...args], { dataDir: dir });
      expect(res.code, args.join(' ')).not.toBe(0);
      expect(res.stderr).toMatch(msg);
    }
    const short = await oubli(['admin', 'password', '--email', 'ops@example.com'], { dataDir: dir, input: 'short\n' });
    expect(short.code).not.toBe(0);
    expect(short.stderr).toMatch(/PASSWORD_TOO_SHORT/);
  });

  it('apikey create prints the key alone as the last line of stdout, and the key works against the app', { timeout: T }, async () => {
    const dir = tempDir();
    const res = await oubli(['apikey', 'create', '--name', 'ci', '--scopes', 'audit:read,admin'], { dataDir: dir, env: { OUBLI_LOG_LEVEL: 'info' } });
    expect(res.code).toBe(0);
    const lines = res.stdout.trimEnd().split('\n');
    const key = lines.at(-1)!;
    expect(key).toMatch(/^oubli_sk_[A-Za-z0-9_-]{43}$/);
    expect(res.stdout.endsWith(`${key}\n`)).toBe(true);
    expect(res.stderr).not.toContain(key); // logs and notes go to stderr, without the secret
    const { app, close } = await inProcess(dir);
    try {
      const head = await app.request('/v1/audit/tree-head', { headers: { authorization: `Bearer ${key}` } });
      expect(head.status).toBe(200);
      expect(((await head.json()) as { size: number }).size).toBe(1);
      const keys = await app.request('/v1/api-keys', { headers: { authorization: `Bearer ${key}` } });
      expect(keys.status).toBe(200);
    } finally {
      await close();
    }
    for (const args of [
      ['apikey', 'create', '--name', 'x', '--scopes', 'audit:read,root'],
      ['apikey', 'create', '--name', 'x'],
      ['apikey', 'create', '--scopes', 'admin'],
      ['apikey', 'list'],
      ['nonsense'],
    ]) {
      const bad = await oubli(args, { dataDir: dir });
      expect(bad.code, args.join(' ')).not.toBe(0);
      expect(bad.stdout).toBe('');
      expect(bad.stderr).toMatch(/oubli: /);
    }
  });
});

describe('start-up paths', () => {
  it('runs from the cached bundle and, with OUBLI_NO_BUNDLE=1, straight through tsx', { timeout: T }, async () => {
    const dir = tempDir();
    for (const env of [{}, { OUBLI_NO_BUNDLE: '1' }]) {
      const res = await oubli(['help'], { dataDir: dir, env });
      expect(res.code, JSON.stringify(env)).toBe(0);
      expect(res.stdout).toMatch(/^usage: oubli <command>/);
      const mig = await oubli(['migrate'], { dataDir: dir, env });
      expect(mig.code, mig.stderr).toBe(0); // migrations are found from the bundle too
    }
  });
});

describe('configuration errors', () => {
  it('a bad env value stops start-up with a clear message and a non-zero exit', { timeout: T }, async () => {
    const dir = tempDir();
    for (const [env, name] of [
      [{ PORT: 'abc' }, 'PORT'],
      [{ PORT: '70000' }, 'PORT'],
      [{ PORT: '80.5' }, 'PORT'],
      [{ OUBLI_LOG_LEVEL: 'loud' }, 'OUBLI_LOG_LEVEL'],
      [{ OUBLI_PUBLIC_URL: 'not a url' }, 'OUBLI_PUBLIC_URL'],
    ] as const) {
      const res = await oubli(['serve'], { dataDir: dir, env });
      expect(res.code, JSON.stringify(env)).not.toBe(0);
      expect(res.stderr).toMatch(/invalid configuration/);
      expect(res.stderr).toMatch(new RegExp(`${name}: `));
      if (name === 'PORT') expect(res.stderr).toMatch(/PORT: must be a port number from 0 to 65535/);
      expect(res.stderr).not.toMatch(/\n\s+at /); // a message, not a stack trace
      expect(res.stdout).toBe('');
    }
  });
});

describe('oubli keys rotate', () => {
  it('adds a key; the old one stays in the JWKS; key files are 0600 in a 0700 dir', { timeout: T }, async () => {
    const dir = tempDir();
    expect((await oubli(['migrate'], { dataDir: dir })).code).toBe(0);
    const before = readdirSync(join(dir, 'keys'));
    expect(before).toHaveLength(1);
    const res = await oubli(['keys', 'rotate'], { dataDir: dir });
    expect(res.code).toBe(0);
    const kid = /new signing key (\S+)/.exec(res.stdout)![1]!;
    const after = readdirSync(join(dir, 'keys'));
    expect(after).toHaveLength(2);
    expect(after).toContain(`${kid}.json`);
    for (const f of after) expect(statSync(join(dir, 'keys', f)).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, 'keys')).mode & 0o777).toBe(0o700);
    expect(statSync(join(dir, 'secrets', 'pseudonym.key')).mode & 0o777).toBe(0o600);
    const { app, deps, close } = await inProcess(dir);
    try {
      const jwks = (await (await app.request('/.well-known/jwks.json')).json()) as { keys: { kid: string; alg: string; d?: string }[] };
      expect(jwks.keys.map((k) => k.kid).sort()).toEqual([before[0]!.replace('.json', ''), kid].sort());
      expect(jwks.keys.every((k) => k.alg === 'EdDSA' && k.d === undefined)).toBe(true);
      expect(deps.keys.activeKid()).toBe(kid);
      const entry = JSON.parse((await deps.audit.entries(0, 10)).at(-1)!.entry);
      expect(entry).toMatchObject({ type: 'signing_key.rotated', data: { kid } });
    } finally {
      await close();
    }
    expect((await oubli(['audit', 'verify'], { dataDir: dir })).code).toBe(0);
  });
});

describe('oubli audit verify', () => {
  it('passes on a good log and catches every kind of tampering, naming the entry', { timeout: 120_000 }, async () => {
    const good = await goodLog();
    const ok = await oubli(['audit', 'verify'], { dataDir: good });
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/^audit log ok: 40 entries, 4 signed tree heads, root [0-9a-f]{64}/);

    const cases: [string, (db: AdminSql) => Promise<unknown>, RegExp][] = [
      ['altered entry text', (db) => rewrite(db, 17, (e) => (e.data.note = 'forged'), false), /entry 17: content does not match its stored leaf hash/],
      [
        'non-canonical text',
        async (db) => db.run('update audit_entries set entry = ? where idx = 17', JSON.stringify(JSON.parse(await db.value<string>('select entry from audit_entries where idx = 17')), null, 1)),
        /entry 17: not in canonical/,
      ],
      ['garbage text', (db) => db.run("update audit_entries set entry = '{oops' where idx = 5"), /entry 5: not valid JSON/],
      ['deleted middle row', (db) => db.run('delete from audit_entries where idx = 17'), /entry 17: missing/],
      ['deleted last rows', (db) => db.run('delete from audit_entries where idx >= 38'), /entry 38: missing/],
      [
        'swapped entry texts',
        async (db) => {
          const [a, b] = await Promise.all([10, 11].map((i) => db.value<string>('select entry from audit_entries where idx = ?', i)));
          await db.run('update audit_entries set entry = ? where idx = 10', b!);
          await db.run('update audit_entries set entry = ? where idx = 11', a!);
        },
        /entry 10: its content says index 11/,
      ],
      [
        'swapped rows (text and leaf hash)',
        async (db) => {
          const rows = await db.all<{ entry: string; leaf_hash: Buffer }>('select idx, entry, leaf_hash from audit_entries where idx in (24, 25) order by idx');
          await db.run('update audit_entries set entry = ?, leaf_hash = ? where idx = 24', rows[1]!.entry, rows[1]!.leaf_hash);
          await db.run('update audit_entries set entry = ?, leaf_hash = ? where idx = 25', rows[0]!.entry, rows[0]!.leaf_hash);
        },
        /entry 24: its content says index 25/,
      ],
      [
        'entry and leaf hash rewritten, nodes left',
        (db) => rewrite(db, 17, (e) => (e.data.note = 'forged'), true),
        /entry 17: stored tree node 1\/8 is missing or wrong/,
      ],
      [
        'entry, leaf hash and every node rewritten consistently (only the signed head knows)',
        async (db) => {
          await rewrite(db, 17, (e) => (e.data.note = 'forged'), true);
          await rebuildNodes(db);
        },
        /entry 10: entries 10–19 do not match the signed tree head of size 20/,
      ],
      [
        'stored head root edited',
        (db) => db.run('update audit_tree_heads set root = ? where size = 30', '0'.repeat(64)),
        /entry 29: stored tree head of size 30 differs from what was signed/,
      ],
      [
        'head signature forged',
        async (db) => {
          const jws = await db.value<string>('select jws from audit_tree_heads where size = 20');
          const [h, p, s] = jws.split('.') as [string, string, string];
          const sig = Buffer.from(s, 'base64url');
          sig[0]! ^= 1;
          await db.run('update audit_tree_heads set jws = ? where size = 20', `${h}.${p}.${sig.toString('base64url')}`);
        },
        /entry 19: tree head of size 20 has an invalid signature/,
      ],
    ];
    for (const [label, edit, message] of cases) {
      const dir = await tampered(good, edit);
      const res = await oubli(['audit', 'verify'], { dataDir: dir });
      expect(res.code, label).toBe(1);
      expect(res.stderr, label).toMatch(/audit log FAILED verification/);
      expect(res.stderr, label).toMatch(message);
      expect(res.stdout).toBe('');
    }
  });
});

describe('oubli serve', () => {
  it('runs with no connectors when no oubli.config.ts exists and OUBLI_CONFIG is unset', { timeout: T }, async () => {
    const dir = tempDir();
    const cwd = tempDir('cwd');
    const s = await serve({ dataDir: dir, cwd, env: { OUBLI_LOG_LEVEL: 'info' } });
    try {
      const ready = await fetch(`${s.url}/readyz`);
      expect(ready.status).toBe(200);
      expect(s.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(s.stderr()).not.toMatch(/deployment config loaded|invalid deployment config/);
      // over a real socket (the Node fast path), the same headers as under app.request()
      expect(ready.headers.get('x-content-type-options')).toBe('nosniff');
      expect(ready.headers.get('x-request-id')).toMatch(/^rid_[0-9a-z]{26}$/);
      const api = await fetch(`${s.url}/v1/audit/tree-head`);
      expect(api.status).toBe(401);
      expect(api.headers.get('content-security-policy')).toBe("default-src 'none'; frame-ancestors 'none'");
      expect(api.headers.get('x-frame-options')).toBe('DENY');
      expect(((await api.json()) as { error: { requestId: string } }).error.requestId).toBe(api.headers.get('x-request-id'));
      const page = await fetch(`${s.url}/docs`);
      expect(page.headers.get('content-security-policy')).toMatch(/default-src 'self'/);
      expect(page.headers.get('x-frame-options')).toBe('SAMEORIGIN');
      const big = await fetch(`${s.url}/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: 'x'.repeat(2 * 1024 * 1024) });
      expect(big.status).toBe(413);
    } finally {
      expect(await s.stop()).toBe(0);
    }
  });

  it('CLI appends while the server appends: one gap-free log that verifies', { timeout: 120_000 }, async () => {
    const dir = tempDir('concurrent');
    expect((await oubli(['admin', 'create', '--email', 'ops@example.com', '--role', 'admin'], { dataDir: dir, input: 'the right password' })).code).toBe(0);
    const s = await serve({ dataDir: dir });
    let logins = 0;
    let failures = 0;
    try {
      const login = async (password: string) => {
        const res = await fetch(`${s.url}/v1/auth/login`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ email: 'ops@example.com', password }),
        });
        if (res.status === 200) logins++;
        else if (res.status === 401) failures++;
        else throw new Error(`login → ${res.status}`);
      };
      const hammer = (async () => {
        for (let i = 0; i < 24; i++) await login(i % 6 === 5 ? 'a wrong password' : 'the right password');
      })();
      const clis = Promise.all(
        Array.from({ length: 5 }, (_, i) => oubli(['apikey', 'create', '--name', `k${i}`, '--scopes', 'audit:read'], { dataDir: dir })),
      );
      const [results] = await Promise.all([clis, hammer]);
      for (const r of results) expect(r.code, r.stderr).toBe(0);
      // let the server's ticker sign a head over the final log
      await new Promise((r) => setTimeout(r, 1500));
      const key = results[0]!.stdout.trim().split('\n').at(-1)!;
      const head = (await (await fetch(`${s.url}/v1/audit/tree-head`, { headers: { authorization: `Bearer ${key}` } })).json()) as { size: number };
      expect(head.size).toBe(1 + 5 + 24);
    } finally {
      expect(await s.stop()).toBe(0);
    }
    expect(logins).toBe(20);
    expect(failures).toBe(4);
    const db = await adminOfDir(dir, { readonly: true });
    const idx = await db.column<number>('select idx from audit_entries order by idx');
    expect(idx).toEqual(Array.from({ length: 30 }, (_, i) => i));
    const types = (await db.column<string>('select entry from audit_entries order by idx')).map((t) => JSON.parse(t).type);
    expect(types.filter((t) => t === 'api_key.created')).toHaveLength(5);
    expect(types.filter((t) => t === 'auth.login_succeeded')).toHaveLength(20);
    expect(types.filter((t) => t === 'auth.login_failed')).toHaveLength(4);
    expect(await db.value('select count(*) from audit_tree_heads')).toBeGreaterThanOrEqual(3);
    await db.close();
    const verified = await oubli(['audit', 'verify'], { dataDir: dir });
    expect(verified.code, verified.stderr).toBe(0);
    expect(verified.stdout).toMatch(/audit log ok: 30 entries/);
  });
});
