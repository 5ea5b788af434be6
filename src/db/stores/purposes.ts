/**
 * The purposes catalogue and every text version a purpose ever had. Read rarely (the domain
 * caches the catalogue: src/consent/catalog.ts), so plain builder queries.
 */
import { and, asc, eq } from 'drizzle-orm';
import type { Handle } from '../database.js';
import { forUpdate } from '../dialect.js';
import type { Purpose, PurposeVersion, purposes } from '../schema/purposes.js';

export type PurposeWithSha = Purpose & { textSha256: string };
export type PurposeChange = Omit<Purpose, 'id' | 'createdAt'>;

export class PurposeStore {
  constructor(private readonly h: Handle) {}

  private get t() {
    return this.h.db.tables;
  }

  /** Every purpose at its current version, with that version's text hash, by id. */
  all(): Promise<PurposeWithSha[]> {
    const { purposes: p, purposeVersions: v } = this.t;
    return this.h.q
      .select({
        id: p.id,
        title: p.title,
        text: p.text,
        legalBasis: p.legalBasis,
        channels: p.channels,
        validityDays: p.validityDays,
        gpcApplies: p.gpcApplies,
        version: p.version,
        createdAt: p.createdAt,
        updatedAt: p.updatedAt,
        textSha256: v.textSha256,
      })
      .from(p)
      .innerJoin(v, and(eq(v.purposeId, p.id), eq(v.version, p.version)))
      .orderBy(asc(p.id));
  }

  /** The purpose row; held until the transaction ends (PostgreSQL) when read to be changed. */
  async get(id: string, opts: { forUpdate?: boolean } = {}): Promise<Purpose | undefined> {
    const query = this.h.q.select().from(this.t.purposes).where(eq(this.t.purposes.id, id));
    const [row] = await (opts.forUpdate ? forUpdate(this.h.db, query) : query);
    return row;
  }

  /** Inserts a purpose unless its id is taken; false when it was. */
  async insert(row: typeof purposes.$inferInsert): Promise<boolean> {
    const { purposes: p } = this.t;
    return (await this.h.q.insert(p).values(row).onConflictDoNothing().returning({ id: p.id })).length === 1;
  }

  /** Changes a purpose if it is still at `fromVersion`; false when it moved meanwhile. */
  async update(id: string, fromVersion: number, change: PurposeChange): Promise<boolean> {
    const { purposes: p } = this.t;
    const rows = await this.h.q
      .update(p)
      .set(change)
      .where(and(eq(p.id, id), eq(p.version, fromVersion)))
      .returning({ id: p.id });
    return rows.length === 1;
  }

  async insertVersion(row: PurposeVersion): Promise<void> {
    await this.h.q.insert(this.t.purposeVersions).values(row);
  }

  versions(id: string): Promise<PurposeVersion[]> {
    const { purposeVersions: v } = this.t;
    return this.h.q.select().from(v).where(eq(v.purposeId, id)).orderBy(asc(v.version));
  }

  async version(id: string, version: number): Promise<PurposeVersion | undefined> {
    const { purposeVersions: v } = this.t;
    const [row] = await this.h.q.select().from(v).where(and(eq(v.purposeId, id), eq(v.version, version)));
    return row;
  }
}
