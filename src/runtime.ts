/**
 * Builds the service's dependencies from a Config: the one place with start-up I/O
 * (data dir, database, migrations, keys, secrets).
 */
import { ApiKeyCache } from './auth/api-key-cache.js';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import pino, { type Logger } from 'pino';
import type { Config } from './config.js';
import { openDatabase } from './db/open.js';
import { createIdGenerator } from './ids.js';
import { AuditLog } from './audit/log.js';
import { SigningKeys } from './audit/keys.js';
import { TreeHeads } from './audit/tree-heads.js';
import { newLogId } from './audit/log-id.js';
import type { Deps, Secrets } from './deps.js';
import { prepareSubjectKeys } from './subjects/service.js';
import { HealthChecks } from './deployment/health.js';
import { logSerializers } from './log-errors.js';
import { DEFAULT_UNIQUE_TYPES } from './requests/review.js';
import { PurposeCatalog } from './consent/catalog.js';
import { ConsentWriter } from './consent/record.js';
import { createWebhookClient } from './webhooks/client.js';
import { announceCheckpoint } from './webhooks/events.js';
import { createMailer } from './mail/mailer.js';
import { Metrics } from './metrics/metrics.js';

export function createLogger(config: Pick<Config, 'logLevel'>): Logger {
  // Logs go to stderr: stdout stays for what a command prints (an API key, a verdict).
  return pino({ level: config.logLevel, base: undefined, serializers: logSerializers }, pino.destination({ fd: 2, sync: false }));
}

/** A 32-byte secret kept in a 0600 file, created on first use. */
function secretFile(path: string): Buffer {
  if (!existsSync(path)) {
    writeFileSync(path, randomBytes(32).toString('base64'), { mode: 0o600, flag: 'wx' });
  }
  chmodSync(path, 0o600);
  return Buffer.from(readFileSync(path, 'utf8').trim(), 'base64');
}

/**
 * The secrets: from the environment when given (instances that share a database must share them:
 * OUBLI_PSEUDONYM_KEY, OUBLI_MASTER_KEY), else from `secrets/` in the data dir, created on first
 * use (a data dir on storage every instance mounts shares them too).
 */
export function loadSecrets(dataDir: string, given: { masterKey?: Buffer; pseudonymKey?: Buffer } = {}): Secrets {
  const dir = join(dataDir, 'secrets');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  return {
    pseudonymKey: given.pseudonymKey ?? secretFile(join(dir, 'pseudonym.key')),
    masterKey: given.masterKey ?? secretFile(join(dir, 'master.key')),
  };
}

export class DataDirError extends Error {}

/** Files of the data dir that hold secrets or personal data, kept 0600 whatever made them. */
const PRIVATE_FILES = ['oubli.db', 'oubli.db-wal', 'oubli.db-shm'];
const PRIVATE_DIRS = ['keys', 'secrets', 'audit', 'exports', 'demo', 'mailbox'];

/**
 * Makes the data dir private to this user: created 0700; an existing one that others can read
 * is tightened to 0700 (with the database, key, secret and checkpoint files in it) when this
 * user owns it, and refused when it does not, or when it is a shared directory (sticky bit, as
 * /tmp): oubli will not chmod a directory that others rely on. Returns the mode it replaced.
 */
export function prepareDataDir(dir: string): { tightenedFrom?: number } {
  if (!existsSync(dir)) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    return {};
  }
  const st = statSync(dir);
  if (!st.isDirectory()) throw new DataDirError(`OUBLI_DATA_DIR ${dir} is not a directory`);
  const mode = st.mode & 0o7777;
  let tightenedFrom: number | undefined;
  if (mode & 0o077) {
    const uid = process.getuid?.();
    const shared = (mode & 0o1000) !== 0;
    if (shared || (uid !== undefined && st.uid !== uid)) {
      throw new DataDirError(
        `OUBLI_DATA_DIR ${dir} can be read by other users (mode ${mode.toString(8).padStart(4, '0')}) and is ` +
          `${shared ? 'a shared directory (sticky bit)' : `owned by uid ${st.uid}, not by this user (uid ${uid})`}: ` +
          'point OUBLI_DATA_DIR at a private directory (mode 0700), or have its owner run chmod 700 on it',
      );
    }
    chmodSync(dir, 0o700);
    tightenedFrom = mode;
  }
  for (const name of PRIVATE_FILES) {
    const file = join(dir, name);
    if (existsSync(file)) chmodSync(file, 0o600);
  }
  for (const name of PRIVATE_DIRS) {
    const sub = join(dir, name);
    if (!existsSync(sub) || !statSync(sub).isDirectory()) continue;
    chmodSync(sub, 0o700);
    if (tightenedFrom !== undefined) tightenTree(sub);
  }
  return { tightenedFrom };
}

/** chmod 0700 dirs / 0600 files below `dir` (only after the data dir was found open to others). */
function tightenTree(dir: string): void {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) {
      chmodSync(p, 0o700);
      tightenTree(p);
    } else if (e.isFile()) {
      chmodSync(p, 0o600);
    }
  }
}

export interface BuildOptions {
  logger?: Logger;
  now?: () => number;
}

/** Where this data dir keeps the newest checkpoint it signed (outside the database). */
export function checkpointFileOf(dataDir: string): string {
  return join(dataDir, 'audit', 'latest-checkpoint');
}

/** Names this process where instances coordinate (the tree-head signer lease): host, pid, random. */
function processId(): string {
  return `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
}

/** Opens (and migrates) the store, opens the audit log, and assembles Deps. */
export async function buildDeps(config: Config, opts: BuildOptions = {}): Promise<Deps> {
  const { tightenedFrom } = prepareDataDir(config.dataDir);
  const logger = opts.logger ?? createLogger(config);
  if (tightenedFrom !== undefined) {
    logger.warn({ dataDir: config.dataDir, was: tightenedFrom.toString(8), now: '700' }, 'data dir was readable by other users: tightened to 0700');
  }
  const now = opts.now ?? Date.now;
  const db = await openDatabase(config, (err) => logger.warn({ err: err.message }, 'database connection error'));
  const keys = SigningKeys.open(join(config.dataDir, 'keys'), config.signingKey, now);
  const audit = new AuditLog(db, now);
  const logId = await audit.open(newLogId(config.publicUrl));
  const ids = createIdGenerator(now);
  const secrets = loadSecrets(config.dataDir, config);
  const deps: Deps = {
    config,
    db,
    now,
    ids,
    logger,
    audit,
    keys,
    treeHeads: new TreeHeads(db, audit, keys, logId, now, { checkpointFile: checkpointFileOf(config.dataDir), signer: processId(), onNewHead: (t, head) => announceCheckpoint({ db, ids, now, secrets }, t, head) }),
    secrets,
    connectors: [],
    requireApproval: [],
    health: new HealthChecks(now),
    uniqueIdentityTypes: DEFAULT_UNIQUE_TYPES,
    purposes: new PurposeCatalog(db),
    apiKeys: new ApiKeyCache(db),
    consentWrites: new ConsentWriter(db),
    webhookClient: createWebhookClient({ allowPrivate: config.webhookAllowPrivate }),
    mailer: createMailer(config, now),
    metrics: new Metrics({ db, audit, now }, { process: true }),
    startup: { ready: true },
  };
  await deps.purposes.start();
  await deps.apiKeys.start();
  await prepareSubjectKeys(deps);
  return deps;
}
