/**
 * The judgement of identity expansion (src/requests/review.ts), on hand-made evidence: what is a
 * contradiction, whom it puts under review, what a decision settles, and that the outcome does
 * not depend on the order in which silos answered.
 */
import { describe, expect, it } from 'vitest';
import { DEFAULT_UNIQUE_TYPES, reviewIdentities, type Evidence, type ReviewIdentity } from '../../src/requests/review.js';

const UNIQUE = new Set(DEFAULT_UNIQUE_TYPES);
const given = (id: number, type: string): ReviewIdentity => ({ id, type, given: true, decision: null, weak: false });
const found = (id: number, type: string, extra: Partial<ReviewIdentity> = {}): ReviewIdentity => ({ id, type, given: false, decision: null, weak: false, ...extra });
const states = (v: ReturnType<typeof reviewIdentities>) => Object.fromEntries([...v].map(([id, x]) => [id, x.state]));

// 1 email (given) → shop: 2 customer id, 3 phone. Round 2, the phone → 4 another email, 5 another customer id; → 6 a loyalty card.
const ids = [given(1, 'email'), found(2, 'customer_id'), found(3, 'phone'), found(4, 'email'), found(5, 'customer_id'), found(6, 'loyalty_card')];
const evidence: Evidence[] = [
  { round: 1, connector: 'shop', searched: [1], found: [{ id: 2, type: 'customer_id', by: [1] }, { id: 3, type: 'phone', by: [1] }] },
  { round: 2, connector: 'shop', searched: [1, 2, 3], found: [{ id: 4, type: 'email', by: [3] }, { id: 5, type: 'customer_id', by: [3] }] },
  { round: 2, connector: 'loyalty', searched: [3], found: [{ id: 6, type: 'loyalty_card', by: [3] }] },
];

describe('reviewIdentities', () => {
  it('a record reached through a discovered phone holding another email and customer id: the phone, both values and what the phone alone led to wait for the DPO', () => {
    const v = reviewIdentities(ids, evidence, UNIQUE);
    expect(states(v)).toEqual({ 1: 'included', 2: 'included', 3: 'pending', 4: 'pending', 5: 'pending', 6: 'pending' });
    expect(v.get(3)!.why).toMatchObject({ code: 'leads_to_conflict', round: 2, connector: 'shop' });
    expect(v.get(3)!.why.via!.sort()).toEqual([4, 5]);
    expect(v.get(4)!.why).toEqual({ code: 'identity_conflict', conflictingType: 'email', connector: 'shop', round: 2, via: [3] });
    expect(v.get(6)!.why).toEqual({ code: 'through_pending', via: [3] });
    expect(v.get(2)!.why).toEqual({ code: 'followed', connector: 'shop', round: 1, via: [1] });
  });

  it('does not depend on the order in which the silos answered', () => {
    const a = reviewIdentities(ids, evidence, UNIQUE);
    const b = reviewIdentities([...ids].reverse(), [...evidence].reverse().map((e) => ({ ...e, found: [...e.found].reverse() })), UNIQUE);
    expect(states(b)).toEqual(states(a));
  });

  it('excluding the phone excludes what it alone led to; including it takes its records as the person’s', () => {
    const excluded = reviewIdentities(ids.map((i) => (i.id === 3 ? { ...i, decision: 'exclude' as const } : i)), evidence, UNIQUE);
    expect(states(excluded)).toEqual({ 1: 'included', 2: 'included', 3: 'excluded', 4: 'excluded', 5: 'excluded', 6: 'excluded' });
    expect(excluded.get(4)!.why).toEqual({ code: 'through_excluded', via: [3] });
    const included = reviewIdentities(ids.map((i) => (i.id === 3 ? { ...i, decision: 'include' as const } : i)), evidence, UNIQUE);
    expect(states(included)).toEqual({ 1: 'included', 2: 'included', 3: 'included', 4: 'included', 5: 'included', 6: 'included' });
  });

  it('what a given email led to is the person’s, whatever it holds; a given phone is evidence, not proof', () => {
    // The email leads to two accounts with different customer ids: both are the person's.
    const two: Evidence[] = [{ round: 1, connector: 'shop', searched: [1], found: [{ id: 2, type: 'customer_id', by: [1] }, { id: 3, type: 'customer_id', by: [1] }] }];
    expect(states(reviewIdentities([given(1, 'email'), found(2, 'customer_id'), found(3, 'customer_id')], two, UNIQUE))).toEqual({ 1: 'included', 2: 'included', 3: 'included' });
    // A given phone leading to two accounts: which one is theirs? Both, and the phone, wait.
    const phone: Evidence[] = [{ round: 1, connector: 'shop', searched: [1], found: [{ id: 2, type: 'email', by: [1] }, { id: 3, type: 'email', by: [1] }] }];
    const v = reviewIdentities([given(1, 'phone'), found(2, 'email'), found(3, 'email')], phone, UNIQUE);
    expect(states(v)).toEqual({ 1: 'pending', 2: 'pending', 3: 'pending' });
    // Declared person-unique by the deployment, the same phone proves the person.
    expect(states(reviewIdentities([given(1, 'phone'), found(2, 'email'), found(3, 'email')], phone, new Set([...UNIQUE, 'phone'])))).toEqual({ 1: 'included', 2: 'included', 3: 'included' });
  });

  it('a connector that does not say which identity led where: one contradiction puts every discovered identity of the call under review', () => {
    const unattributed: Evidence[] = [
      evidence[0]!,
      { round: 2, connector: 'shop', searched: [1, 2, 3], found: [{ id: 4, type: 'email', by: null }] },
    ];
    const v = reviewIdentities(ids.slice(0, 4), unattributed, UNIQUE);
    expect(states(v)).toEqual({ 1: 'included', 2: 'pending', 3: 'pending', 4: 'pending' });
    // Had every identity of the call been an anchor, its findings would be trusted.
    const trusted = reviewIdentities(ids.slice(0, 4), [{ round: 1, connector: 'shop', searched: [1], found: [{ id: 4, type: 'email', by: null }] }], UNIQUE);
    expect(trusted.get(4)!.state).toBe('included');
  });

  it('a value over the identity limit (not recorded) still contradicts; weak links are included and never lead anywhere', () => {
    const v = reviewIdentities(ids.slice(0, 3), [evidence[0]!, { round: 2, connector: 'crm', searched: [3], found: [{ id: null, type: 'customer_id', by: [3] }] }], UNIQUE);
    expect(v.get(3)!.state).toBe('pending');
    const weak = reviewIdentities([given(1, 'email'), found(3, 'phone', { weak: true })], [{ round: 1, connector: 'shop', searched: [1], found: [{ id: 3, type: 'phone', by: [1] }] }], UNIQUE);
    expect(weak.get(3)).toMatchObject({ state: 'included', why: { code: 'weak_link' } });
  });

  it('depth counts findings from what the person gave', () => {
    const chain: Evidence[] = [1, 2, 3].map((r) => ({ round: r, connector: 'c', searched: [r], found: [{ id: r + 1, type: 'device_id', by: [r] }] }));
    const v = reviewIdentities([given(1, 'device_id'), found(2, 'device_id'), found(3, 'device_id'), found(4, 'device_id')], chain, UNIQUE);
    expect([1, 2, 3, 4].map((id) => v.get(id)!.depth)).toEqual([0, 1, 2, 3]);
  });
});
