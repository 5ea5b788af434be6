/**
 * Migration 0008 (SQLite) repairs states the old rule (latest occurredAt) froze: a grant dated in
 * the future that made a later withdrawal ineffective is recomputed, and the silos are told.
 * (PostgreSQL stores started after the rule changed: its migrations have nothing to repair.)
 */
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SQLITE_MIGRATIONS } from '../../src/db/open.js';
import type { SqliteDatabase } from '../../src/db/sqlite.js';
import { MAX_CLOCK_SKEW_MS } from '../../src/consent/prepare.js';
import { TEST_STORE } from '../helpers/db.js';
import { consentApp, count, grant } from './helpers.js';

describe.skipIf(TEST_STORE !== 'sqlite')('migration 0008_consent_states_effective_time', () => {
  it('recomputes a state frozen by a future-dated grant, adds the outbox row, leaves other states alone', async () => {
    const t = await consentApp();
    const sql = (t.deps.db as SqliteDatabase).writer;
    const future = new Date(t.deps.now() + MAX_CLOCK_SKEW_MS).toISOString();
    const g = await t.post(grant('alice@example.com', 'newsletter', { occurredAt: future }));
    t.deps.clock.advance(1000);
    const w = await t.post({ ...grant('alice@example.com'), decision: 'withdrawn' });
    await t.post(grant('bob@example.com'));
    const bobBefore = sql.prepare('select * from consent_states where subject_id <> ?').all(g.json.subjectId);

    // What the old rule left behind: the grant still current, no outbox row for the withdrawal.
    sql.prepare('update consent_states set decision = ?, occurred_at = ?, event_id = ? where subject_id = ?').run('granted', Date.parse(future), g.json.id, g.json.subjectId);
    sql.prepare("delete from outbox where payload like '%withdrawn%'").run();
    const outboxBefore = await count(t.deps, 'outbox');

    // The migration's own statements, as drizzle's migrator runs them (whatever comes after it).
    const file = readFileSync(join(SQLITE_MIGRATIONS, '0008_consent_states_effective_time.sql'), 'utf8');
    sql.transaction(() => {
      for (const statement of file.split('--> statement-breakpoint')) sql.exec(statement);
    })();

    const s = await t.get('/v1/subjects/email:alice%40example.com/consents?purpose=newsletter');
    expect(s.json.consents[0]).toMatchObject({ state: 'withdrawn', since: w.json.occurredAt });
    expect(sql.prepare('select event_id from consent_states where subject_id = ?').pluck().get(g.json.subjectId)).toBe(w.json.id);
    expect(await count(t.deps, 'outbox')).toBe(outboxBefore + 1);
    const change = (await t.get('/v1/consents/changes')).json.changes.at(-1);
    expect(change).toMatchObject({ subject: g.json.subjectId, purpose: 'newsletter', decision: 'withdrawn', occurredAt: w.json.occurredAt });
    expect(sql.prepare('select * from consent_states where subject_id <> ?').all(g.json.subjectId)).toEqual(bobBefore);
    expect(sql.prepare("select count(*) from sqlite_master where name like '__recomputed%'").pluck().get()).toBe(0);
    // the outbox goes on after the rows the migration wrote
    expect((await t.post(grant('carol@example.com'))).status).toBe(201);
    expect(await count(t.deps, 'outbox')).toBe(outboxBefore + 2);
  });
});
