/**
 * What the readiness probe asks of the store: is it reachable, and are the migrations this
 * build ships all applied (an instance started by an older release beside a newer one, or a
 * database restored from an old backup, says so instead of failing on its first query).
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sql } from 'drizzle-orm';
import type { NodePgDatabase } from 'drizzle-orm/node-postgres';
import type { Handle } from '../database.js';

const here = dirname(fileURLToPath(import.meta.url));

/** Number of migrations committed for the dialect (its drizzle-kit journal). */
function shipped(dialect: 'sqlite' | 'postgres'): number {
  const folder = join(here, '..', dialect === 'sqlite' ? 'migrations' : 'pg-migrations');
  return (JSON.parse(readFileSync(join(folder, 'meta', '_journal.json'), 'utf8')) as { entries: unknown[] }).entries.length;
}

export class SystemStore {
  constructor(private readonly h: Handle) {}

  /** A round trip to the store. */
  async ping(): Promise<boolean> {
    return (await this.count(sql`select 1 as n`)) === 1;
  }

  /** True when every committed migration is recorded as applied. */
  async migrationsApplied(): Promise<boolean> {
    // drizzle's migrators keep their journal in different places: the main schema on SQLite,
    // the `drizzle` schema on PostgreSQL.
    const applied =
      this.h.db.dialect === 'sqlite'
        ? await this.count(sql`select count(*) as n from __drizzle_migrations`)
        : await this.count(sql`select count(*)::int as n from drizzle.__drizzle_migrations`);
    return applied >= shipped(this.h.db.dialect);
  }

  private async count(query: ReturnType<typeof sql>): Promise<number> {
    if (this.h.db.dialect === 'sqlite') {
      const row = this.h.q.get<{ n: number }>(query);
      return Number(row?.n);
    }
    const res = await (this.h.q as unknown as NodePgDatabase).execute<{ n: number }>(query);
    return Number(res.rows[0]?.n);
  }
}
