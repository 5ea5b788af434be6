import { describe, expect, it, vi } from 'vitest';
import { leafHash, verifyInclusion } from '../../src/audit/verify.js';
import { consentApp, count, grant } from './helpers.js';

describe('POST /v1/consents group commit', () => {
  it('concurrent events are written together: one audit append for the group, each caller gets its own event', async () => {
    const t = await consentApp();
    const size = t.deps.audit.size();
    const spy = vi.spyOn(t.deps.audit, 'appendMany');
    const bodies = [
      ...Array.from({ length: 27 }, (_, i) => grant(`p${i}@example.com`)),
      grant('same@example.com'),
      grant('same@example.com', 'targeted-ads'),
      { ...grant('same@example.com'), decision: 'withdrawn' },
    ];
    const res = await Promise.all(bodies.map((b) => t.post(b)));
    expect(res.map((r) => r.status)).toEqual(bodies.map(() => 201));
    expect(spy).toHaveBeenCalledTimes(1);
    expect(spy.mock.calls[0]![0]).toHaveLength(30);
    // every caller got its own event; the three events of one person share one subject
    expect(new Set(res.map((r) => r.json.id)).size).toBe(30);
    const same = res.slice(27).map((r) => r.json.subjectId);
    expect(new Set(same).size).toBe(1);
    expect(count(t.deps, 'select count(*) from subjects')).toBe(28);
    expect(count(t.deps, 'select count(*) from consent_events')).toBe(30);
    // events in arrival order: the later withdrawal of the same person wins
    const s = await t.get('/v1/subjects/email:same%40example.com/consents');
    expect(s.json.consents.map((c: { state: string }) => c.state)).toEqual(['withdrawn', 'granted']);
    // one audit entry per event, each pointing at its event, all in a tree that verifies
    expect(t.deps.audit.size()).toBe(size + 30);
    const end = t.deps.audit.size();
    const root = t.deps.audit.root(end);
    for (const r of res) {
      const idx = count(t.deps, 'select audit_idx from consent_events where id = ?', r.json.id);
      const [e] = t.deps.audit.entries(idx, 1);
      expect(JSON.parse(e!.entry).data.event).toBe(r.json.id);
      expect(verifyInclusion(leafHash(e!.entry), idx, end, t.deps.audit.inclusionProof(idx, end), root)).toBe(true);
    }
  });

  it('an event that fails at write time fails alone: the others of its group are recorded, it leaves nothing', async () => {
    const t = await consentApp();
    t.deps.db.$client.exec(
      "create trigger ads_down before insert on consent_events when new.purpose_id = 'targeted-ads' begin select raise(abort, 'ads down'); end",
    );
    const size = t.deps.audit.size();
    const bodies = [grant('a@example.com'), grant('b@example.com', 'targeted-ads'), grant('c@example.com'), grant('d@example.com')];
    const res = await Promise.all(bodies.map((b) => t.post(b)));
    expect(res.map((r) => r.status)).toEqual([201, 500, 201, 201]);
    expect(count(t.deps, 'select count(*) from consent_events')).toBe(3);
    expect(count(t.deps, "select count(*) from consent_states where purpose_id = 'targeted-ads'")).toBe(0);
    expect(count(t.deps, "select count(*) from subject_identifiers where value = 'b@example.com'")).toBe(0);
    expect(count(t.deps, 'select count(*) from outbox')).toBe(3);
    expect(t.deps.audit.size()).toBe(size + 3);
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
    expect(count(t.deps, 'select count(*) from consent_events')).toBe(2);
  });

  it('a store locked past busy_timeout fails the whole group at once, without replaying each event', async () => {
    const t = await consentApp();
    const busy = Object.assign(new Error('database is locked'), { code: 'SQLITE_BUSY' });
    const spy = vi.spyOn(t.deps.audit, 'appendMany').mockImplementationOnce(() => {
      throw busy;
    });
    const res = await Promise.all([t.post(grant('a@example.com')), t.post(grant('b@example.com')), t.post(grant('c@example.com'))]);
    expect(res.map((r) => r.status)).toEqual([500, 500, 500]);
    expect(spy).toHaveBeenCalledTimes(1);
    expect(count(t.deps, 'select count(*) from consent_events')).toBe(0);
    expect(count(t.deps, 'select count(*) from subjects')).toBe(0);
    // the next group goes through
    expect((await t.post(grant('a@example.com'))).status).toBe(201);
  });
});
