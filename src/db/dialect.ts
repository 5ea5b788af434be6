/**
 * The few places where the two dialects' SQL differ, for the stores in src/db/stores only.
 */
import type { Database } from './database.js';

interface Lockable {
  for(strength: 'update', config?: { skipLocked?: boolean }): unknown;
}

/**
 * `SELECT … FOR UPDATE [SKIP LOCKED]` on PostgreSQL: the rows stay locked until the transaction
 * ends. On SQLite the query is unchanged: its single writer already serialises transactions.
 */
export function forUpdate<T>(db: Database, query: T, opts: { skipLocked?: boolean } = {}): T {
  return db.dialect === 'postgres' ? ((query as unknown as Lockable).for('update', opts) as T) : query;
}
