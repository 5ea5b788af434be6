/**
 * People of the consent registry (subjects), their identifiers and their sealed pseudonym keys.
 * The lookups are on the consent hot path (every read and write): prepared statements. Many at
 * once (a consent batch): on SQLite one prepared statement per row; on PostgreSQL lookups take one
 * statement per BATCH rows (a round trip each), and new people one statement for all their rows.
 */
import { and, asc, eq, inArray, isNull, sql } from 'drizzle-orm';
import type { NodePgDatabase } from 'drizzle-orm/node-postgres';
import type { Database, Handle } from '../database.js';
import type { Subject } from '../schema/subjects.js';
import type { Identity } from '../../identity.js';

const p = sql.placeholder;
const BATCH = 1000;

export interface NewSubject {
  id: string;
  createdAt: number;
  sealedKey: Buffer;
  identity: Identity;
}

function statements(db: Database) {
  const { subjects: s, subjectIdentifiers: i, subjectKeys: k, consentEvents: e, consentStates: st } = db.tables;
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
    // forget(): one erasure each, a thousand at once in a burst of erasures.
    deleteIdentifiers: db.statement('subjects.deleteIdentifiers', (q) => q.delete(i).where(eq(i.subjectId, p('id')))),
    deleteConsentEvents: db.statement('subjects.deleteConsentEvents', (q) => q.delete(e).where(eq(e.subjectId, p('id')))),
    deleteConsentStates: db.statement('subjects.deleteConsentStates', (q) => q.delete(st).where(eq(st.subjectId, p('id')))),
    deleteKey: db.statement('subjects.deleteKey', (q) => q.delete(k).where(eq(k.subjectId, p('id')))),
    tombstone: db.statement('subjects.tombstone', (q) =>
      q
        .update(s)
        .set({ erasedAt: sql`${p('at')}` })
        .where(and(eq(s.id, p('id')), isNull(s.erasedAt))),
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

  async insert(row: NewSubject): Promise<void> {
    await this.s.insertSubject.run(this.h, { id: row.id, createdAt: row.createdAt });
    await this.s.insertKey.run(this.h, { subjectId: row.id, key: row.sealedKey });
    await this.s.insertIdentifier.run(this.h, { ...row.identity, subjectId: row.id, createdAt: row.createdAt });
  }

  async insertMany(rows: NewSubject[]): Promise<void> {
    if (this.h.db.dialect === 'sqlite') {
      for (const r of rows) await this.insert(r);
      return;
    }
    if (rows.length === 0) return;
    // One statement for the three tables, one parameter per column (unnest). The keys and
    // identifiers reference the subject rows, checked at the statement's end.
    const ids = sql.param(rows.map((r) => r.id));
    const at = sql.param(rows.map((r) => r.createdAt));
    await (this.h.q as unknown as NodePgDatabase).execute(
      sql`with s as (
            insert into subjects (id, created_at) select * from unnest(${ids}::text[], ${at}::bigint[])
          ), k as (
            insert into subject_keys (subject_id, key) select * from unnest(${ids}::text[], ${sql.param(rows.map((r) => r.sealedKey))}::bytea[])
          )
          insert into subject_identifiers (type, value, subject_id, created_at)
          select * from unnest(${sql.param(rows.map((r) => r.identity.type))}::text[], ${sql.param(rows.map((r) => r.identity.value))}::text[],
            ${ids}::text[], ${at}::bigint[])`,
    );
  }

  /** The holders of these identifiers (absent: nobody), keyed `type:value`. */
  async idsByIdentities(identities: Identity[]): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    if (this.h.db.dialect === 'sqlite') {
      for (const id of identities) {
        const row = await this.s.byIdentity.first(this.h, id);
        if (row) out.set(`${id.type}:${id.value}`, row.subjectId);
      }
      return out;
    }
    const { subjectIdentifiers: i } = this.t;
    const byType = new Map<string, string[]>();
    for (const id of identities) (byType.get(id.type) ?? byType.set(id.type, []).get(id.type)!).push(id.value);
    for (const [type, values] of byType) {
      for (let n = 0; n < values.length; n += BATCH) {
        const rows = await this.h.q
          .select({ value: i.value, subjectId: i.subjectId })
          .from(i)
          .where(and(eq(i.type, type), inArray(i.value, values.slice(n, n + BATCH))));
        for (const r of rows) out.set(`${type}:${r.value}`, r.subjectId);
      }
    }
    return out;
  }

  /** The sealed pseudonym keys of these people (absent: forgotten, or unknown). */
  async sealedKeys(ids: string[]): Promise<Map<string, Buffer>> {
    const out = new Map<string, Buffer>();
    if (this.h.db.dialect === 'sqlite') {
      for (const id of ids) {
        const row = await this.s.key.first(this.h, { id });
        if (row) out.set(id, row.key);
      }
      return out;
    }
    const { subjectKeys: k } = this.t;
    for (let n = 0; n < ids.length; n += BATCH) {
      for (const r of await this.h.q.select().from(k).where(inArray(k.subjectId, ids.slice(n, n + BATCH)))) out.set(r.subjectId, r.key);
    }
    return out;
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
    const id = subjectId;
    const identifiers = await this.s.deleteIdentifiers.run(this.h, { id });
    const consentEvents = await this.s.deleteConsentEvents.run(this.h, { id });
    const consentStates = await this.s.deleteConsentStates.run(this.h, { id });
    await this.s.deleteKey.run(this.h, { id });
    await this.s.tombstone.run(this.h, { id, at });
    return { identifiers, consentEvents, consentStates };
  }

  /** People not erased. */
  async countLive(): Promise<number> {
    const { subjects: s } = this.t;
    const [row] = await this.h.q.select({ n: sql<number>`count(*)`.mapWith(Number) }).from(s).where(isNull(s.erasedAt));
    return row?.n ?? 0;
  }
}
