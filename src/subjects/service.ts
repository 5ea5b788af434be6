/**
 * People (`sub_…`) and their identifiers, shared by the consent registry and data-subject
 * requests. Verbs that change anything take the caller's transaction `t`; reads take any handle
 * (`ctx.db`, or `t` to see the transaction's own writes).
 *
 * Invariants:
 * - an identifier (type, normalized value) belongs to at most one person;
 * - an erased person keeps only a tombstone row: no identifier, key, consent or state, so a
 *   new consent for the same email starts a new person and nothing of the old one comes back;
 * - audit entries name people by `subjectRef` only, an HMAC under the person's own key, which
 *   erasure destroys; that key is stored sealed under the master key (src/subjects/key-seal.ts).
 */
import { createHmac, randomBytes } from 'node:crypto';
import type { Stores } from '../db/handle.js';
import type { Ctx, Deps } from '../deps.js';
import type { Identity } from '../identity.js';
import type { Subject } from '../db/schema/subjects.js';
import { AppError, ConflictError, NotFoundError } from '../errors.js';
import { openSubjectKey, sealSubjectKey, SubjectKeyError } from './key-seal.js';

/** What reading a person's pseudonym key needs: the master key. */
export type KeyCtx = Pick<Deps, 'secrets'>;

/** Existing (not erased) subject holding this normalized identity, if any. */
export function findSubjectIdByIdentity(h: Stores, identity: Identity): Promise<string | undefined> {
  return h.subjects.idByIdentity(identity);
}

/** The subject row, or undefined; erased subjects come back with `erasedAt` set. */
export function getSubject(h: Stores, subjectId: string): Promise<Subject | undefined> {
  return h.subjects.get(subjectId);
}

/** A live subject or NotFoundError SUBJECT_NOT_FOUND (erased subjects count as gone). */
export async function requireLiveSubject(h: Stores, subjectId: string): Promise<string> {
  const row = await getSubject(h, subjectId);
  if (!row || row.erasedAt !== null) throw new NotFoundError('SUBJECT_NOT_FOUND', 'no such subject');
  return row.id;
}

/** Normalized identifiers of a subject, oldest first. */
export function listIdentifiers(h: Stores, subjectId: string): Promise<Identity[]> {
  return h.subjects.identifiers(subjectId);
}

/**
 * Creates a new subject holding just `identity` (which must be free), and gives its subjectRef
 * from the key just drawn (the consent write path then need not open it).
 */
export async function createSubject(ctx: Ctx, t: Stores, identity: Identity): Promise<{ subjectId: string; subjectRef: string }> {
  const subjectId = ctx.ids('sub');
  const key = randomBytes(32);
  await t.subjects.insert({ id: subjectId, createdAt: ctx.now(), sealedKey: sealSubjectKey(ctx.secrets.masterKey, subjectId, key), identity });
  return { subjectId, subjectRef: subjectRefFromKey(key) };
}

/**
 * Existing subject for the identity, or a new `sub_…` holding just it. Two instances meeting a
 * new person at once make one subject: the identity is locked before it is looked up.
 */
export async function ensureSubject(ctx: Ctx, t: Stores, identity: Identity): Promise<string> {
  await lockIdentity(ctx, t, identity);
  return (await findSubjectIdByIdentity(t, identity)) ?? (await createSubject(ctx, t, identity)).subjectId;
}

/** Serialises, across instances, whoever looks up and then creates the holder of `identity`. */
export function lockIdentity(ctx: Pick<Ctx, 'db'>, t: Stores, identity: Identity): Promise<void> {
  return ctx.db.lock(t, `identity:${identity.type}:${identity.value}`);
}

/**
 * Links another identifier to a live subject. Idempotent when it already belongs to that
 * subject; 409 IDENTIFIER_CONFLICT when it belongs to someone else. True when a link was added.
 */
export async function linkIdentifier(ctx: Ctx, t: Stores, subjectId: string, identity: Identity): Promise<boolean> {
  await lockIdentity(ctx, t, identity);
  const owner = await findSubjectIdByIdentity(t, identity);
  if (owner === subjectId) return false;
  if (owner !== undefined) throw new ConflictError('IDENTIFIER_CONFLICT', `this ${identity.type} already belongs to another subject`);
  await t.subjects.insertIdentifier(subjectId, identity, ctx.now());
  return true;
}

/**
 * Links another identifier to the person holding `subjectId` (POST /v1/subjects/{id}/identifiers),
 * in one transaction with its audit entry — which names the identifier's TYPE only, never its
 * value. Answers whether a link was added, and nothing else about the person: a caller that may
 * write consents may not thereby read the person's other identifiers.
 */
export function linkSubjectIdentifier(ctx: Ctx, subjectId: string, identity: Identity): Promise<{ subjectId: string; linked: boolean }> {
  return ctx.db.tx(async (t) => {
    await requireLiveSubject(t, subjectId);
    const linked = await linkIdentifier(ctx, t, subjectId, identity);
    if (linked) {
      await ctx.audit.append(t, {
        type: 'subject.identifier_linked',
        actor: ctx.actor,
        subjectRef: await subjectRefOf(ctx, t, subjectId),
        data: { identifierType: identity.type },
      });
    }
    return { subjectId, linked };
  });
}

/** HMAC of the subject's own key; the same derivation in subjectRefOf and bulk loaders. */
export function subjectRefFromKey(key: Buffer): string {
  return `sref_${createHmac('sha256', key).update('oubli/subject-ref/v1').digest('base64url').slice(0, 22)}`;
}

/** The person's pseudonym key, opened with the master key; undefined once forgotten. */
export async function readSubjectKey(ctx: KeyCtx, h: Stores, subjectId: string): Promise<Buffer | undefined> {
  const sealed = await h.subjects.sealedKey(subjectId);
  return sealed && openSubjectKey(ctx.secrets.masterKey, subjectId, sealed);
}

/** Keyed pseudonym for audit entries ('sref_…'): HMAC with that subject's OWN random key. Stable until the subject is forgotten. */
export async function subjectRefOf(ctx: KeyCtx, h: Stores, subjectId: string): Promise<string> {
  const key = await readSubjectKey(ctx, h, subjectId);
  if (!key) throw new NotFoundError('SUBJECT_NOT_FOUND', 'no such subject (or it was erased)');
  return subjectRefFromKey(key);
}

/**
 * At start-up, before serving: seals the keys an older version stored in clear (32 bytes), in
 * one transaction, and checks that the master key opens the stored keys — a lost or changed
 * master key (another `secrets/master.key`, a wrong OUBLI_MASTER_KEY) stops start-up here with
 * a clear message instead of failing every consent write. Returns how many keys were sealed.
 */
export async function prepareSubjectKeys(ctx: KeyCtx & Pick<Deps, 'db'>): Promise<number> {
  const sealed = await ctx.db.tx(async (t) => {
    const plain = await t.subjects.keysOfLength(32);
    for (const row of plain) await t.subjects.replaceKey(row.subjectId, sealSubjectKey(ctx.secrets.masterKey, row.subjectId, row.key));
    return plain.length;
  });
  const sample = await ctx.db.subjects.anyKey();
  if (sample) {
    try {
      openSubjectKey(ctx.secrets.masterKey, sample.subjectId, sample.key);
    } catch (err) {
      if (!(err instanceof SubjectKeyError)) throw err;
      throw new AppError(
        'MASTER_KEY_MISMATCH',
        'the master key does not open the pseudonym keys in this database: restore the secrets/master.key, or set the OUBLI_MASTER_KEY, they were sealed with',
      );
    }
  }
  return sealed;
}

/**
 * GDPR erasure of the registry's copy, in the caller's transaction: deletes the subject's
 * identifiers, consent ledger and current-state rows, destroys its pseudonym key (so old audit
 * entries stop pointing at anyone), marks the subject erased, appends audit 'subject.forgotten'
 * (subjectRef only). Idempotent: an unknown or already erased subject is left alone. The caller
 * checkpoints the database after its transaction commits (`db.checkpoint()`), so that the
 * deleted rows and key do not linger in the write-ahead log.
 */
export async function forgetSubject(ctx: Ctx, t: Stores, subjectId: string): Promise<void> {
  const key = await readSubjectKey(ctx, t, subjectId);
  const row = await getSubject(t, subjectId);
  if (!row || (row.erasedAt !== null && !key)) return;
  const subjectRef = key ? subjectRefFromKey(key) : undefined;
  const counts = await t.subjects.forget(subjectId, ctx.now());
  await ctx.audit.append(t, {
    type: 'subject.forgotten',
    actor: ctx.actor,
    ...(subjectRef ? { subjectRef } : {}),
    data: counts,
  });
}
