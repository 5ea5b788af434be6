import { describe, expect, it } from 'vitest';
import { createTestApp, systemCtx } from '../helpers/deps.js';
import { bearer, call } from '../helpers/http.js';
import { adminOf } from '../helpers/admin-sql.js';
import { DEMO_CONSENT_PEOPLE, DEMO_PURPOSES, seedConsentDemo } from '../../src/demo/consent-seed.js';
import { demoCustomer } from '../../connectors/demo/index.js';
import { findSubjectIdByIdentity, forgetSubject } from '../../src/subjects/service.js';

describe('consent demo seed', () => {
  it('seeds the catalogue and consents of the demo customers, once; an erased person stays erased at the next start', async () => {
    const { app, deps } = await createTestApp();
    deps.clock.set(Date.parse('2026-11-24T00:00:00Z'));
    const ctx = systemCtx(deps);
    const first = await seedConsentDemo(ctx);
    expect(first.purposesCreated).toBe(DEMO_PURPOSES.length);
    expect(first.events).toBeGreaterThan(DEMO_CONSENT_PEOPLE);
    const auth = await bearer(deps, ['consents:read', 'admin']);
    const list = await call(app, 'GET', '/v1/purposes', { headers: auth });
    expect(list.json.purposes.map((p: { id: string }) => p.id).sort()).toEqual(DEMO_PURPOSES.map((p) => p.id).sort());
    expect(list.json.purposes[0].title).toHaveProperty('fr');

    const c1 = demoCustomer(1);
    const s = await call(app, 'GET', `/v1/subjects/email:${encodeURIComponent(c1.email)}/consents`, { headers: auth });
    expect(s.json.subjectId).toMatch(/^sub_/);
    expect(s.json.consents.some((c: { state: string }) => c.state !== 'unknown')).toBe(true);
    const byPhone = await call(app, 'GET', `/v1/subjects/phone:${encodeURIComponent(c1.phone)}/consents`, { headers: auth });
    expect(byPhone.json.subjectId).toBe(s.json.subjectId);

    await deps.db.tx((t) => forgetSubject(ctx, t, s.json.subjectId));
    const sql = adminOf(deps.db);
    const events = await sql.value('select count(*) from consent_events');
    const again = await seedConsentDemo(ctx);
    expect(again).toEqual({ purposesCreated: 0, events: 0 });
    expect(await sql.value('select count(*) from consent_events')).toBe(events);
    expect(await findSubjectIdByIdentity(deps.db, { type: 'email', value: c1.email })).toBeUndefined();
  });
});
