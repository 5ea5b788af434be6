/**
 * Staff and machine credentials: users, their sessions (by SHA-256 of the cookie token), API
 * keys (by SHA-256 of the key), login failures. The two lookups run on every authenticated
 * request: prepared statements.
 */
import { and, desc, eq, gt, isNull, sql } from 'drizzle-orm';
import type { Database, Handle } from '../database.js';
import type { ApiKey, Scope } from '../schema/api-keys.js';
import type { Role } from '../schema/users.js';

const p = sql.placeholder;

function statements(db: Database) {
  const { apiKeys, sessions, users } = db.tables;
  return {
    session: db.statement<{ sessionId: string; userId: string; role: Role }>('auth.session', (q) =>
      q
        .select({ sessionId: sessions.id, userId: users.id, role: users.role })
        .from(sessions)
        .innerJoin(users, eq(users.id, sessions.userId))
        .where(and(eq(sessions.id, p('id')), gt(sessions.expiresAt, p('now')), isNull(users.disabledAt))),
    ),
    activeApiKey: db.statement<{ id: string; scopes: Scope[] }>('auth.activeApiKey', (q) =>
      q
        .select({ id: apiKeys.id, scopes: apiKeys.scopes })
        .from(apiKeys)
        .where(and(eq(apiKeys.hash, p('hash')), isNull(apiKeys.revokedAt))),
    ),
  };
}

export class AuthStore {
  constructor(private readonly h: Handle) {}

  private get s() {
    return this.h.db.cached('auth', statements);
  }

  /** The live session with this token hash, with its user's role (not when the user is disabled). */
  session(id: string, now: number): Promise<{ sessionId: string; userId: string; role: Role } | undefined> {
    return this.s.session.first(this.h, { id, now });
  }

  async insertApiKey(row: typeof this.h.db.tables.apiKeys.$inferInsert): Promise<ApiKey> {
    const [created] = await this.h.q.insert(this.h.db.tables.apiKeys).values(row).returning();
    return created!;
  }

  /** The API key with this hash, unless revoked (the hot path of every API call). */
  activeApiKey(hash: string): Promise<{ id: string; scopes: Scope[] } | undefined> {
    return this.s.activeApiKey.first(this.h, { hash });
  }

  apiKeys(): Promise<ApiKey[]> {
    const { apiKeys } = this.h.db.tables;
    return this.h.q.select().from(apiKeys).orderBy(desc(apiKeys.createdAt), desc(apiKeys.id));
  }

  /** Marks the API key revoked; false when there was no active key with this id. */
  async revokeApiKey(id: string, at: number): Promise<boolean> {
    const { apiKeys } = this.h.db.tables;
    const rows = await this.h.q
      .update(apiKeys)
      .set({ revokedAt: at })
      .where(and(eq(apiKeys.id, id), isNull(apiKeys.revokedAt)))
      .returning({ id: apiKeys.id });
    return rows.length === 1;
  }
}
