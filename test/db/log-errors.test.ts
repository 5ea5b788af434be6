/**
 * A failed query must not put the values it was given into the logs: drizzle's error lists its
 * params (and PostgreSQL's detail quotes the duplicate key), and the service logs every 500 with
 * its error. Also: a serialization failure wrapped by drizzle is still retried on PostgreSQL.
 */
import { Writable } from 'node:stream';
import pino from 'pino';
import { sql } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { openTestDatabase, TEST_STORE } from '../helpers/db.js';
import { logSerializers } from '../../src/log-errors.js';

const EMAIL = 'leaky.person@example.com';

function capture() {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      lines.push(String(chunk));
      done();
    },
  });
  return { logger: pino({ base: undefined, serializers: logSerializers }, sink), text: () => lines.join('') };
}

describe(`errors in the logs (${TEST_STORE})`, () => {
  it('a failed query is logged with its code and constraint, never with the values it was given', async () => {
    const db = await openTestDatabase();
    const user = { id: 'usr_1', email: EMAIL, passwordHash: 'x', role: 'dpo' as const, createdAt: 1 };
    await db.tx((t) => t.q.insert(db.tables.users).values(user));
    const err = await db.tx((t) => t.q.insert(db.tables.users).values({ ...user, id: 'usr_2' })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    // Unfiltered, drizzle's PostgreSQL error lists the values (the reason for the serializer).
    if (TEST_STORE === 'postgres') expect(JSON.stringify({ m: (err as Error).message, p: (err as { params?: unknown }).params })).toContain(EMAIL);

    const { logger, text } = capture();
    logger.error({ err }, 'unhandled error');
    const out = text();
    expect(out).not.toContain(EMAIL);
    expect(out).not.toContain('leaky');
    expect(out).toMatch(/users/);
    expect(out).toMatch(TEST_STORE === 'postgres' ? /"code":"23505"/ : /UNIQUE constraint failed/);
  });

  it('a data exception does not quote its value', async () => {
    const db = await openTestDatabase();
    const err = await db
      .tx(async (t) => { await (TEST_STORE === 'postgres' ? (t.q as unknown as { execute(q: unknown): Promise<unknown> }).execute(sql`select ${EMAIL}::integer`) : t.q.run(sql`select ${EMAIL} + zeroblob(-1) from nowhere`)); })
      .catch((e: unknown) => e);
    const { logger, text } = capture();
    logger.error({ err }, 'unhandled error');
    expect(text()).not.toContain(EMAIL);
  });

  it.runIf(TEST_STORE === 'postgres')('a serialization failure inside a drizzle query is retried (the SQLSTATE is on its cause)', async () => {
    const db = await openTestDatabase();
    let attempts = 0;
    const out = await db.tx(async (t) => {
      attempts++;
      if (attempts === 1) await (t.q as unknown as { execute(q: unknown): Promise<unknown> }).execute(sql`do $$ begin raise exception using errcode = '40001'; end $$`);
      return 'done';
    });
    expect(out).toBe('done');
    expect(attempts).toBe(2);
  });
});
