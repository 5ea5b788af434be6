/** API keys: rows of api_keys, looked up by the SHA-256 of the presented key. */
import { and, desc, eq, isNull, sql } from 'drizzle-orm';
import type { Database, Handle } from '../database.js';
import type { ApiKey, Scope } from '../schema/api-keys.js';

function statements(db: Database) {
  const { apiKeys } = db.tables;
  return {
    activeByHash: db.statement<{ id: string; scopes: Scope[] }>('apiKeys.activeByHash', (q) =>
      q
        .select({ id: apiKeys.id, scopes: apiKeys.scopes })
        .from(apiKeys)
        .where(and(eq(apiKeys.hash, sql.placeholder('hash')), isNull(apiKeys.revokedAt))),
    ),
  };
}

export class ApiKeyStore {
  constructor(private readonly h: Handle) {}

  private get s() {
    return this.h.db.cached('apiKeys', statements);
  }

  async insert(row: typeof this.h.db.tables.apiKeys.$inferInsert): Promise<ApiKey> {
    const [created] = await this.h.q.insert(this.h.db.tables.apiKeys).values(row).returning();
    return created!;
  }

  /** The key with this hash, unless revoked (the hot path of every API call). */
  activeByHash(hash: string): Promise<{ id: string; scopes: Scope[] } | undefined> {
    return this.s.activeByHash.first(this.h, { hash });
  }

  list(): Promise<ApiKey[]> {
    const { apiKeys } = this.h.db.tables;
    return this.h.q.select().from(apiKeys).orderBy(desc(apiKeys.createdAt), desc(apiKeys.id));
  }

  /** Marks the key revoked; false when there was no active key with this id. */
  async revoke(id: string, at: number): Promise<boolean> {
    const { apiKeys } = this.h.db.tables;
    const rows = await this.h.q
      .update(apiKeys)
      .set({ revokedAt: at })
      .where(and(eq(apiKeys.id, id), isNull(apiKeys.revokedAt)))
      .returning({ id: apiKeys.id });
    return rows.length === 1;
  }
}
