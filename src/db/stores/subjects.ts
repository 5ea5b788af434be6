/**
 * People of the consent registry (subjects), their identifiers and their sealed pseudonym keys.
 * The lookups are on the consent hot path (every read and write): prepared statements.
 */
import { and, asc, eq, isNull, sql } from 'drizzle-orm';
import type { Database, Handle } from '../database.js';
import type { Subject } from '../schema/subjects.js';
import type { Identity } from '../../identity.js';

const p = sql.placeholder;

function statements(db: Database) {
  const { subjects: s, subjectIdentifiers: i, subjectKeys: k } = db.tables;
  return {
    byIdentity: db.statement<{ subjectId: string }>('subjects.byIdentity', (q) =>
      q.select({ subjectId: i.subjectId }).from(i).where(and(eq(i.type, p('type')), eq(i.value, p('value')))),
    ),
    subject: db.statement<Subject>('subjects.get', (q) => q.select().from(s).where(eq(s.id, p('id')))),
    key: db.statement<{ key: Buffer }>('subjects.key', (q) => q.select({ key: k.key }).from(k).where(eq(k.subjectId, p('id')))),
    insertSubject: db.statement('subjects.insert', (q) => q.insert(s).values({ id: p('id'), createdAt: p('createdAt') })),
    insertKey: db.statement('subjects.insertKey', (q) => q.insert(k).values({ subjectId: p('subjectId'), key: p('key') })),
    insertIdentifier: db.statement('subjects.insertIdentifier', (q) =>
      q.insert(i).values({ type: p('type'), value: p('value'), subjectId: p('subjectId'), createdAt: p('createdAt') }),
    ),
  };
}

export class SubjectStore {
  constructor(private readonly h: Handle) {}

  private get s() {
    return this.h.db.cached('subjects', statements);
  }

  private get t() {
    return this.h.db.tables;
  }

  /** The (live) subject holding this normalized identifier: erasure deletes identifiers. */
  async idByIdentity(identity: Identity): Promise<string | undefined> {
    return (await this.s.byIdentity.first(this.h, identity))?.subjectId;
  }

  get(id: string): Promise<Subject | undefined> {
    return this.s.subject.first(this.h, { id });
  }

  /** The sealed pseudonym key, until the person is forgotten. */
  async sealedKey(id: string): Promise<Buffer | undefined> {
    return (await this.s.key.first(this.h, { id }))?.key;
  }

  async insert(row: { id: string; createdAt: number; sealedKey: Buffer; identity: Identity }): Promise<void> {
    await this.s.insertSubject.run(this.h, { id: row.id, createdAt: row.createdAt });
    await this.s.insertKey.run(this.h, { subjectId: row.id, key: row.sealedKey });
    await this.s.insertIdentifier.run(this.h, { ...row.identity, subjectId: row.id, createdAt: row.createdAt });
  }

  async insertIdentifier(subjectId: string, identity: Identity, createdAt: number): Promise<void> {
    await this.s.insertIdentifier.run(this.h, { ...identity, subjectId, createdAt });
  }

  /** Identifiers of a subject, oldest first. */
  identifiers(subjectId: string): Promise<Identity[]> {
    const { subjectIdentifiers: i } = this.t;
    return this.h.q
      .select({ type: i.type, value: i.value })
      .from(i)
      .where(eq(i.subjectId, subjectId))
      .orderBy(asc(i.createdAt), asc(i.type), asc(i.value));
  }

  /** Keys of exactly `length` bytes (keys an older version stored unsealed are 32). */
  keysOfLength(length: number): Promise<{ subjectId: string; key: Buffer }[]> {
    const { subjectKeys: k } = this.t;
    return this.h.q.select().from(k).where(sql`length(${k.key}) = ${length}`);
  }

  async anyKey(): Promise<{ subjectId: string; key: Buffer } | undefined> {
    const [row] = await this.h.q.select().from(this.t.subjectKeys).limit(1);
    return row;
  }

  async replaceKey(subjectId: string, key: Buffer): Promise<void> {
    const { subjectKeys: k } = this.t;
    await this.h.q.update(k).set({ key }).where(eq(k.subjectId, subjectId));
  }

  /**
   * The registry's copy of a person, gone: identifiers, consent ledger and current states
   * deleted, the pseudonym key destroyed, the subject row kept as a tombstone. Counts deleted.
   */
  async forget(subjectId: string, at: number): Promise<{ identifiers: number; consentEvents: number; consentStates: number }> {
    const { subjectIdentifiers: i, consentEvents: e, consentStates: st, subjectKeys: k, subjects: s } = this.t;
    const identifiers = (await this.h.q.delete(i).where(eq(i.subjectId, subjectId)).returning({ v: i.value })).length;
    const consentEvents = (await this.h.q.delete(e).where(eq(e.subjectId, subjectId)).returning({ id: e.id })).length;
    const consentStates = (await this.h.q.delete(st).where(eq(st.subjectId, subjectId)).returning({ p: st.purposeId })).length;
    await this.h.q.delete(k).where(eq(k.subjectId, subjectId));
    await this.h.q
      .update(s)
      .set({ erasedAt: at })
      .where(and(eq(s.id, subjectId), isNull(s.erasedAt)));
    return { identifiers, consentEvents, consentStates };
  }

  /** People not erased. */
  async countLive(): Promise<number> {
    const { subjects: s } = this.t;
    const [row] = await this.h.q.select({ n: sql<number>`count(*)`.mapWith(Number) }).from(s).where(isNull(s.erasedAt));
    return row?.n ?? 0;
  }
}
