/**
 * The data layer's guarantees, on the store this run tests (SQLite, or PostgreSQL with
 * OUBLI_TEST_DATABASE_URL): a read outside a transaction never sees one in flight or rolled
 * back; transactions serialise; a savepoint's failure undoes only itself; statements are
 * prepared once and answer rows or counts; notifications reach listeners; a lease has one holder.
 */
import { describe, expect, it } from 'vitest';
import { openTestDatabase, TEST_STORE } from '../helpers/db.js';
import { GroupCommit } from '../../src/db/group-commit.js';

const key = (i: number | string) => ({ id: `key_${i}`, name: 'n', prefix: 'p', hash: `h${i}`, scopes: ['admin' as const], createdAt: 1, createdBy: 'test' });

describe(`data layer (${TEST_STORE})`, () => {
  it('reads outside a transaction see committed data only; a failed transaction leaves nothing', async () => {
    const db = await openTestDatabase();
    await db.tx((t) => t.auth.insertApiKey(key(1)));
    expect(await db.auth.activeApiKey('h1')).toEqual({ id: 'key_1', scopes: ['admin'] });
    let inside: unknown;
    let outside: unknown = 'unset';
    await db.tx(async (t) => {
      await t.auth.insertApiKey(key(2));
      inside = await t.auth.activeApiKey('h2');
      outside = await db.auth.activeApiKey('h2');
    });
    expect(inside).toBeTruthy();
    expect(outside).toBeUndefined();
    await expect(
      db.tx(async (t) => {
        await t.auth.revokeApiKey('key_1', 5);
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect(await db.auth.activeApiKey('h1')).toBeTruthy();
    expect(await db.tx((t) => t.auth.revokeApiKey('key_1', 5))).toBe(true);
    expect(await db.tx((t) => t.auth.revokeApiKey('key_1', 5))).toBe(false);
  });

  it('a burst of transactions: each commits once, none is lost', async () => {
    const db = await openTestDatabase();
    await Promise.all(Array.from({ length: 40 }, (_, i) => db.tx((t) => t.auth.insertApiKey(key(i)))));
    expect((await db.auth.apiKeys()).length).toBe(40);
  });

  it('a savepoint that fails undoes only its own changes', async () => {
    const db = await openTestDatabase();
    await db.tx(async (t) => {
      await t.auth.insertApiKey(key('a'));
      await expect(
        db.savepoint(t, async () => {
          await t.auth.insertApiKey(key('b'));
          await t.auth.insertApiKey(key('b')); // duplicate id: fails
        }),
      ).rejects.toThrow();
      await t.auth.insertApiKey(key('c'));
    });
    expect((await db.auth.apiKeys()).map((k) => k.id).sort()).toEqual(['key_a', 'key_c']);
  });

  it('group commit: a bad item fails alone, the others commit, each caller gets its outcome', async () => {
    const db = await openTestDatabase();
    let transactions = 0;
    const group = new GroupCommit<number, string>(db, {
      max: 100,
      run: async (t, items) => {
        transactions++;
        const out: string[] = [];
        for (const i of items) {
          if (i === 3) throw new Error('bad item');
          await t.auth.insertApiKey(key(i));
          out.push(`ok ${i}`);
        }
        return out;
      },
    });
    const results = await Promise.allSettled([1, 2, 3, 4].map((i) => group.submit(i)));
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'fulfilled']);
    expect((await db.auth.apiKeys()).map((k) => k.id).sort()).toEqual(['key_1', 'key_2', 'key_4']);
    expect(transactions).toBeGreaterThanOrEqual(2); // the group, then the replay
  });

  it('notify reaches every listener of the channel; unsubscribing stops it', async () => {
    const db = await openTestDatabase();
    let heard = 0;
    const off = await db.listen('test_channel', () => heard++);
    await db.notify('test_channel');
    await expect.poll(() => heard, { timeout: 2000 }).toBe(1);
    await off();
    await db.notify('test_channel');
    await new Promise((r) => setTimeout(r, 100));
    expect(heard).toBe(1);
  });

  it('channels subscribed at once all hear their notifications, with no query overlapping another on the listening connection', async () => {
    const db = await openTestDatabase();
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.message);
    process.on('warning', onWarning);
    try {
      const heard = new Map<string, number>();
      const channels = ['test_a', 'test_b', 'test_c', 'test_d'];
      const offs = await Promise.all(channels.map((c) => db.listen(c, () => heard.set(c, (heard.get(c) ?? 0) + 1))));
      for (const c of channels) await db.notify(c);
      await expect.poll(() => channels.map((c) => heard.get(c) ?? 0), { timeout: 2000 }).toEqual([1, 1, 1, 1]);
      await Promise.all(offs.map((off) => off()));
      await new Promise((r) => setImmediate(r));
      expect(warnings.filter((w) => w.includes('already executing a query'))).toEqual([]);
    } finally {
      process.off('warning', onWarning);
    }
  });

  it('a lease has one holder until it runs out', async () => {
    const db = await openTestDatabase();
    const take = (owner: string, now: number) => db.tx((t) => t.leases.acquire('signer', owner, now, now + 1000));
    const race = await Promise.all([take('a', 0), take('b', 0)]);
    expect(race.filter(Boolean)).toHaveLength(1);
    const holder = race[0] ? 'a' : 'b';
    const other = holder === 'a' ? 'b' : 'a';
    expect(await take(other, 500)).toBe(false);
    expect(await take(holder, 500)).toBe(true); // renewed until 1500
    expect(await take(other, 1400)).toBe(false);
    expect(await take(other, 1501)).toBe(true);
  });
});
