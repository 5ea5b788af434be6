/**
 * Migration 0008 repairs states the old rule (latest occurredAt) froze: a grant dated in the
 * future that made a later withdrawal ineffective is recomputed, and the silos are told.
 */
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { MIGRATIONS_DIR } from '../../src/db/client.js';
import { MAX_CLOCK_SKEW_MS } from '../../src/consent/ledger.js';
import { consentApp, count, grant } from './helpers.js';

describe('migration 0008_consent_states_effective_time', () => {
  it('recomputes a state frozen by a future-dated grant, adds the outbox row, leaves other states alone', async () => {
    const t = await consentApp();
    const sql = t.deps.db.$client;
    const future = new Date(t.deps.now() + MAX_CLOCK_SKEW_MS).toISOString();
    const g = await t.post(grant('alice@example.com', 'newsletter', { occurredAt: future }));
    t.deps.clock.advance(1000);
    const w = await t.post({ ...grant('alice@example.com'), decision: 'withdrawn' });
    await t.post(grant('bob@example.com'));
    const bobBefore = sql.prepare("select * from consent_states where subject_id <> ?").all(g.json.subjectId);

    // What the old rule left behind: the grant still current, no outbox row for the withdrawal.
    sql.prepare('update consent_states set decision = ?, occurred_at = ?, event_id = ? where subject_id = ?').run('granted', Date.parse(future), g.json.id, g.json.subjectId);
    sql.prepare("delete from outbox where payload like '%withdrawn%'").run();
    const outboxBefore = count(t.deps, 'select count(*) from outbox');

    // The migration's own statements, as drizzle's migrator runs them (whatever comes after it).
    const file = readFileSync(join(MIGRATIONS_DIR, '0008_consent_states_effective_time.sql'), 'utf8');
    sql.transaction(() => {
      for (const statement of file.split('--> statement-breakpoint')) sql.exec(statement);
    })();

    const s = await t.get('/v1/subjects/email:alice%40example.com/consents?purpose=newsletter');
    expect(s.json.consents[0]).toMatchObject({ state: 'withdrawn', since: w.json.occurredAt });
    expect(sql.prepare('select event_id from consent_states where subject_id = ?').pluck().get(g.json.subjectId)).toBe(w.json.id);
    expect(count(t.deps, 'select count(*) from outbox')).toBe(outboxBefore + 1);
    const change = (await t.get('/v1/consents/changes')).json.changes.at(-1);
    expect(change).toMatchObject({ subject: g.json.subjectId, purpose: 'newsletter', decision: 'withdrawn', occurredAt: w.json.occurredAt });
    expect(sql.prepare("select * from consent_states where subject_id <> ?").all(g.json.subjectId)).toEqual(bobBefore);
    expect(sql.prepare("select count(*) from sqlite_master where name like '__recomputed%'").pluck().get()).toBe(0);
  });
});
