/**
 * What an erased person leaves in the database FILES (oubli.db and its WAL), read as bytes the
 * way someone with a copy of the data dir would: nothing — neither their pseudonym key (sealed
 * or not) nor their identifiers. And what a copy of the database alone yields while they are
 * alive (either store): no pseudonym key (each is sealed under the master key kept outside it).
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { buildDeps } from '../../src/runtime.js';
import { createApp } from '../../src/app.js';
import { forgetSubject, readSubjectKey, subjectRefFromKey, subjectRefOf } from '../../src/subjects/service.js';
import type { Deps } from '../../src/deps.js';
import { bearer, call } from '../helpers/http.js';
import { systemCtx } from '../helpers/deps.js';
import { openPostgresTestDatabase, postgresTestUrl, TEST_STORE } from '../helpers/db.js';
import { NEWSLETTER, grant } from '../consent/helpers.js';

let open: Deps[] = [];
afterEach(async () => {
  for (const d of open) await d.db.close();
  open = [];
});

/** A fresh store for the test: a new data dir (SQLite), or this file's PostgreSQL database emptied. */
async function freshStore(): Promise<Record<string, string>> {
  const dir = mkdtempSync(join(tmpdir(), 'oubli-at-rest-'));
  if (TEST_STORE === 'sqlite') return { OUBLI_DATA_DIR: dir };
  await openPostgresTestDatabase();
  return { OUBLI_DATA_DIR: dir, OUBLI_DATABASE_URL: postgresTestUrl()! };
}

async function start(env: Record<string, string>) {
  const deps = await buildDeps(loadConfig({ OUBLI_LOG_LEVEL: 'silent', ...env }));
  open.push(deps);
  return { dir: env.OUBLI_DATA_DIR!, deps, app: createApp(deps), auth: await bearer(deps, ['admin', 'consents:write', 'consents:read']) };
}

async function stop(t: { deps: Deps }) {
  await t.deps.db.close();
  open = open.filter((d) => d !== t.deps);
}

/** Which of the database's files hold `needle`, byte for byte. */
function filesHolding(dir: string, needle: Buffer): string[] {
  return ['oubli.db', 'oubli.db-wal'].filter((f) => existsSync(join(dir, f)) && readFileSync(join(dir, f)).includes(needle));
}

async function withConsents(t: Awaited<ReturnType<typeof start>>, emails: string[]): Promise<string[]> {
  await call(t.app, 'POST', '/v1/purposes', { headers: t.auth, body: NEWSLETTER });
  const ids: string[] = [];
  for (const email of emails) {
    const r = await call(t.app, 'POST', '/v1/consents', { headers: t.auth, body: grant(email) });
    expect(r.status).toBe(201);
    ids.push(r.json.subjectId);
  }
  return ids;
}

describe.skipIf(TEST_STORE !== 'sqlite')('erased data at rest (SQLite files)', () => {
  it('after an erasure and db.checkpoint(), neither the erased key nor the email is in oubli.db or its WAL', async () => {
    const t = await start(await freshStore());
    const others = Array.from({ length: 300 }, (_, i) => `someone.${i}@example.org`);
    const [victim, ...rest] = await withConsents(t, ['zoe.victim@example.com', ...others]);
    const sealed = (await t.deps.db.subjects.sealedKey(victim!))!;
    const key = (await readSubjectKey(t.deps, t.deps.db, victim!))!;
    const email = Buffer.from('zoe.victim@example.com');
    // Found before: the scan sees what is there.
    expect(filesHolding(t.dir, sealed).length).toBeGreaterThan(0);
    expect(filesHolding(t.dir, email).length).toBeGreaterThan(0);

    await t.deps.db.tx((tx) => forgetSubject(systemCtx(t.deps), tx, victim!));
    await t.deps.db.checkpoint();

    expect(filesHolding(t.dir, sealed)).toEqual([]);
    expect(filesHolding(t.dir, key)).toEqual([]);
    expect(filesHolding(t.dir, email)).toEqual([]);
    expect(statSync(join(t.dir, 'oubli.db-wal')).size).toBe(0);
    // the others are still there, and still work
    const kept = (await t.deps.db.subjects.sealedKey(rest[0]!))!;
    expect(filesHolding(t.dir, kept)).toEqual(['oubli.db']);
    expect((await call(t.app, 'GET', `/v1/subjects/email:${encodeURIComponent(others[0]!)}/consents`, { headers: t.auth })).json.consents[0].state).toBe('granted');
  });

  it('the database files alone hold no pseudonym key in clear', async () => {
    const t = await start(await freshStore());
    const [alice] = await withConsents(t, ['alice@example.com']);
    const key = (await readSubjectKey(t.deps, t.deps.db, alice!))!;
    await t.deps.db.checkpoint(); // everything in oubli.db, and in the WAL before that: both scanned
    expect(filesHolding(t.dir, key)).toEqual([]);
    expect(statSync(join(t.dir, 'secrets', 'master.key')).mode & 0o777).toBe(0o600);
  });
});

describe(`pseudonym keys sealed under the master key (${TEST_STORE})`, () => {
  it('a copy of the database alone holds no pseudonym key; a sealed key moved onto another person does not open', async () => {
    const t = await start(await freshStore());
    const [alice, bob] = await withConsents(t, ['alice@example.com', 'bob@example.com']);
    const key = (await readSubjectKey(t.deps, t.deps.db, alice!))!;
    expect(key).toHaveLength(32);
    expect(await subjectRefOf(t.deps, t.deps.db, alice!)).toBe(subjectRefFromKey(key));
    const stored = (await t.deps.db.subjects.sealedKey(alice!))!;
    expect(stored.length).toBeGreaterThan(32);
    expect(stored.includes(key)).toBe(false);
    expect(subjectRefFromKey(stored)).not.toBe(await subjectRefOf(t.deps, t.deps.db, alice!));

    // Someone editing the database moves Alice's sealed key onto Bob's row.
    await t.deps.db.tx((tx) => tx.subjects.replaceKey(bob!, stored));
    await expect(subjectRefOf(t.deps, t.deps.db, bob!)).rejects.toThrow(/does not open/);
  });

  it('OUBLI_MASTER_KEY from the environment; keys an older version stored in clear are sealed at start; another master key stops start-up', async () => {
    const masterKey = randomBytes(32).toString('base64');
    const env = { ...(await freshStore()), OUBLI_MASTER_KEY: masterKey };
    const first = await start(env);
    const [alice] = await withConsents(first, ['alice@example.com']);
    const ref = await subjectRefOf(first.deps, first.deps.db, alice!);
    expect(existsSync(join(first.dir, 'secrets', 'master.key'))).toBe(false);
    // What an older version left: the key in clear.
    const key = (await readSubjectKey(first.deps, first.deps.db, alice!))!;
    await first.deps.db.tx((tx) => tx.subjects.replaceKey(alice!, key));
    await stop(first);

    const restarted = await start(env);
    expect((await restarted.deps.db.subjects.sealedKey(alice!))!.length).toBe(61);
    expect(await subjectRefOf(restarted.deps, restarted.deps.db, alice!)).toBe(ref);
    await stop(restarted);

    await expect(start({ ...env, OUBLI_MASTER_KEY: randomBytes(32).toString('base64') })).rejects.toMatchObject({ code: 'MASTER_KEY_MISMATCH' });
    // without OUBLI_MASTER_KEY the data dir's (new) master.key does not open them either
    const { OUBLI_MASTER_KEY: _, ...withoutKey } = env;
    await expect(start(withoutKey)).rejects.toThrow(/master key does not open/);
  });
});
