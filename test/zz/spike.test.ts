import { describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { SqliteDatabase } from '../../src/db/sqlite.js';
import { PostgresDatabase } from '../../src/db/postgres.js';
import { MIGRATIONS_DIR } from '../../src/db/client.js';

async function both() {
  const s = SqliteDatabase.open(`/tmp/spike-sq/${randomBytes(4).toString('hex')}.db`, { migrationsFolder: MIGRATIONS_DIR });
  const name = `spike_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: 'postgres://postgres@127.0.0.1/postgres' });
  await admin.connect(); await admin.query(`create database ${name}`); await admin.end();
  const p = await PostgresDatabase.open({ url: `postgres://postgres@127.0.0.1/${name}`, migrationsFolder: '/tmp/pgmig' });
  return [s, p] as const;
}

describe('store spike', () => {
  it('api keys on both', async () => {
    for (const db of await both()) {
      const k = await db.tx(async (t) => t.apiKeys.insert({ id: 'key_1', name: 'n', prefix: 'p', hash: 'h1', scopes: ['admin'], createdAt: 1, createdBy: 'x' }));
      expect(k.scopes).toEqual(['admin']);
      expect(await db.apiKeys.activeByHash('h1')).toEqual({ id: 'key_1', scopes: ['admin'] });
      // uncommitted writes are invisible to reads outside the transaction
      let seenInside: unknown, seenOutside: unknown;
      await db.tx(async (t) => {
        await t.apiKeys.insert({ id: 'key_2', name: 'n', prefix: 'p', hash: 'h2', scopes: ['admin'], createdAt: 2, createdBy: 'x' });
        seenInside = await t.apiKeys.activeByHash('h2');
        seenOutside = await db.apiKeys.activeByHash('h2');
      });
      expect(seenInside).toBeTruthy();
      expect(seenOutside).toBeUndefined();
      await expect(db.tx(async (t) => { await t.apiKeys.revoke('key_1', 5); throw new Error('boom'); })).rejects.toThrow('boom');
      expect(await db.apiKeys.activeByHash('h1')).toBeTruthy();
      expect(await db.tx((t) => t.apiKeys.revoke('key_1', 5))).toBe(true);
      expect(await db.tx((t) => t.apiKeys.revoke('key_1', 5))).toBe(false);
      expect((await db.apiKeys.list()).map((r) => r.id)).toEqual(['key_2', 'key_1']);
      // concurrent transactions serialise
      await Promise.all(Array.from({ length: 20 }, (_, i) => db.tx((t) => t.apiKeys.insert({ id: `k${i}`, name: 'n', prefix: 'p', hash: `x${i}`, scopes: [], createdAt: 3, createdBy: 'x' }))));
      expect((await db.apiKeys.list()).length).toBe(22);
      let n = 0; const off = await db.listen('spike_chan', () => n++);
      await db.notify('spike_chan'); await new Promise((r) => setTimeout(r, 200));
      expect(n).toBe(1); await off();
      await db.close();
    }
  });
});
