/**
 * Counters every instance shares, so that a limit holds behind a load balancer: failed staff
 * logins (src/auth/throttle.ts) and the API rate limiter's per-key windows (src/http/rate-limit.ts).
 * Both are keyed by pseudonyms or ids, never by an email or an address in clear.
 */
import { and, asc, eq, gt, lte, or, sql } from 'drizzle-orm';
import type { Database, Handle } from '../database.js';

const p = sql.placeholder;

function statements(db: Database) {
  const { apiRateLimits: r } = db.tables;
  return {
    // One statement: two instances counting the same key at once both see the other's request.
    // The window only moves forward: an instance whose clock lags a little behind another's
    // counts into the newer window instead of restarting the count.
    take: db.statement<{ windowStart: number; count: number }>('limits.take', (q) =>
      q
        .insert(r)
        .values({ keyId: p('keyId'), windowStart: p('windowStart'), count: 1 })
        .onConflictDoUpdate({
          target: r.keyId,
          set: {
            count: sql`case when ${r.windowStart} >= excluded.window_start then ${r.count} + 1 else 1 end`,
            windowStart: sql`case when ${r.windowStart} >= excluded.window_start then ${r.windowStart} else excluded.window_start end`,
          },
        })
        .returning({ windowStart: r.windowStart, count: r.count }),
    ),
  };
}

export interface LoginFailure {
  id: number;
  accountRef: string;
  clientRef: string;
  at: number;
}

export class LimitStore {
  constructor(private readonly h: Handle) {}

  private get s() {
    return this.h.db.cached('limits', statements);
  }

  private get t() {
    return this.h.db.tables;
  }

  /**
   * Counts one request of API key `keyId` in the fixed window starting at `windowStart` (a new
   * window restarts the count); answers the count so far in the window that stands.
   */
  async takeApiRequest(keyId: string, windowStart: number): Promise<{ windowStart: number; count: number }> {
    return (await this.s.take.first(this.h, { keyId, windowStart }))!;
  }

  /** Forgets failures at or before `before`. */
  async pruneLoginFailures(before: number): Promise<void> {
    const { loginFailures: f } = this.t;
    await this.h.q.delete(f).where(lte(f.at, before));
  }

  /** Failures after `since` of the account or of the client address, oldest first. */
  recentLoginFailures(accountRef: string, clientRef: string, since: number): Promise<Omit<LoginFailure, 'id'>[]> {
    const { loginFailures: f } = this.t;
    return this.h.q
      .select({ accountRef: f.accountRef, clientRef: f.clientRef, at: f.at })
      .from(f)
      .where(and(gt(f.at, since), or(eq(f.accountRef, accountRef), eq(f.clientRef, clientRef))))
      .orderBy(asc(f.at));
  }

  async insertLoginFailure(row: Omit<LoginFailure, 'id'>): Promise<number> {
    const { loginFailures: f } = this.t;
    const [created] = await this.h.q.insert(f).values(row).returning({ id: f.id });
    return created!.id;
  }

  /** Writes a failure back with its own id (a no-op when it is still there). */
  async restoreLoginFailure(row: LoginFailure): Promise<void> {
    await this.h.q.insert(this.t.loginFailures).values(row).onConflictDoNothing();
  }

  async clearAccountFailures(accountRef: string): Promise<void> {
    const { loginFailures: f } = this.t;
    await this.h.q.delete(f).where(eq(f.accountRef, accountRef));
  }
}
