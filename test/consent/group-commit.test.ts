import { describe, expect, it, vi } from 'vitest';
import { eq } from 'drizzle-orm';
import { leafHash, verifyInclusion } from '../../src/audit/verify.js';
import { consentApp, count, failInserts, grant } from './helpers.js';
import { TEST_STORE } from '../helpers/db.js';

describe('POST /v1/consents group commit', () => {
  it('concurrent events are written together: one audit append for the group, each caller gets its own event', async () => {
    const t = await consentApp();
    const size = await t.deps.audit.size();
    const spy = vi.spyOn(t.deps.audit, 'appendMany');
    const bodies = [
      ...Array.from({ length: 27 }, (_, i) => grant(`p${i}@example.com`)),
      grant('same@example.com'),
      grant('same@example.com', 'targeted-ads'),
      { ...grant('same@example.com'), decision: 'withdrawn' },
    ];
    const res = await Promise.all(bodies.map((b) => t.post(b)));
    expect(res.map((r) => r.status)).toEqual(bodies.map(() => 201));
    // On SQLite every request reaches the writer in the same turn of the event loop; on
    // PostgreSQL their reads (the API key, the catalogue) answer over the network, at different
    // times, so they form a few groups.
    expect(spy.mock.calls.reduce((n, c) => n + c[1].length, 0)).toBe(30);
    if (TEST_STORE === 'sqlite') expect(spy).toHaveBeenCalledTimes(1);
    else expect(spy.mock.calls.length).toBeLessThan(30);
    // every caller got its own event; the three events of one person share one subject
    expect(new Set(res.map((r) => r.json.id)).size).toBe(30);
    const same = res.slice(27).map((r) => r.json.subjectId);
    expect(new Set(same).size).toBe(1);
    expect(await count(t.deps, 'subjects')).toBe(28);
    expect(await count(t.deps, 'consentEvents')).toBe(30);
    // events in the order they were written: the later of the grant and the withdrawal of the
    // same person wins. On SQLite that is arrival order (one turn of the event loop); on
    // PostgreSQL concurrent requests reach the writer in either order, which the log records.
    const written = async (i: number) => (await t.deps.db.consents.event(res[i]!.json.id))!.auditIdx;
    const newsletter = TEST_STORE === 'sqlite' || (await written(29)) > (await written(27)) ? 'withdrawn' : 'granted';
    const s = await t.get('/v1/subjects/email:same%40example.com/consents');
    expect(s.json.consents.map((c: { state: string }) => c.state)).toEqual([newsletter, 'granted']);
    // one audit entry per event, each pointing at its event, all in a tree that verifies
    const end = await t.deps.audit.size();
    expect(end).toBe(size + 30);
    const root = await t.deps.audit.root(end);
    for (const r of res) {
      const idx = (await t.deps.db.consents.event(r.json.id))!.auditIdx;
      const [e] = await t.deps.audit.entries(idx, 1);
      expect(JSON.parse(e!.entry).data.event).toBe(r.json.id);
      expect(verifyInclusion(leafHash(e!.entry), idx, end, await t.deps.audit.inclusionProof(idx, end), root)).toBe(true);
    }
  });

  it('an event that fails at write time fails alone: the others of its group are recorded, it leaves nothing', async () => {
    const t = await consentApp();
    const undo = await failInserts(t.deps.db, 'consent_events', "new.purpose_id = 'targeted-ads'");
    const size = await t.deps.audit.size();
    const bodies = [grant('a@example.com'), grant('b@example.com', 'targeted-ads'), grant('c@example.com'), grant('d@example.com')];
    const res = await Promise.all(bodies.map((b) => t.post(b)));
    await undo();
    expect(res.map((r) => r.status)).toEqual([201, 500, 201, 201]);
    expect(await count(t.deps, 'consentEvents')).toBe(3);
    expect(await count(t.deps, 'consentStates', (s) => eq(s.purposeId, 'targeted-ads'))).toBe(0);
    expect(await count(t.deps, 'subjectIdentifiers', (i) => eq(i.value, 'b@example.com'))).toBe(0);
    expect(await count(t.deps, 'outbox')).toBe(3);
    expect(await t.deps.audit.size()).toBe(size + 3);
  });

  it('a bad event is rejected before it joins a group; the good ones around it are recorded', async () => {
    const t = await consentApp();
    const res = await Promise.all([
      t.post(grant('a@example.com')),
      t.post(grant('a@example.com', 'no-such-purpose')),
      t.post({ ...grant('b@example.com'), subject: { type: 'email', value: 'not-an-email' } }),
      t.post(grant('c@example.com')),
    ]);
    expect(res.map((r) => r.status)).toEqual([201, 404, 400, 201]);
    expect(res[1]!.json.error.code).toBe('PURPOSE_NOT_FOUND');
    expect(res[2]!.json.error.code).toBe('INVALID_IDENTITY');
    expect(await count(t.deps, 'consentEvents')).toBe(2);
  });

  // SQLite's busy_timeout, and one group: on SQLite concurrent requests reach the writer in one
  // turn of the event loop; on PostgreSQL they may form several groups (see the first test).
  it.runIf(TEST_STORE === 'sqlite')('a store locked past busy_timeout fails the whole group at once, without replaying each event', async () => {
    const t = await consentApp();
    const busy = Object.assign(new Error('database is locked'), { code: 'SQLITE_BUSY' });
    const spy = vi.spyOn(t.deps.audit, 'appendMany').mockImplementationOnce(() => {
      throw busy;
    });
    const res = await Promise.all([t.post(grant('a@example.com')), t.post(grant('b@example.com')), t.post(grant('c@example.com'))]);
    expect(res.map((r) => r.status)).toEqual([500, 500, 500]);
    expect(spy).toHaveBeenCalledTimes(1);
    expect(await count(t.deps, 'consentEvents')).toBe(0);
    expect(await count(t.deps, 'subjects')).toBe(0);
    // the next group goes through
    expect((await t.post(grant('a@example.com'))).status).toBe(201);
  });
});
