/**
 * WAL checkpoints off the writer's thread (src/db/checkpointer.ts), on a real SQLite file with
 * small limits: the writer never checkpoints by itself, the worker copies the WAL into the
 * database file, and past the limit the writer starts the WAL over (the file stays bounded).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SqliteDatabase } from '../../src/db/sqlite.js';
import { SQLITE_MIGRATIONS } from '../../src/db/open.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function open(limits: { pokeBytes: number; limitBytes: number }) {
  const dir = mkdtempSync(join(tmpdir(), 'oubli-ckpt-'));
  dirs.push(dir);
  const path = join(dir, 'oubli.db');
  const db = SqliteDatabase.open(path, { migrationsFolder: SQLITE_MIGRATIONS, cacheKib: 2048, checkpoints: limits });
  db.writer.exec('create table filler (x blob)');
  return { db, path, size: (f: string) => statSync(f, { throwIfNoEntry: false })?.size ?? 0 };
}

/** One transaction writing `kib` KiB of fresh pages. */
const fill = (db: SqliteDatabase, kib: number) =>
  db.tx(async () => {
    db.writer.prepare('insert into filler values (randomblob(?))').run(kib * 1024);
  });

async function until(check: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('WAL checkpoints', () => {
  it('close() during a copy ends the worker and starts none after: the process exits by itself', () => {
    const dir = mkdtempSync(join(tmpdir(), 'oubli-ckpt-'));
    dirs.push(dir);
    const child = spawnSync(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'fixtures/close-while-copying.ts'), join(dir, 'oubli.db')], {
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(child.stderr).toBe('');
    expect(child.stdout).toBe('closed\n');
    expect(child.status).toBe(0);
  }, 30_000);

  it('are copied into the database file by the worker, not by the committing writer', async () => {
    const { db, path, size } = open({ pokeBytes: 256 * 1024, limitBytes: 64 * 1024 * 1024 });
    const before = size(path);
    for (let i = 0; i < 4; i++) await fill(db, 512);
    // Autocheckpoint is off: only the worker can have grown the main file.
    await until(() => size(path) > before + 1024 * 1024);
    expect(db.writer.pragma('wal_autocheckpoint', { simple: true })).toBe(0);
    // And what was committed is all there.
    expect(db.reader.prepare('select count(*) from filler').pluck().get()).toBe(4);
    await db.close();
  });

  it('keeps the WAL bounded when writes outrun the worker', async () => {
    const limit = 2 * 1024 * 1024;
    const { db, path, size } = open({ pokeBytes: 128 * 1024, limitBytes: limit });
    let largest = 0;
    for (let i = 0; i < 60; i++) {
      await fill(db, 256);
      largest = Math.max(largest, size(`${path}-wal`));
    }
    // Past the limit, one transaction's worth at most before the writer starts it over.
    expect(largest).toBeLessThan(limit + 512 * 1024);
    expect(db.reader.prepare('select count(*) from filler').pluck().get()).toBe(60);
    await db.close();
  });

  it('db.checkpoint() (after an erasure) truncates the WAL even while the worker is copying', async () => {
    const { db, path, size } = open({ pokeBytes: 64 * 1024, limitBytes: 256 * 1024 * 1024 });
    for (let round = 0; round < 5; round++) {
      await fill(db, 8 * 1024); // the worker starts copying these 8 MiB
      await fill(db, 1024); // committed while it copies: it goes on with another copy after this one
      await db.checkpoint();
      expect(size(`${path}-wal`)).toBe(0);
    }
    await db.close();
  });

  it('close() stops the worker and leaves a complete database file', async () => {
    const { db, path } = open({ pokeBytes: 64 * 1024, limitBytes: 64 * 1024 * 1024 });
    for (let i = 0; i < 8; i++) await fill(db, 128);
    await db.close();
    const again = SqliteDatabase.open(path, { migrationsFolder: SQLITE_MIGRATIONS, cacheKib: 2048 });
    expect(again.reader.prepare('select count(*) from filler').pluck().get()).toBe(8);
    await again.close();
  });
});
