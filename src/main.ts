/**
 * The `oubli` command line. Logs go to stderr; stdout carries only what a command is asked to
 * print (a URL, a key, a verdict), so scripts can capture it.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import v8 from 'node:v8';

import { ConfigError, loadConfig, type Config } from './config.js';
import { buildDeps as buildRuntimeDeps, DataDirError } from './runtime.js';
import { startServer } from './server.js';
import type { Ctx, Deps } from './deps.js';
import { ROLES, type Role } from './db/schema/users.js';
import { SCOPES, type Scope } from './db/schema/api-keys.js';
import { createUser, findUserByEmail, normalizeStaffEmail } from './auth/users.js';
import { disableUser, enableUser, setUserPassword } from './auth/credentials.js';
import { generatePassword } from './auth/passwords.js';
import { createApiKey } from './auth/api-keys.js';
import { verifyAuditLog, type Anchor } from './audit/verify-log.js';
import { readAnchor } from './audit/anchors.js';
import { AppError, NotFoundError } from './errors.js';
import { DeploymentConfigError, loadDeployment } from './deployment/config.js';
import { reportMatching } from './deployment/startup-report.js';

const USAGE = `usage: oubli <command>

  serve                                   start the service (loads ./oubli.config.ts or $OUBLI_CONFIG)
  demo [--customers N]                    start the service with demo silos (N customers, default 10000),
                                          data and credentials
  migrate                                 apply the database migrations (SQLite in the data dir, or
                                          PostgreSQL at $OUBLI_DATABASE_URL) and exit
  admin create --email E --role R         create a staff user (admin|dpo|viewer); password from stdin,
                                          or generated and printed once
  admin password --email E                set a user's password (stdin, or generated and printed once);
                                          ends all of the user's sessions
  admin disable --email E                 disable a user and end all of their sessions
  admin enable --email E                  let a disabled user log in again
  apikey create --name N --scopes a,b     create an API key; the key is the last line of stdout
  audit verify [--strict] [--checkpoint F] recompute the audit log, check every signed tree head, and
                                          that the log extends each saved checkpoint / head / receipt F;
                                          --strict also fails on entries not yet covered by a signed head
  audit checkpoint                        print the latest tree head as a signed checkpoint note
  keys rotate                             add a new signing key and retire the old one (its public key
                                          stays published, with notAfter)

environment: PORT, HOST, OUBLI_DATA_DIR, OUBLI_DATABASE_URL, OUBLI_CONFIG, OUBLI_SIGNING_KEY, OUBLI_MASTER_KEY,
             OUBLI_PSEUDONYM_KEY, OUBLI_LOG_LEVEL (see README)`;

const CLI_ACTOR = { type: 'cli', id: 'cli' } as const;

function fail(message: string, code = 2): never {
  process.stderr.write(`oubli: ${message}\n`);
  process.exit(code);
}

async function buildDeps(config: Config): Promise<Deps> {
  try {
    return await buildRuntimeDeps(config);
  } catch (err) {
    if (err instanceof DataDirError) fail(err.message);
    throw err;
  }
}

/**
 * Ends a command: gives up the tree-head signer lease if the command took it (so a server on
 * the same database signs at once) and closes the store.
 */
async function finish(deps: Deps): Promise<void> {
  await deps.treeHeads.releaseLease();
  await deps.db.close();
}

/** Where the store is, for messages: the SQLite file, or the PostgreSQL database without credentials. */
function storeName(config: Config): string {
  if (!config.databaseUrl) return `${config.dataDir}/oubli.db`;
  const u = new URL(config.databaseUrl);
  return `PostgreSQL database ${decodeURIComponent(u.pathname.slice(1)) || '(default)'} on ${u.hostname}:${u.port || '5432'}`;
}

function cliCtx(deps: Deps): Ctx {
  return { ...deps, actor: CLI_ACTOR };
}

async function readStdin(): Promise<string> {
  if (process.stdin.isTTY) return '';
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

async function serveUntilSignal(deps: Deps, onListening?: (url: string) => Promise<void> | void): Promise<void> {
  const server = await startServer(deps);
  process.stdout.write(`oubli listening on ${server.url}\n`);
  if (server.metricsUrl) process.stdout.write(`metrics without authentication on ${server.metricsUrl}\n`);
  const stop = async () => {
    await server.close();
    await deps.db.close();
    process.exit(0);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  await onListening?.(server.url);
}

async function main(argv: string[]): Promise<void> {
  // Whatever oubli creates (database, WAL, keys, exports, demo silos) is for this user alone,
  // even in a data dir that already exists.
  process.umask(0o077);
  const [command, sub, ...rest] = argv;
  let config: Config;
  try {
    config = loadConfig(process.env);
  } catch (err) {
    if (err instanceof ConfigError) fail(err.message);
    throw err;
  }

  switch (command) {
    case 'serve': {
      // The deployment's silos (./oubli.config.ts or $OUBLI_CONFIG), checked against the live
      // schemas before anything listens; none found → no connectors.
      let deployment;
      try {
        deployment = await loadDeployment(process.cwd(), config.configFile, { phoneRegion: config.phoneRegion, webhookAllowPrivate: config.webhookAllowPrivate });
      } catch (err) {
        if (err instanceof DeploymentConfigError) fail(`invalid deployment config — ${err.message}`, 1);
        throw err;
      }
      const deps = await buildDeps(config);
      deps.connectors = deployment.connectors;
      deps.requireApproval = deployment.requireApproval;
      deps.uniqueIdentityTypes = deployment.uniqueIdentityTypes;
      if (deployment.source) deps.logger.info({ config: deployment.source, connectors: deployment.connectors.map((c) => c.id) }, 'deployment config loaded');
      reportMatching(deps.logger, deployment.connectors);
      await serveUntilSignal(deps);
      return;
    }
    case 'demo': {
      const { values: demoArgs } = parseArgs({ args: argv.slice(1), options: { customers: { type: 'string' } } });
      const customers = demoArgs.customers === undefined ? undefined : Number(demoArgs.customers);
      if (customers !== undefined && !(Number.isInteger(customers) && customers >= 1 && customers <= 5_000_000)) fail('--customers must be an integer from 1 to 5000000');
      // Loaded here only: the demo's data generator (faker) costs start-up time `serve` never needs.
      const { runDemo } = await import('./demo/index.js');
      const { demoConnectors } = await import('../connectors/demo/index.js');
      const deps = await buildDeps(config);
      // The demo always uses the demo silos, whatever oubli.config.ts the directory holds.
      deps.connectors = demoConnectors(config.dataDir);
      // The file mailbox at /dev/mailbox: this branch alone sets it (never `serve`).
      deps.demo = true;
      // As most deployments would: an erasure waits for the DPO's approval in the dashboard.
      deps.requireApproval = ['erasure'];
      deps.startup.ready = false;
      await serveUntilSignal(deps, (url) => runDemo(deps, url, { customers }));
      return;
    }
    case 'migrate': {
      const deps = await buildDeps(config);
      await deps.db.close();
      process.stdout.write(`migrations applied to ${storeName(config)}\n`);
      return;
    }
    case 'admin': {
      if (sub === 'create') {
        const { values } = parseArgs({ args: rest, options: { email: { type: 'string' }, role: { type: 'string' } } });
        if (!values.email) fail('admin create needs --email');
        if (!values.role || !ROLES.includes(values.role as Role)) fail(`--role must be one of ${ROLES.join(', ')}`);
        const piped = (await readStdin()).replace(/\r?\n$/, '');
        const password = piped || generatePassword();
        const deps = await buildDeps(config);
        const user = await createUser(cliCtx(deps), { email: values.email, role: values.role as Role, password });
        // A CLI append is covered by a signed head at once, not only when a server next ticks.
        await deps.treeHeads.sign();
        process.stderr.write(`created ${user.role} ${user.id}\n`);
        if (!piped) process.stdout.write(`password (shown once): ${password}\n`);
        await finish(deps);
        return;
      }
      if (sub !== 'password' && sub !== 'disable' && sub !== 'enable') fail(USAGE);
      const { values } = parseArgs({ args: rest, options: { email: { type: 'string' } } });
      if (!values.email) fail(`admin ${sub} needs --email`);
      const piped = sub === 'password' ? (await readStdin()).replace(/\r?\n$/, '') : '';
      const deps = await buildDeps(config);
      const ctx = cliCtx(deps);
      const user = await findUserByEmail(ctx, normalizeStaffEmail(values.email));
      if (!user) throw new NotFoundError('USER_NOT_FOUND', 'no staff user with this email');
      if (sub === 'password') {
        const password = piped || generatePassword();
        const { sessionsEnded } = await setUserPassword(ctx, user.id, password);
        process.stderr.write(`password set for ${user.id}; ${sessionsEnded} session(s) ended\n`);
        if (!piped) process.stdout.write(`password (shown once): ${password}\n`);
      } else if (sub === 'disable') {
        const { changed, sessionsEnded } = await disableUser(ctx, user.id);
        process.stderr.write(changed ? `disabled ${user.id}; ${sessionsEnded} session(s) ended\n` : `${user.id} was already disabled\n`);
      } else {
        const { changed } = await enableUser(ctx, user.id);
        process.stderr.write(changed ? `enabled ${user.id}\n` : `${user.id} was not disabled\n`);
      }
      await deps.treeHeads.sign();
      await finish(deps);
      return;
    }
    case 'apikey': {
      if (sub !== 'create') fail(USAGE);
      const { values } = parseArgs({ args: rest, options: { name: { type: 'string' }, scopes: { type: 'string' } } });
      if (!values.name) fail('apikey create needs --name');
      const scopes = (values.scopes ?? '').split(',').map((s) => s.trim()).filter(Boolean);
      const bad = scopes.filter((s) => !SCOPES.includes(s as Scope));
      if (scopes.length === 0 || bad.length > 0) fail(`--scopes must list some of ${SCOPES.join(', ')}${bad.length ? ` (unknown: ${bad.join(', ')})` : ''}`);
      const deps = await buildDeps(config);
      const created = await createApiKey(cliCtx(deps), { name: values.name, scopes: scopes as Scope[] });
      await deps.treeHeads.sign();
      process.stderr.write(`created API key ${created.id} with scopes ${created.scopes.join(',')}\n`);
      process.stdout.write(`${created.key}\n`);
      await finish(deps);
      return;
    }
    case 'audit': {
      if (sub === 'checkpoint') {
        const deps = await buildDeps(config);
        const note = await deps.treeHeads.checkpoint();
        await finish(deps);
        process.stdout.write(note);
        return;
      }
      if (sub !== 'verify') fail(USAGE);
      const { values } = parseArgs({ args: rest, options: { strict: { type: 'boolean' }, checkpoint: { type: 'string', multiple: true } } });
      // The rebuild allocates a few small buffers per entry: a larger young generation cuts the
      // time spent collecting them on a million-entry log.
      v8.setFlagsFromString('--max-semi-space-size=64');
      const deps = await buildDeps(config);
      const keys = { logId: deps.treeHeads.logId, jwks: deps.keys.jwks(), verifierKeys: deps.keys.verifierKeys(deps.treeHeads.logId) };
      const anchors: Anchor[] = [];
      const saved = deps.treeHeads.savedCheckpoint();
      if (saved && 'error' in saved) fail(`audit log FAILED verification — this data dir's checkpoint file (audit/latest-checkpoint) does not verify: ${saved.error}`, 1);
      if (saved) anchors.push({ size: saved.size, root: saved.root, label: "this data dir's latest checkpoint (audit/latest-checkpoint)" });
      for (const file of values.checkpoint ?? []) {
        let content: string;
        try {
          content = readFileSync(file, 'utf8');
        } catch {
          fail(`cannot read --checkpoint ${file}`);
        }
        const anchor = await readAnchor(content, file, keys);
        if ('error' in anchor) fail(`audit log FAILED verification — ${anchor.error}`, 1);
        anchors.push(anchor);
      }
      const started = performance.now();
      const report = await verifyAuditLog(deps.db, keys.jwks, { logId: keys.logId, anchors });
      const ms = Math.round(performance.now() - started);
      await deps.db.close();
      if (!report.ok) fail(`audit log FAILED verification — ${report.problem}`, 1);
      if (report.unsignedTail > 0) {
        const tail = `entries ${report.newestHead}–${report.entries - 1} come after the newest signed tree head (size ${report.newestHead}): no signature covers them yet`;
        if (values.strict) fail(`audit log FAILED verification (--strict) — entry ${report.newestHead}: ${tail}`, 1);
        process.stderr.write(`oubli: warning: ${tail}\n`);
      }
      const against = anchors.length ? `, consistent with ${anchors.length} saved checkpoint${anchors.length > 1 ? 's' : ''}` : '';
      process.stdout.write(`audit log ok: ${report.entries} entries, ${report.treeHeads} signed tree heads, root ${report.root}${against} (${ms} ms)\n`);
      return;
    }
    case 'keys': {
      if (sub !== 'rotate') fail(USAGE);
      const deps = await buildDeps(config);
      const kid = deps.keys.rotate();
      await deps.audit.append(deps.db, { type: 'signing_key.rotated', actor: CLI_ACTOR, data: { kid } });
      await deps.treeHeads.sign();
      await finish(deps);
      process.stdout.write(`new signing key ${kid}\n`);
      return;
    }
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(`${USAGE}\n`);
      return;
    default:
      fail(`unknown command "${command}"\n${USAGE}`);
  }
}

main(process.argv.slice(2)).catch((err: unknown) => {
  if (err instanceof AppError) fail(`${err.code}: ${err.message}`, 1);
  process.stderr.write(`oubli: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exit(1);
});

