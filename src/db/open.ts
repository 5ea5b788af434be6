/**
 * Opens the store a deployment chose: PostgreSQL when OUBLI_DATABASE_URL names one, else the
 * embedded SQLite file `<data dir>/oubli.db`. Either way the committed migrations of that dialect
 * are applied first (applying them twice is a no-op).
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Database } from './database.js';
import { SqliteDatabase } from './sqlite.js';
import { PostgresDatabase } from './postgres.js';

const here = dirname(fileURLToPath(import.meta.url));
export const SQLITE_MIGRATIONS = join(here, 'migrations');
export const PG_MIGRATIONS = join(here, 'pg-migrations');

export interface StoreConfig {
  dataDir: string;
  /** postgres://… or undefined for the embedded store. */
  databaseUrl?: string;
  databasePoolSize?: number;
}

export async function openDatabase(config: StoreConfig, onError?: (err: Error) => void): Promise<Database> {
  if (config.databaseUrl) {
    return PostgresDatabase.open({ url: config.databaseUrl, migrationsFolder: PG_MIGRATIONS, poolSize: config.databasePoolSize, onError });
  }
  return SqliteDatabase.open(join(config.dataDir, 'oubli.db'), { migrationsFolder: SQLITE_MIGRATIONS });
}
