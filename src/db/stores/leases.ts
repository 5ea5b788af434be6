/** Named leases (src/db/schema/leases.ts): who runs a job that one instance at a time may run. */
import { and, eq, lt, or, sql } from 'drizzle-orm';
import type { Handle } from '../database.js';

export class LeaseStore {
  constructor(private readonly h: Handle) {}

  /**
   * Takes or renews the lease `name` for `owner` until `until`, unless another owner holds it
   * unexpired at `now`. True when `owner` holds it afterwards. One statement: two instances
   * racing for a free lease cannot both win.
   */
  async acquire(name: string, owner: string, now: number, until: number): Promise<boolean> {
    const { leases: l } = this.h.db.tables;
    const rows = await this.h.q
      .insert(l)
      .values({ name, owner, expiresAt: until })
      .onConflictDoUpdate({
        target: l.name,
        set: { owner, expiresAt: until },
        setWhere: or(eq(l.owner, owner), lt(l.expiresAt, now)),
      })
      .returning({ owner: l.owner });
    return rows[0]?.owner === owner;
  }

  /** Gives the lease up (another instance may take it at once). */
  async release(name: string, owner: string): Promise<void> {
    const { leases: l } = this.h.db.tables;
    await this.h.q.update(l).set({ expiresAt: sql`0` }).where(and(eq(l.name, name), eq(l.owner, owner)));
  }
}
