/**
 * What an erased person leaves in the database FILES (oubli.db and its WAL), read as bytes the
 * way someone with a copy of the data dir would: nothing — neither their pseudonym key (sealed
 * or not) nor their identifiers. And what a copy of the database alone yields while they are
 * alive: no pseudonym key (each is sealed under the master key kept outside the database).
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
import { checkpointAfterErasure, writeTx } from '../../src/db/client.js';
import { forgetSubject, readSubjectKey, subjectRefFromKey, subjectRefOf } from '../../src/subjects/service.js';
import type { Deps } from '../../src/deps.js';
import { bearer, call } from '../helpers/http.js';
import { systemCtx } from '../helpers/deps.js';
import { NEWSLETTER, grant } from '../consent/helpers.js';

let open: Deps[] = [];
afterEach(() => {
  for (const d of open) d.db.$client.close();
  open = [];
});

function start(env: Record<string, string> = {}) {
  const dir = env.OUBLI_DATA_DIR ?? mkdtempSync(join(tmpdir(), 'oubli-at-rest-'));
  const deps = buildDeps(loadConfig({ OUBLI_DATA_DIR: dir, OUBLI_LOG_LEVEL: 'silent', ...env }));
  open.push(deps);
  return { dir, deps, app: createApp(deps), auth: bearer(deps, ['admin', 'consents:write', 'consents:read']) };
}

/** Which of the database's files hold `needle`, byte for byte. */
function filesHolding(dir: string, needle: Buffer): string[] {
  return ['oubli.db', 'oubli.db-wal'].filter((f) => existsSync(join(dir, f)) && readFileSync(join(dir, f)).includes(needle));
}

async function withConsents(t: ReturnType<typeof start>, emails: string[]): Promise<string[]> {
  await call(t.app, 'POST', '/v1/purposes', { headers: t.auth, body: NEWSLETTER });
  const ids: string[] = [];
  for (const email of emails) {
    const r = await call(t.app, 'POST', '/v1/consents', { headers: t.auth, body: grant(email) });
    expect(r.status).toBe(201);
    ids.push(r.json.subjectId);
  }
  return ids;
}

describe('erased data at rest', () => {
  it('after an erasure and checkpointAfterErasure, neither the erased key nor the email is in oubli.db or its WAL', async () => {
    const t = start();
    const others = Array.from({ length: 300 }, (_, i) => `someone.${i}@example.org`);
    const [victim, ...rest] = await withConsents(t, ['zoe.victim@example.com', ...others]);
    const sql = t.deps.db.$client;
    const sealed = sql.prepare('select key from subject_keys where subject_id = ?').pluck().get(victim) as Buffer;
    const key = readSubjectKey(t.deps, victim!)!;
    const email = Buffer.from('zoe.victim@example.com');
    // Found before: the scan sees what is there.
    expect(filesHolding(t.dir, sealed).length).toBeGreaterThan(0);
    expect(filesHolding(t.dir, email).length).toBeGreaterThan(0);

    writeTx(t.deps.db, () => forgetSubject(systemCtx(t.deps), victim!));
    expect(checkpointAfterErasure(t.deps.db)).toBe(true);

    expect(filesHolding(t.dir, sealed)).toEqual([]);
    expect(filesHolding(t.dir, key)).toEqual([]);
    expect(filesHolding(t.dir, email)).toEqual([]);
    expect(statSync(join(t.dir, 'oubli.db-wal')).size).toBe(0);
    // the others are still there, and still work
    const kept = sql.prepare('select key from subject_keys where subject_id = ?').pluck().get(rest[0]) as Buffer;
    expect(filesHolding(t.dir, kept)).toEqual(['oubli.db']);
    expect((await call(t.app, 'GET', `/v1/subjects/email:${encodeURIComponent(others[0]!)}/consents`, { headers: t.auth })).json.consents[0].state).toBe('granted');
  });

  it('a copy of the database alone holds no pseudonym key: each is sealed under the master key kept outside it', async () => {
    const t = start();
    const [alice] = await withConsents(t, ['alice@example.com']);
    const key = readSubjectKey(t.deps, alice!)!;
    expect(key).toHaveLength(32);
    expect(subjectRefOf(t.deps, alice!)).toBe(subjectRefFromKey(key));
    checkpointAfterErasure(t.deps.db); // everything in oubli.db, and in the WAL before that: both scanned
    expect(filesHolding(t.dir, key)).toEqual([]);
    const stored = t.deps.db.$client.prepare('select key from subject_keys where subject_id = ?').pluck().get(alice) as Buffer;
    expect(stored.length).toBeGreaterThan(32);
    expect(subjectRefFromKey(stored)).not.toBe(subjectRefOf(t.deps, alice!));
    const masterKey = join(t.dir, 'secrets', 'master.key');
    expect(statSync(masterKey).mode & 0o777).toBe(0o600);

    // A sealed key moved onto another person's row (someone editing the database) does not open.
    const [bob] = await withConsents(t, ['bob@example.com']);
    t.deps.db.$client.prepare('update subject_keys set key = ? where subject_id = ?').run(stored, bob);
    expect(() => subjectRefOf(t.deps, bob!)).toThrow(/does not open/);
  });

  it('OUBLI_MASTER_KEY from the environment; keys an older version stored in clear are sealed at start; another master key stops start-up', async () => {
    const masterKey = randomBytes(32).toString('base64');
    const first = start({ OUBLI_MASTER_KEY: masterKey });
    const [alice] = await withConsents(first, ['alice@example.com']);
    const ref = subjectRefOf(first.deps, alice!);
    expect(existsSync(join(first.dir, 'secrets', 'master.key'))).toBe(false);
    // What an older version left: the key in clear.
    const key = readSubjectKey(first.deps, alice!)!;
    first.deps.db.$client.prepare('update subject_keys set key = ? where subject_id = ?').run(key, alice);
    first.deps.db.$client.close();
    open = [];

    const restarted = start({ OUBLI_DATA_DIR: first.dir, OUBLI_MASTER_KEY: masterKey });
    expect(restarted.deps.db.$client.prepare('select length(key) from subject_keys').pluck().get()).toBe(61);
    expect(subjectRefOf(restarted.deps, alice!)).toBe(ref);
    restarted.deps.db.$client.close();
    open = [];

    expect(() => start({ OUBLI_DATA_DIR: first.dir, OUBLI_MASTER_KEY: randomBytes(32).toString('base64') })).toThrow(
      expect.objectContaining({ code: 'MASTER_KEY_MISMATCH' }),
    );
    // without OUBLI_MASTER_KEY the data dir's (new) master.key does not open them either
    expect(() => start({ OUBLI_DATA_DIR: first.dir })).toThrow(/master key does not open/);
  });
});
