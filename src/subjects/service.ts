/**
 * People (`sub_…`) and their identifiers, shared by the consent registry and data-subject
 * requests. Lookups use prepared statements cached per connection: they sit on hot paths
 * (every consent read and write).
 *
 * Invariants:
 * - an identifier (type, normalized value) belongs to at most one person;
 * - an erased person keeps only a tombstone row: no identifier, key, consent or state, so a
 *   new consent for the same email starts a new person and nothing of the old one comes back;
 * - audit entries name people by `subjectRef` only, an HMAC under the person's own key, which
 *   erasure destroys; that key is stored sealed under the master key (src/subjects/key-seal.ts).
 */
import { createHmac, randomBytes } from 'node:crypto';
import type BetterSqlite3 from 'better-sqlite3';
import { statementsFor, writeTx, type Db, type Sqlite } from '../db/client.js';
import type { Ctx, Deps } from '../deps.js';
import type { Identity } from '../identity.js';
import { AppError, ConflictError, NotFoundError } from '../errors.js';
import { openSubjectKey, sealSubjectKey, SubjectKeyError } from './key-seal.js';

/** What reading a person's pseudonym key needs: the database and the master key. */
export type KeyCtx = Pick<Deps, 'db' | 'secrets'>;

type Stmt = BetterSqlite3.Statement<unknown[], unknown>;

interface Statements {
  findByIdentity: Stmt;
  subject: Stmt;
  insertSubject: Stmt;
  insertKey: Stmt;
  insertIdentifier: Stmt;
  key: Stmt;
  identifiers: Stmt;
  deleteIdentifiers: Stmt;
  deleteEvents: Stmt;
  deleteStates: Stmt;
  deleteKey: Stmt;
  markErased: Stmt;
  plainKeys: Stmt;
  resealKey: Stmt;
  anyKey: Stmt;
}

const stmts = statementsFor(
  (sqlite): Statements => ({
    findByIdentity: sqlite.prepare('select subject_id from subject_identifiers where type = ? and value = ?').pluck(),
    subject: sqlite.prepare('select id, created_at as createdAt, erased_at as erasedAt from subjects where id = ?'),
    insertSubject: sqlite.prepare('insert into subjects (id, created_at) values (?, ?)'),
    insertKey: sqlite.prepare('insert into subject_keys (subject_id, key) values (?, ?)'),
    insertIdentifier: sqlite.prepare('insert into subject_identifiers (type, value, subject_id, created_at) values (?, ?, ?, ?)'),
    key: sqlite.prepare('select key from subject_keys where subject_id = ?').pluck(),
    identifiers: sqlite.prepare('select type, value from subject_identifiers where subject_id = ? order by created_at, type, value'),
    deleteIdentifiers: sqlite.prepare('delete from subject_identifiers where subject_id = ?'),
    deleteEvents: sqlite.prepare('delete from consent_events where subject_id = ?'),
    deleteStates: sqlite.prepare('delete from consent_states where subject_id = ?'),
    deleteKey: sqlite.prepare('delete from subject_keys where subject_id = ?'),
    markErased: sqlite.prepare('update subjects set erased_at = ? where id = ? and erased_at is null'),
    plainKeys: sqlite.prepare('select subject_id as subjectId, key from subject_keys where length(key) = 32'),
    resealKey: sqlite.prepare('update subject_keys set key = ? where subject_id = ?'),
    anyKey: sqlite.prepare('select subject_id as subjectId, key from subject_keys limit 1'),
  }),
);

/** Existing (not erased) subject holding this normalized identity, if any. */
export function findSubjectIdByIdentity(db: Db, identity: Identity): string | undefined {
  // Erasure deletes identifiers, so any row found belongs to a live subject.
  return stmts(db).findByIdentity.get(identity.type, identity.value) as string | undefined;
}

/** The subject row, or undefined; erased subjects come back with `erasedAt` set. */
export function getSubject(db: Db, subjectId: string): { id: string; createdAt: number; erasedAt: number | null } | undefined {
  return stmts(db).subject.get(subjectId) as { id: string; createdAt: number; erasedAt: number | null } | undefined;
}

/** A live subject or NotFoundError SUBJECT_NOT_FOUND (erased subjects count as gone). */
export function requireLiveSubject(db: Db, subjectId: string): string {
  const row = getSubject(db, subjectId);
  if (!row || row.erasedAt !== null) throw new NotFoundError('SUBJECT_NOT_FOUND', 'no such subject');
  return row.id;
}

/** Normalized identifiers of a subject, oldest first. */
export function listIdentifiers(db: Db, subjectId: string): Identity[] {
  return stmts(db).identifiers.all(subjectId) as Identity[];
}

/**
 * Creates a new subject holding just `identity` (which must be free), and gives its subjectRef
 * from the key just drawn (the consent write path then need not open it). Call inside a writeTx.
 */
export function createSubject(ctx: Ctx, identity: Identity): { subjectId: string; subjectRef: string } {
  const s = stmts(ctx.db);
  const subjectId = ctx.ids('sub');
  const now = ctx.now();
  const key = randomBytes(32);
  s.insertSubject.run(subjectId, now);
  s.insertKey.run(subjectId, sealSubjectKey(ctx.secrets.masterKey, subjectId, key));
  s.insertIdentifier.run(identity.type, identity.value, subjectId, now);
  return { subjectId, subjectRef: subjectRefFromKey(key) };
}

/** Existing subject for the identity, or a new `sub_…` holding just it. Call inside a writeTx. */
export function ensureSubject(ctx: Ctx, identity: Identity): string {
  return findSubjectIdByIdentity(ctx.db, identity) ?? createSubject(ctx, identity).subjectId;
}

/**
 * Links another identifier to a live subject. Idempotent when it already belongs to that
 * subject; 409 IDENTIFIER_CONFLICT when it belongs to someone else. Call inside a writeTx.
 * Returns true when a link was added.
 */
export function linkIdentifier(ctx: Ctx, subjectId: string, identity: Identity): boolean {
  const owner = findSubjectIdByIdentity(ctx.db, identity);
  if (owner === subjectId) return false;
  if (owner !== undefined) throw new ConflictError('IDENTIFIER_CONFLICT', `this ${identity.type} already belongs to another subject`);
  stmts(ctx.db).insertIdentifier.run(identity.type, identity.value, subjectId, ctx.now());
  return true;
}

/**
 * Links another identifier to the person holding `subjectId` (POST /v1/subjects/{id}/identifiers),
 * in one transaction with its audit entry — which names the identifier's TYPE only, never its
 * value. Answers whether a link was added, and nothing else about the person: a caller that may
 * write consents may not thereby read the person's other identifiers.
 */
export function linkSubjectIdentifier(ctx: Ctx, subjectId: string, identity: Identity): { subjectId: string; linked: boolean } {
  return writeTx(ctx.db, () => {
    requireLiveSubject(ctx.db, subjectId);
    const linked = linkIdentifier(ctx, subjectId, identity);
    if (linked) {
      ctx.audit.append({
        type: 'subject.identifier_linked',
        actor: ctx.actor,
        subjectRef: subjectRefOf(ctx, subjectId),
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
export function readSubjectKey(ctx: KeyCtx, subjectId: string): Buffer | undefined {
  const sealed = stmts(ctx.db).key.get(subjectId) as Buffer | undefined;
  return sealed && openSubjectKey(ctx.secrets.masterKey, subjectId, sealed);
}

/** Keyed pseudonym for audit entries ('sref_…'): HMAC with that subject's OWN random key. Stable until the subject is forgotten. */
export function subjectRefOf(ctx: KeyCtx, subjectId: string): string {
  const key = readSubjectKey(ctx, subjectId);
  if (!key) throw new NotFoundError('SUBJECT_NOT_FOUND', 'no such subject (or it was erased)');
  return subjectRefFromKey(key);
}

/**
 * At start-up, before serving: seals the keys an older version stored in clear (32 bytes), in
 * one transaction, and checks that the master key opens the stored keys — a lost or changed
 * master key (another `secrets/master.key`, a wrong OUBLI_MASTER_KEY) stops start-up here with
 * a clear message instead of failing every consent write. Returns how many keys were sealed.
 */
export function prepareSubjectKeys(ctx: KeyCtx): number {
  const s = stmts(ctx.db);
  const sealed = writeTx(ctx.db, () => {
    const plain = s.plainKeys.all() as { subjectId: string; key: Buffer }[];
    for (const row of plain) s.resealKey.run(sealSubjectKey(ctx.secrets.masterKey, row.subjectId, row.key), row.subjectId);
    return plain.length;
  });
  const sample = s.anyKey.get() as { subjectId: string; key: Buffer } | undefined;
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
 * GDPR erasure of the registry's copy: call INSIDE a writeTx. Deletes the subject's
 * identifiers, consent ledger and current-state rows, destroys its pseudonym key (so old audit
 * entries stop pointing at anyone), marks the subject erased, appends audit 'subject.forgotten'
 * (subjectRef only). Idempotent: an unknown or already erased subject is left alone.
 */
export function forgetSubject(ctx: Ctx, subjectId: string): void {
  const s = stmts(ctx.db);
  const key = readSubjectKey(ctx, subjectId);
  const row = getSubject(ctx.db, subjectId);
  if (!row || (row.erasedAt !== null && !key)) return;
  const subjectRef = key ? subjectRefFromKey(key) : undefined;
  const identifiers = s.deleteIdentifiers.run(subjectId).changes;
  const events = s.deleteEvents.run(subjectId).changes;
  const states = s.deleteStates.run(subjectId).changes;
  s.deleteKey.run(subjectId);
  s.markErased.run(ctx.now(), subjectId);
  ctx.audit.append({
    type: 'subject.forgotten',
    actor: ctx.actor,
    ...(subjectRef ? { subjectRef } : {}),
    data: { identifiers, consentEvents: events, consentStates: states },
  });
}
