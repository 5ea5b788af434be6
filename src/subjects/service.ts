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
 *
 * Several instances on one PostgreSQL database: what SQLite's single writer gave for free is
 * kept by locks taken inside the transaction (no-ops on SQLite), always in this order —
 * identities (`identity:<type>:<value>`: whoever looks a holder up to create one), then people
 * (`subject:<id>`: whoever writes a person's identifiers, consents or states, or forgets them),
 * then the audit log's sequencer (any append). So two instances meeting a new person make one
 * subject, and nothing is written for a person after another instance forgot them (it would
 * outlive the erasure). A verb that writes a person's rows therefore locks them before its first
 * audit append; out of order it is still correct, PostgreSQL breaking the deadlock by re-running
 * one transaction.
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

const identityLock = (identity: Identity) => `identity:${identity.type}:${identity.value}`;
const subjectLock = (subjectId: string) => `subject:${subjectId}`;

/** Serialises, across instances, whoever looks up and then creates the holders of these identities. */
export function lockIdentity(ctx: Pick<Ctx, 'db'>, t: Stores, identity: Identity | Identity[]): Promise<void> {
  return ctx.db.lock(t, Array.isArray(identity) ? identity.map(identityLock) : identityLock(identity));
}

/**
 * Serialises, across instances, whoever writes these people's rows or forgets them, until the
 * transaction ends (see the header: after the identity locks, before the first audit append).
 */
export function lockSubjects(ctx: Pick<Ctx, 'db'>, t: Stores, subjectIds: string[]): Promise<void> {
  return ctx.db.lock(t, subjectIds.map(subjectLock));
}

/**
 * Existing subject for the identity, or a new `sub_…` holding just it, locked for the rest of
 * the transaction `t`. Two instances meeting a new person at once make one subject: the identity
 * is locked before it is looked up. A holder forgotten by a transaction that committed while
 * this one waited for its lock is gone with its identifiers: a new person is made.
 */
export async function ensureSubject(ctx: Ctx, t: Stores, identity: Identity): Promise<string> {
  await lockIdentity(ctx, t, identity);
  const found = await findSubjectIdByIdentity(t, identity);
  if (found !== undefined) {
    await lockSubjects(ctx, t, [found]);
    if ((await findSubjectIdByIdentity(t, identity)) === found) return found;
  }
  return (await createSubject(ctx, t, identity)).subjectId;
}

/** The people of many consent events, resolved together (see resolveSubjects). */
export interface ResolvedSubjects {
  /** Holder of each identity asked, keyed `type:value`. */
  byIdentity: Map<string, string>;
  /** subjectRef of every live person among them (those asked by id included). */
  refs: Map<string, string>;
  /** The people created here (they have no consent state yet). */
  created: Set<string>;
}

/** The key resolveSubjects answers an identity under. */
export const identityKey = (identity: Identity) => `${identity.type}:${identity.value}`;

/**
 * The people of many events at once (a consent group or batch), in the transaction `t`: each
 * identity's holder — created, in the order given, when there is none or it was forgotten while
 * this transaction waited — and each subject id asked, with the subjectRef of every live one.
 * All are locked for the rest of the transaction, identities then people, each set in one call
 * (one round trip on PostgreSQL). A subject id asked that is not live has no entry in `refs`.
 */
export async function resolveSubjects(ctx: Ctx, t: Stores, identities: Identity[], subjectIds: string[]): Promise<ResolvedSubjects> {
  await lockIdentity(ctx, t, identities);
  const byIdentity = await t.subjects.idsByIdentities(identities);
  const known = [...new Set([...byIdentity.values(), ...subjectIds])];
  await lockSubjects(ctx, t, known);
  const sealed = await t.subjects.sealedKeys(known);
  const refs = new Map<string, string>();
  for (const [id, key] of sealed) refs.set(id, subjectRefFromKey(openSubjectKey(ctx.secrets.masterKey, id, key)));
  const created = [];
  const now = ctx.now();
  for (const identity of identities) {
    const k = identityKey(identity);
    const holder = byIdentity.get(k);
    // A forgotten holder has no key any more, and no identifier: the identity is free again.
    if (holder !== undefined && refs.has(holder)) continue;
    const id = ctx.ids('sub');
    const key = randomBytes(32);
    created.push({ id, createdAt: now, sealedKey: sealSubjectKey(ctx.secrets.masterKey, id, key), identity });
    byIdentity.set(k, id);
    refs.set(id, subjectRefFromKey(key));
  }
  await t.subjects.insertMany(created);
  return { byIdentity, refs, created: new Set(created.map((c) => c.id)) };
}

/**
 * Links another identifier to a live subject, in the transaction `t`. Idempotent when it already
 * belongs to that subject; 409 IDENTIFIER_CONFLICT when it belongs to someone else; 404
 * SUBJECT_NOT_FOUND when the subject is forgotten. True when a link was added.
 */
export async function linkIdentifier(ctx: Ctx, t: Stores, subjectId: string, identity: Identity): Promise<boolean> {
  await lockIdentity(ctx, t, identity);
  await lockSubjects(ctx, t, [subjectId]);
  await requireLiveSubject(t, subjectId);
  const owner = await findSubjectIdByIdentity(t, identity);
  if (owner === subjectId) return false;
  if (owner !== undefined) throw new ConflictError('IDENTIFIER_CONFLICT', `this ${identity.type} already belongs to another subject`);
  await t.subjects.insertIdentifier(subjectId, identity, ctx.now());
  return true;
}

/**
 * Links another identifier to the person holding `holder` (POST /v1/subjects/{identifier}/
 * identifiers), in one transaction with its audit entry — which names the identifier's TYPE
 * only, never its value. Answers whether a link was added, and nothing else about the person: a
 * caller that may write consents may not thereby read the person's other identifiers. 404
 * SUBJECT_NOT_FOUND when nobody holds `holder`.
 */
export function linkSubjectIdentifier(ctx: Ctx, holder: Identity, identity: Identity): Promise<{ subjectId: string; linked: boolean }> {
  return ctx.db.tx(async (t) => {
    await lockIdentity(ctx, t, [holder, identity]);
    const subjectId = await findSubjectIdByIdentity(t, holder);
    if (subjectId === undefined) throw new NotFoundError('SUBJECT_NOT_FOUND', 'nobody holds this identifier');
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
 * deleted rows and key do not linger in the write-ahead log. Locks the person first (see the
 * header): a consent another instance is writing for them commits before, and is erased too, or
 * waits, and then finds them gone.
 */
export async function forgetSubject(ctx: Ctx, t: Stores, subjectId: string): Promise<void> {
  await lockSubjects(ctx, t, [subjectId]);
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
