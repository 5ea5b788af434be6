/**
 * Staff and machine credentials: users, their sessions (by SHA-256 of the cookie token) and API
 * keys (by SHA-256 of the key). The two lookups run on every authenticated request: prepared
 * statements. Counters shared by every instance (login failures, API rate limits) are in
 * ./limits.ts.
 */
import { and, desc, eq, gt, isNotNull, isNull, sql } from 'drizzle-orm';
import type { Database, Handle } from '../database.js';
import type { ApiKey, Scope } from '../schema/api-keys.js';
import type { Role, User } from '../schema/users.js';

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

  private get t() {
    return this.h.db.tables;
  }

  // ------------------------------------------------------------------------------ users

  async userByEmail(email: string): Promise<User | undefined> {
    const { users } = this.t;
    const [row] = await this.h.q.select().from(users).where(eq(users.email, email));
    return row;
  }

  async user(id: string): Promise<User | undefined> {
    const { users } = this.t;
    const [row] = await this.h.q.select().from(users).where(eq(users.id, id));
    return row;
  }

  /** Inserts a user; undefined when the email is taken (by a concurrent insert, say). */
  async insertUser(row: typeof this.h.db.tables.users.$inferInsert): Promise<User | undefined> {
    const { users } = this.t;
    const [created] = await this.h.q.insert(users).values(row).onConflictDoNothing({ target: users.email }).returning();
    return created;
  }

  /** Sets the password hash; false when there is no such user. */
  async setPasswordHash(id: string, passwordHash: string): Promise<boolean> {
    const { users } = this.t;
    const rows = await this.h.q.update(users).set({ passwordHash }).where(eq(users.id, id)).returning({ id: users.id });
    return rows.length === 1;
  }

  /**
   * Replaces the password hash only if it is still `expected` and the user is not disabled: a
   * concurrent change or disable wins. False when the guard failed.
   */
  async replacePasswordHash(id: string, expected: string, passwordHash: string): Promise<boolean> {
    const { users } = this.t;
    const rows = await this.h.q
      .update(users)
      .set({ passwordHash })
      .where(and(eq(users.id, id), eq(users.passwordHash, expected), isNull(users.disabledAt)))
      .returning({ id: users.id });
    return rows.length === 1;
  }

  /** Marks the user disabled; false when it already was. */
  async disableUser(id: string, at: number): Promise<boolean> {
    const { users } = this.t;
    const rows = await this.h.q
      .update(users)
      .set({ disabledAt: at })
      .where(and(eq(users.id, id), isNull(users.disabledAt)))
      .returning({ id: users.id });
    return rows.length === 1;
  }

  /** Clears the disabled mark; false when the user was not disabled. */
  async enableUser(id: string): Promise<boolean> {
    const { users } = this.t;
    const rows = await this.h.q
      .update(users)
      .set({ disabledAt: null })
      .where(and(eq(users.id, id), isNotNull(users.disabledAt)))
      .returning({ id: users.id });
    return rows.length === 1;
  }

  // ------------------------------------------------------------------------------ sessions

  /** The live session with this token hash, with its user's role (not when the user is disabled). */
  session(id: string, now: number): Promise<{ sessionId: string; userId: string; role: Role } | undefined> {
    return this.s.session.first(this.h, { id, now });
  }

  async insertSession(row: typeof this.h.db.tables.sessions.$inferInsert): Promise<void> {
    await this.h.q.insert(this.t.sessions).values(row);
  }

  /** Deletes one session; false when it was already gone. */
  async deleteSession(id: string): Promise<boolean> {
    const { sessions } = this.t;
    const rows = await this.h.q.delete(sessions).where(eq(sessions.id, id)).returning({ id: sessions.id });
    return rows.length === 1;
  }

  /** Deletes every session of the user; answers how many there were. */
  async deleteUserSessions(userId: string): Promise<number> {
    const { sessions } = this.t;
    const rows = await this.h.q.delete(sessions).where(eq(sessions.userId, userId)).returning({ id: sessions.id });
    return rows.length;
  }

  // ------------------------------------------------------------------------------ API keys

  async insertApiKey(row: typeof this.h.db.tables.apiKeys.$inferInsert): Promise<ApiKey> {
    const [created] = await this.h.q.insert(this.t.apiKeys).values(row).returning();
    return created!;
  }

  /** The API key with this hash, unless revoked (the hot path of every API call). */
  activeApiKey(hash: string): Promise<{ id: string; scopes: Scope[] } | undefined> {
    return this.s.activeApiKey.first(this.h, { hash });
  }

  apiKeys(): Promise<ApiKey[]> {
    const { apiKeys } = this.t;
    return this.h.q.select().from(apiKeys).orderBy(desc(apiKeys.createdAt), desc(apiKeys.id));
  }

  /** Marks the API key revoked; false when there was no active key with this id. */
  async revokeApiKey(id: string, at: number): Promise<boolean> {
    const { apiKeys } = this.t;
    const rows = await this.h.q
      .update(apiKeys)
      .set({ revokedAt: at })
      .where(and(eq(apiKeys.id, id), isNull(apiKeys.revokedAt)))
      .returning({ id: apiKeys.id });
    return rows.length === 1;
  }

  // ------------------------------------------------------------------------------ staff (the dashboard's administration)

  /** Every staff user, oldest first. */
  users(): Promise<User[]> {
    const { users } = this.t;
    return this.h.q.select().from(users).orderBy(users.createdAt, users.id);
  }

  /** Sets the user's role; the role before, or undefined when there is no such user. */
  async setRole(id: string, role: Role): Promise<Role | undefined> {
    const { users } = this.t;
    const before = await this.user(id);
    if (!before) return undefined;
    await this.h.q.update(users).set({ role }).where(eq(users.id, id));
    return before.role;
  }
}
