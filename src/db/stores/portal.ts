/**
 * The privacy portal's sign-in codes and person sessions (schema: src/db/schema/portal.ts).
 * Every lookup is by a SHA-256 of a random token; the attempt counter of a code moves in one
 * guarded statement, so concurrent guesses (several instances) never get more than the limit.
 */
import { and, eq, gt, lt, lte, sql } from 'drizzle-orm';
import type { Database, Handle } from '../database.js';
import type { PortalCode, PortalSession } from '../schema/portal.js';

const p = sql.placeholder;

function statements(db: Database) {
  const { portalSessions: s } = db.tables;
  return {
    // Runs on every signed-in page: the live, non-idle session.
    session: db.statement<PortalSession>('portal.session', (q) =>
      q
        .select()
        .from(s)
        .where(and(eq(s.id, p('id')), gt(s.expiresAt, p('now')), gt(s.lastSeenAt, p('idleSince')))),
    ),
  };
}

export class PortalStore {
  constructor(private readonly h: Handle) {}

  private get s() {
    return this.h.db.cached('portal', statements);
  }

  private get t() {
    return this.h.db.tables;
  }

  // ------------------------------------------------------------------------------ codes

  async insertCode(row: PortalCode): Promise<void> {
    await this.h.q.insert(this.t.portalCodes).values(row);
  }

  async code(id: string): Promise<PortalCode | undefined> {
    const { portalCodes: c } = this.t;
    const [row] = await this.h.q.select().from(c).where(eq(c.id, id));
    return row;
  }

  /**
   * Counts one attempt at the live code `id`, unless it already had `max`: answers the row as it
   * is after the increment, or undefined (no such code, expired, or out of attempts).
   */
  async takeAttempt(id: string, now: number, max: number): Promise<PortalCode | undefined> {
    const { portalCodes: c } = this.t;
    const [row] = await this.h.q
      .update(c)
      .set({ attempts: sql`${c.attempts} + 1` })
      .where(and(eq(c.id, id), gt(c.expiresAt, now), lt(c.attempts, max)))
      .returning();
    return row;
  }

  /** Replaces the code of a challenge (a resend): fresh attempts and validity. */
  async replaceCode(id: string, fields: Pick<PortalCode, 'codeMac' | 'sentAt' | 'expiresAt'>): Promise<boolean> {
    const { portalCodes: c } = this.t;
    const rows = await this.h.q.update(c).set({ ...fields, attempts: 0 }).where(eq(c.id, id)).returning({ id: c.id });
    return rows.length === 1;
  }

  /** Deletes a code; false when it was gone already (used by a concurrent request). */
  async deleteCode(id: string): Promise<boolean> {
    const { portalCodes: c } = this.t;
    const rows = await this.h.q.delete(c).where(eq(c.id, id)).returning({ id: c.id });
    return rows.length === 1;
  }

  async pruneCodes(now: number): Promise<void> {
    const { portalCodes: c } = this.t;
    await this.h.q.delete(c).where(lte(c.expiresAt, now));
  }

  // ------------------------------------------------------------------------------ sessions

  async insertSession(row: PortalSession): Promise<void> {
    await this.h.q.insert(this.t.portalSessions).values(row);
  }

  session(id: string, now: number, idleSince: number): Promise<PortalSession | undefined> {
    return this.s.session.first(this.h, { id, now, idleSince });
  }

  async touchSession(id: string, now: number): Promise<void> {
    const { portalSessions: s } = this.t;
    await this.h.q.update(s).set({ lastSeenAt: now }).where(eq(s.id, id));
  }

  /** Scopes the session to the person its first consent created. */
  async setSessionSubject(id: string, subjectId: string): Promise<void> {
    const { portalSessions: s } = this.t;
    await this.h.q.update(s).set({ subjectId }).where(eq(s.id, id));
  }

  async deleteSession(id: string): Promise<boolean> {
    const { portalSessions: s } = this.t;
    const rows = await this.h.q.delete(s).where(eq(s.id, id)).returning({ id: s.id });
    return rows.length === 1;
  }

  /** Deletes sessions past their lifetime or idle since before `idleSince`. */
  async pruneSessions(now: number, idleSince: number): Promise<void> {
    const { portalSessions: s } = this.t;
    await this.h.q.delete(s).where(sql`${s.expiresAt} <= ${now} or ${s.lastSeenAt} <= ${idleSince}`);
  }
}
