import { describe, expect, it } from 'vitest';
import { writeTx } from '../../src/db/client.js';
import { normalizeIdentity } from '../../src/identity.js';
import {
  ensureSubject,
  findSubjectIdByIdentity,
  forgetSubject,
  linkIdentifier,
  listIdentifiers,
  subjectRefOf,
} from '../../src/subjects/service.js';
import { createTestDeps, systemCtx } from '../helpers/deps.js';

const alice = normalizeIdentity({ type: 'email', value: ' Alice@Example.com ' });

describe('subjects service', () => {
  it('creates a subject on first sight and finds it again by identity', () => {
    const deps = createTestDeps();
    const ctx = systemCtx(deps);
    expect(findSubjectIdByIdentity(deps.db, alice)).toBeUndefined();
    const id = writeTx(deps.db, () => ensureSubject(ctx, alice));
    expect(id).toMatch(/^sub_/);
    expect(writeTx(deps.db, () => ensureSubject(ctx, { type: 'email', value: 'alice@example.com' }))).toBe(id);
    expect(findSubjectIdByIdentity(deps.db, alice)).toBe(id);
  });

  it('gives a stable keyed pseudonym that differs per subject and is not the identifier', () => {
    const deps = createTestDeps();
    const ctx = systemCtx(deps);
    const a = writeTx(deps.db, () => ensureSubject(ctx, alice));
    const b = writeTx(deps.db, () => ensureSubject(ctx, { type: 'email', value: 'bob@example.com' }));
    const ref = subjectRefOf(deps, a);
    expect(ref).toMatch(/^sref_[A-Za-z0-9_-]{22}$/);
    expect(subjectRefOf(deps, a)).toBe(ref);
    expect(subjectRefOf(deps, b)).not.toBe(ref);
  });

  it('links identifiers and refuses one that belongs to someone else', () => {
    const deps = createTestDeps();
    const ctx = systemCtx(deps);
    const a = writeTx(deps.db, () => ensureSubject(ctx, alice));
    const b = writeTx(deps.db, () => ensureSubject(ctx, { type: 'email', value: 'bob@example.com' }));
    const phone = normalizeIdentity({ type: 'phone', value: '06 12 34 56 78' });
    expect(writeTx(deps.db, () => linkIdentifier(ctx, a, phone))).toBe(true);
    expect(writeTx(deps.db, () => linkIdentifier(ctx, a, phone))).toBe(false);
    expect(() => writeTx(deps.db, () => linkIdentifier(ctx, b, phone))).toThrow(/another subject/);
    expect(listIdentifiers(deps.db, a)).toEqual([alice, { type: 'phone', value: '+33612345678' }]);
  });

  it('forgetSubject erases identifiers and key, audits by pseudonym only, is idempotent, and a new consent starts a new subject', () => {
    const deps = createTestDeps();
    const ctx = systemCtx(deps);
    const a = writeTx(deps.db, () => ensureSubject(ctx, alice));
    const ref = subjectRefOf(deps, a);
    const before = deps.audit.size();
    writeTx(deps.db, () => forgetSubject(ctx, a));
    expect(deps.audit.size()).toBe(before + 1);
    const entry = deps.audit.entries(before, 1)[0]!.entry;
    expect(JSON.parse(entry)).toMatchObject({ type: 'subject.forgotten', subjectRef: ref });
    expect(entry).not.toContain('alice');
    expect(findSubjectIdByIdentity(deps.db, alice)).toBeUndefined();
    expect(() => subjectRefOf(deps, a)).toThrow();
    expect(deps.db.$client.prepare('select count(*) from subject_keys where subject_id = ?').pluck().get(a)).toBe(0);
    writeTx(deps.db, () => forgetSubject(ctx, a));
    expect(deps.audit.size()).toBe(before + 1);
    const again = writeTx(deps.db, () => ensureSubject(ctx, alice));
    expect(again).not.toBe(a);
    expect(subjectRefOf(deps, again)).not.toBe(ref);
  });
});
