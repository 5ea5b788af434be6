import { describe, expect, it } from 'vitest';
import { createTestApp, systemCtx } from '../helpers/deps.js';
import { bearer, call } from '../helpers/http.js';
import { writeTx } from '../../src/db/client.js';
import { DEMO_CONSENT_PEOPLE, DEMO_PURPOSES, seedConsentDemo } from '../../src/consent/demo-seed.js';
import { demoCustomer } from '../../connectors/demo/index.js';
import { findSubjectIdByIdentity, forgetSubject } from '../../src/subjects/service.js';

describe('consent demo seed', () => {
  it('seeds the catalogue and consents of the demo customers, once; an erased person stays erased at the next start', async () => {
    const { app, deps } = createTestApp();
    deps.clock.set(Date.parse('2026-11-24T00:00:00Z'));
    const ctx = systemCtx(deps);
    const first = await seedConsentDemo(ctx);
    expect(first.purposesCreated).toBe(DEMO_PURPOSES.length);
    expect(first.events).toBeGreaterThan(DEMO_CONSENT_PEOPLE);
    const auth = bearer(deps, ['consents:read', 'admin']);
    const list = await call(app, 'GET', '/v1/purposes', { headers: auth });
    expect(list.json.purposes.map((p: { id: string }) => p.id).sort()).toEqual(DEMO_PURPOSES.map((p) => p.id).sort());
    expect(list.json.purposes[0].title).toHaveProperty('fr');

    const c1 = demoCustomer(1);
    const s = await call(app, 'GET', `/v1/subjects/email:${encodeURIComponent(c1.email)}/consents`, { headers: auth });
    expect(s.json.subjectId).toMatch(/^sub_/);
    expect(s.json.consents.some((c: { state: string }) => c.state !== 'unknown')).toBe(true);
    const byPhone = await call(app, 'GET', `/v1/subjects/phone:${encodeURIComponent(c1.phone)}/consents`, { headers: auth });
    expect(byPhone.json.subjectId).toBe(s.json.subjectId);

    writeTx(deps.db, () => forgetSubject(ctx, s.json.subjectId));
    const events = deps.db.$client.prepare('select count(*) from consent_events').pluck().get();
    const again = await seedConsentDemo(ctx);
    expect(again).toEqual({ purposesCreated: 0, events: 0 });
    expect(deps.db.$client.prepare('select count(*) from consent_events').pluck().get()).toBe(events);
    expect(findSubjectIdByIdentity(deps.db, { type: 'email', value: c1.email })).toBeUndefined();
  });
});
