/**
 * The data dir holds the database (personal data), signing keys and secrets: everything oubli
 * creates there is 0600 (dirs 0700) even in a directory that already existed, a directory open to
 * other users is tightened when it is ours, and refused when it is shared (sticky, as /tmp).
 */
import { chmodSync, existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { oubli, tempDir } from './helpers.js';
import { TEST_STORE } from '../helpers/db.js';

/** The database file is in the data dir on SQLite only (PostgreSQL runs keep keys and secrets there). */
const DB_FILES = TEST_STORE === 'sqlite' ? ['oubli.db'] : [];

const T = 60_000;
const mode = (p: string) => statSync(p).mode & 0o7777;

/** Every file and dir below `dir`, with its mode. */
function modes(dir: string): Record<string, number> {
  const out: Record<string, number> = {};
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      out[p.slice(dir.length + 1)] = mode(p);
      if (e.isDirectory()) walk(p);
    }
  };
  walk(dir);
  return out;
}

describe('data dir permissions', () => {
  it('an existing empty data dir open to others: tightened to 0700, and every file made in it is 0600', { timeout: T }, async () => {
    const dir = tempDir('perm');
    chmodSync(dir, 0o755);
    const res = await oubli(['admin', 'create', '--email', 'ops@example.com', '--role', 'admin'], { dataDir: dir, input: 'a long enough password', env: { OUBLI_LOG_LEVEL: 'warn' } });
    expect(res.code, res.stderr).toBe(0);
    expect(mode(dir)).toBe(0o700);
    expect(res.stderr).toMatch(/data dir was readable by other users: tightened to 0700/);
    const all = modes(dir);
    for (const f of [...DB_FILES, 'keys', 'secrets', 'secrets/pseudonym.key', 'audit', 'audit/latest-checkpoint']) expect(all, f).toHaveProperty([f]);
    for (const [p, m] of Object.entries(all)) {
      const isDir = statSync(join(dir, p)).isDirectory();
      expect(m.toString(8), p).toBe(isDir ? '700' : '600');
    }
  });

  it('a data dir left open by an older version (0755 dir, 0644 database): tightened at start', { timeout: T }, async () => {
    const dir = tempDir('perm-old');
    expect((await oubli(['migrate'], { dataDir: dir })).code).toBe(0);
    chmodSync(dir, 0o755);
    for (const f of DB_FILES) chmodSync(join(dir, f), 0o644);
    chmodSync(join(dir, 'keys'), 0o755);
    for (const k of readdirSync(join(dir, 'keys'))) chmodSync(join(dir, 'keys', k), 0o644);
    expect((await oubli(['migrate'], { dataDir: dir })).code).toBe(0);
    expect(mode(dir)).toBe(0o700);
    for (const f of DB_FILES) expect(mode(join(dir, f))).toBe(0o600);
    expect(mode(join(dir, 'keys'))).toBe(0o700);
    for (const k of readdirSync(join(dir, 'keys'))) expect(mode(join(dir, 'keys', k))).toBe(0o600);
  });

  it('a shared directory (world-writable, sticky, as /tmp) is refused with a clear message and left alone', { timeout: T }, async () => {
    const parent = tempDir('perm-shared');
    const dir = join(parent, 'shared');
    mkdirSync(dir);
    chmodSync(dir, 0o1777);
    writeFileSync(join(dir, 'someone-elses-file'), 'x');
    const res = await oubli(['migrate'], { dataDir: dir });
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(/OUBLI_DATA_DIR .*shared can be read by other users \(mode 1777\) and is a shared directory \(sticky bit\)/);
    expect(res.stderr).not.toMatch(/\n\s+at /);
    expect(mode(dir)).toBe(0o1777);
    expect(existsSync(join(dir, 'oubli.db'))).toBe(false);
  });
});
