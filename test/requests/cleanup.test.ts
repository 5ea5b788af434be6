/**
 * What a request leaves behind: identity values of closed requests, registry subjects of
 * unproven claims, and the leftovers of an interrupted export build.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ALICE, BOB, syntheticSilos } from '../helpers/synthetic-connector.js';
import { engineHarness, type Harness } from '../engine/helpers.js';
import { adminOf } from '../helpers/admin-sql.js';

const DAY = 86_400_000;

describe('closed requests keep identity values only for OUBLI_CLOSED_REQUEST_RETENTION_DAYS', () => {
  const values = (h: Harness, id: string) => h.identityValues(id);

  it('cancelled, denied and expired requests lose their identity values after the retention (30 days by default), audited', async () => {
    const h = await engineHarness(syntheticSilos([ALICE]).all);
    const open = async (email: string) => (await h.api('POST', '/v1/requests', { type: 'access', identities: [{ type: 'email', value: email }, { type: 'phone', value: '+33612345678' }] })).json.id as string;
    const cancelled = await open('c@example.com');
    const denied = await open('d@example.com');
    const expired = await open('e@example.com');
    expect((await h.api('POST', `/v1/requests/${cancelled}/cancel`)).status).toBe(200);
    expect((await h.dpo('POST', `/v1/requests/${denied}/deny`, { reasonCode: 'identity_not_verified', reason: 'no answer to the code' })).status).toBe(200);
    h.deps.clock.advance(32 * DAY);
    await h.engine.sweep(); // never verified within its month: `expired` closes now
    expect((await h.api('GET', `/v1/requests/${expired}`)).json.status).toBe('expired');
    // 32 days after closing, cancelled and denied are past the retention; expired just closed.
    expect([await values(h, cancelled), await values(h, denied), await values(h, expired)]).toEqual([0, 0, 2]);
    expect((await h.auditData('request.identities_destroyed')).map((e) => e.requestId).sort()).toEqual([cancelled, denied].sort());
    expect((await h.auditData('request.identities_destroyed'))[0]!.data).toEqual({ identities: 2, after: 'retention' });
    h.deps.clock.advance(29 * DAY);
    await h.engine.sweep();
    expect(await values(h, expired)).toBe(2);
    h.deps.clock.advance(2 * DAY);
    await h.engine.sweep();
    expect(await values(h, expired)).toBe(0);
    // The masked forms stay for the DPO's view.
    expect((await h.api('GET', `/v1/requests/${cancelled}`)).json.identities.map((i: { value: string }) => i.value)).toEqual(['c***@example.com', '+33*******78']);
  });

  it('OUBLI_CLOSED_REQUEST_RETENTION_DAYS=0 destroys them at the next sweep; a request still open keeps them', async () => {
    const h = await engineHarness(syntheticSilos([ALICE]).all, { env: { OUBLI_CLOSED_REQUEST_RETENTION_DAYS: '0' } });
    const a = (await h.api('POST', '/v1/requests', { type: 'erasure', identities: [{ type: 'email', value: ALICE.email }] })).json.id as string;
    const b = (await h.api('POST', '/v1/requests', { type: 'erasure', identities: [{ type: 'email', value: BOB.email }] })).json.id as string;
    await h.api('POST', `/v1/requests/${a}/cancel`);
    h.deps.clock.advance(1);
    await h.engine.sweep();
    expect(await values(h, a)).toBe(0);
    expect(await values(h, b)).toBe(1);
  });

  it('an unverified request never creates a registry subject; it is created when the request is verified', async () => {
    const h = await engineHarness(syntheticSilos([ALICE]).all);
    const subjects = async () => Number(await adminOf(h.deps.db).value('select count(*) from subjects'));
    const a = (await h.api('POST', '/v1/requests', { type: 'erasure', identities: [{ type: 'email', value: 'nobody@example.com' }] })).json.id as string;
    expect(await subjects()).toBe(0);
    h.deps.clock.advance(40 * DAY);
    await h.engine.sweep();
    expect((await h.api('GET', `/v1/requests/${a}`)).json.status).toBe('expired');
    expect(await subjects()).toBe(0);
    const b = (await h.api('POST', '/v1/requests', { type: 'access', identities: [{ type: 'email', value: ALICE.email }] })).json.id as string;
    expect(await subjects()).toBe(0);
    await h.api('POST', `/v1/requests/${b}/verify`);
    expect(await subjects()).toBe(1);
    expect((await h.deps.db.requests.get(b))!.subjectId).toMatch(/^sub_/);
  });
});

describe('the sweep removes the leftovers of an interrupted export build', () => {
  it('work dirs and temp files of requests not being finalized go; those of a build in progress stay', async () => {
    const silos = syntheticSilos([ALICE]);
    silos.newsletter.setDown(true);
    const h = await engineHarness(silos.all, { engine: { maxAttempts: 1 } });
    const live = await h.submit('access', [{ type: 'email', value: ALICE.email }]);
    await h.engine.runUntilIdle();
    expect((await h.api('GET', `/v1/requests/${live}`)).json.status).toBe('needs_attention');
    const building = await h.submit('access', [{ type: 'email', value: BOB.email }]);
    await adminOf(h.deps.db).run("update requests set stage = 'finalize' where id = ?", building);
    const dir = join(h.deps.config.dataDir, 'exports');
    const task = (await h.deps.db.tasks.ofRequest(live)).find((t) => t.status === 'done')!.id;
    const leftovers = {
      deadBuild: join(dir, `.build-${live}-0a1b2c3d`),
      orphanBuild: join(dir, '.build-req_00000000000000000000000000-deadbeef'),
      zipTmp: join(dir, `${live}.zip.0badc0de.tmp`),
      spoolTmp: join(dir, live, `${task}.ndjson.tmp`),
    };
    const kept = { liveBuild: join(dir, `.build-${building}-12345678`), liveZipTmp: join(dir, `${building}.zip.87654321.tmp`), spool: join(dir, live, `${task}.ndjson`) };
    for (const d of [leftovers.deadBuild, leftovers.orphanBuild, kept.liveBuild]) {
      mkdirSync(d, { recursive: true });
      writeFileSync(join(d, 'data.json'), JSON.stringify({ email: ALICE.email }));
    }
    for (const f of [leftovers.zipTmp, leftovers.spoolTmp, kept.liveZipTmp]) writeFileSync(f, ALICE.email);
    expect(existsSync(kept.spool)).toBe(true);
    await h.engine.sweep();
    for (const [name, p] of Object.entries(leftovers)) expect(existsSync(p), name).toBe(false);
    for (const [name, p] of Object.entries(kept)) expect(existsSync(p), name).toBe(true);
  });
});
