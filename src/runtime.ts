/**
 * Builds the service's dependencies from a Config: the one place with start-up I/O
 * (data dir, database, migrations, keys, secrets).
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import pino, { type Logger } from 'pino';
import type { Config } from './config.js';
import { migrateDatabase, openDatabase, type Db } from './db/client.js';
import { createIdGenerator } from './ids.js';
import { AuditLog } from './audit/log.js';
import { SigningKeys } from './audit/keys.js';
import { TreeHeads } from './audit/tree-heads.js';
import type { Deps, Secrets } from './deps.js';
import { DEFAULT_UNIQUE_TYPES } from './engine/review.js';

export const LOG_ID = 'oubli';

export function createLogger(config: Pick<Config, 'logLevel'>): Logger {
  // Logs go to stderr: stdout stays for what a command prints (an API key, a verdict).
  return pino({ level: config.logLevel, base: undefined }, pino.destination({ fd: 2, sync: false }));
}

/** A 32-byte secret kept in a 0600 file, created on first use. */
function secretFile(path: string): Buffer {
  if (!existsSync(path)) {
    writeFileSync(path, randomBytes(32).toString('base64'), { mode: 0o600, flag: 'wx' });
  }
  chmodSync(path, 0o600);
  return Buffer.from(readFileSync(path, 'utf8').trim(), 'base64');
}

export function loadSecrets(dataDir: string): Secrets {
  const dir = join(dataDir, 'secrets');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  return { pseudonymKey: secretFile(join(dir, 'pseudonym.key')) };
}

export interface BuildOptions {
  logger?: Logger;
  now?: () => number;
}

/** Opens (and migrates) the data dir's database and assembles Deps. */
export function buildDeps(config: Config, opts: BuildOptions = {}): Deps {
  mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  const now = opts.now ?? Date.now;
  const db: Db = openDatabase(join(config.dataDir, 'oubli.db'));
  migrateDatabase(db);
  const keys = SigningKeys.open(join(config.dataDir, 'keys'), config.signingKey, now);
  const audit = new AuditLog(db.$client, now);
  const deps: Deps = {
    config,
    db,
    now,
    ids: createIdGenerator(now),
    logger: opts.logger ?? createLogger(config),
    audit,
    keys,
    treeHeads: new TreeHeads(db.$client, audit, keys, LOG_ID, now),
    secrets: loadSecrets(config.dataDir),
    connectors: [],
    requireApproval: [],
    uniqueIdentityTypes: DEFAULT_UNIQUE_TYPES,
    startup: { ready: true },
  };
  return deps;
}
