import { describe, expect, it } from 'vitest';
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
import { TEST_STORE } from '../helpers/db.js';

const alice = normalizeIdentity({ type: 'email', value: ' Alice@Example.com ' });
const bob = { type: 'email', value: 'bob@example.com' };

describe(`subjects service (${TEST_STORE})`, () => {
  it('creates a subject on first sight and finds it again by identity', async () => {
    const deps = await createTestDeps();
    const ctx = systemCtx(deps);
    expect(await findSubjectIdByIdentity(deps.db, alice)).toBeUndefined();
    const id = await deps.db.tx((t) => ensureSubject(ctx, t, alice));
    expect(id).toMatch(/^sub_/);
    expect(await deps.db.tx((t) => ensureSubject(ctx, t, { type: 'email', value: 'alice@example.com' }))).toBe(id);
    expect(await findSubjectIdByIdentity(deps.db, alice)).toBe(id);
  });

  it('gives a stable keyed pseudonym that differs per subject and is not the identifier', async () => {
    const deps = await createTestDeps();
    const ctx = systemCtx(deps);
    const a = await deps.db.tx((t) => ensureSubject(ctx, t, alice));
    const b = await deps.db.tx((t) => ensureSubject(ctx, t, bob));
    const ref = await subjectRefOf(deps, deps.db, a);
    expect(ref).toMatch(/^sref_[A-Za-z0-9_-]{22}$/);
    expect(await subjectRefOf(deps, deps.db, a)).toBe(ref);
    expect(await subjectRefOf(deps, deps.db, b)).not.toBe(ref);
  });

  it('links identifiers and refuses one that belongs to someone else, or a forgotten person', async () => {
    const deps = await createTestDeps();
    const ctx = systemCtx(deps);
    const a = await deps.db.tx((t) => ensureSubject(ctx, t, alice));
    const b = await deps.db.tx((t) => ensureSubject(ctx, t, bob));
    const phone = normalizeIdentity({ type: 'phone', value: '06 12 34 56 78' });
    expect(await deps.db.tx((t) => linkIdentifier(ctx, t, a, phone))).toBe(true);
    expect(await deps.db.tx((t) => linkIdentifier(ctx, t, a, phone))).toBe(false);
    await expect(deps.db.tx((t) => linkIdentifier(ctx, t, b, phone))).rejects.toThrow(/another subject/);
    expect(await listIdentifiers(deps.db, a)).toEqual([alice, { type: 'phone', value: '+33612345678' }]);
    await deps.db.tx((t) => forgetSubject(ctx, t, b));
    await expect(deps.db.tx((t) => linkIdentifier(ctx, t, b, { type: 'customer_id', value: 'C-1' }))).rejects.toMatchObject({ code: 'SUBJECT_NOT_FOUND' });
  });

  it('forgetSubject erases identifiers and key, audits by pseudonym only, is idempotent, and a new consent starts a new subject', async () => {
    const deps = await createTestDeps();
    const ctx = systemCtx(deps);
    const a = await deps.db.tx((t) => ensureSubject(ctx, t, alice));
    const ref = await subjectRefOf(deps, deps.db, a);
    const before = await deps.audit.size();
    await deps.db.tx((t) => forgetSubject(ctx, t, a));
    expect(await deps.audit.size()).toBe(before + 1);
    const entry = (await deps.audit.entries(before, 1))[0]!.entry;
    expect(JSON.parse(entry)).toMatchObject({ type: 'subject.forgotten', subjectRef: ref });
    expect(entry).not.toContain('alice');
    expect(await findSubjectIdByIdentity(deps.db, alice)).toBeUndefined();
    await expect(subjectRefOf(deps, deps.db, a)).rejects.toThrow();
    expect(await deps.db.subjects.sealedKey(a)).toBeUndefined();
    await deps.db.tx((t) => forgetSubject(ctx, t, a));
    expect(await deps.audit.size()).toBe(before + 1);
    const again = await deps.db.tx((t) => ensureSubject(ctx, t, alice));
    expect(again).not.toBe(a);
    expect(await subjectRefOf(deps, deps.db, again)).not.toBe(ref);
  });
});
