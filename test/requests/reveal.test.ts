/**
 * A system told of a request by id only (webhooks carry no identity) asks for one identity in
 * clear: with requests:verify, one at a time, audited without the value; gone once destroyed.
 */
import { describe, expect, it } from 'vitest';
import { engineHarness } from '../engine/helpers.js';
import { bearer, call } from '../helpers/http.js';
import { ALICE, syntheticSilos } from '../helpers/synthetic-connector.js';

describe('POST /v1/requests/{id}/identities/{identityId}/reveal', () => {
  it('answers the value to requests:verify, audits who and which (never the value); 403 without the scope; 404 unknown; 410 once destroyed', async () => {
    const h = await engineHarness(syntheticSilos([ALICE]).all);
    const id = await h.submit('erasure', [{ type: 'email', value: ALICE.email }]);
    const view = await h.api('GET', `/v1/requests/${id}`);
    const email = view.json.identities.find((i: { type: string }) => i.type === 'email');
    expect(email.value).not.toBe(ALICE.email); // masked in the view
    const reveal = (identityId: number | string, headers = h.auth) => call(h.app, 'POST', `/v1/requests/${id}/identities/${identityId}/reveal`, { headers });

    const r = await reveal(email.id);
    expect(r.status, r.text).toBe(200);
    expect(r.json).toEqual({ id: email.id, type: 'email', value: ALICE.email });
    expect(r.headers.get('cache-control')).toBe('no-store');
    const entries = await h.auditData('request.identity_revealed');
    expect(entries).toHaveLength(1);
    expect(entries[0]!.data).toEqual({ identity: email.id, type: 'email' });
    expect(entries[0]!.text).not.toContain(ALICE.email);

    const reader = { authorization: (await bearer(h.deps, ['requests:read'])).authorization };
    expect((await reveal(email.id, reader)).status).toBe(403);
    expect((await reveal(999)).status).toBe(404);
    expect((await reveal('0')).status).toBe(400);
    expect((await call(h.app, 'POST', `/v1/requests/req_01jabcdefghjkmnpqrstvwxyz0/identities/1/reveal`, { headers: h.auth })).status).toBe(404);

    await h.engine.runUntilIdle();
    expect((await h.api('GET', `/v1/requests/${id}`)).json.status).toBe('completed');
    // A completed erasure destroys the values it was given.
    expect(await h.identityValues(id)).toBe(0);
    const gone = await reveal(email.id);
    expect(gone.status).toBe(410);
    expect(gone.json.error.code).toBe('IDENTITY_DESTROYED');
    expect((await h.auditData('request.identity_revealed'))).toHaveLength(1);
  });
});
