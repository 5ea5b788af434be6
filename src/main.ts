/**
 * The `oubli` command line. Logs go to stderr; stdout carries only what a command is asked to
 * print (a URL, a key, a verdict), so scripts can capture it.
 */
import { parseArgs } from 'node:util';
import v8 from 'node:v8';

import { ConfigError, loadConfig, type Config } from './config.js';
import { buildDeps } from './runtime.js';
import { startServer } from './server.js';
import type { Ctx, Deps } from './deps.js';
import { ROLES, type Role } from './db/schema/users.js';
import { SCOPES, type Scope } from './db/schema/api-keys.js';
import { createUser } from './auth/users.js';
import { generatePassword } from './auth/passwords.js';
import { createApiKey } from './auth/api-keys.js';
import { verifyAuditLog } from './audit/verify-log.js';
import { AppError } from './errors.js';
import { DeploymentConfigError, loadDeployment } from './deployment/config.js';

const USAGE = `usage: oubli <command>

  serve                                   start the service (loads ./oubli.config.ts or $OUBLI_CONFIG)
  demo [--customers N]                    start the service with demo silos (N customers, default 10000),
                                          data and credentials
  migrate                                 apply database migrations and exit
  admin create --email E --role R         create a staff user (admin|dpo|viewer); password from stdin,
                                          or generated and printed once
  apikey create --name N --scopes a,b     create an API key; the key is the last line of stdout
  audit verify                            recompute the audit log and check every signed tree head
  keys rotate                             add a new signing key (old public keys stay published)

environment: PORT, HOST, OUBLI_DATA_DIR, OUBLI_CONFIG, OUBLI_SIGNING_KEY, OUBLI_LOG_LEVEL (see README)`;

const CLI_ACTOR = { type: 'cli', id: 'cli' } as const;

function fail(message: string, code = 2): never {
  process.stderr.write(`oubli: ${message}\n`);
  process.exit(code);
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
  const stop = async () => {
    await server.close();
    deps.db.$client.close();
    process.exit(0);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  await onListening?.(server.url);
}

async function main(argv: string[]): Promise<void> {
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
        deployment = await loadDeployment(process.cwd(), config.configFile);
      } catch (err) {
        if (err instanceof DeploymentConfigError) fail(`invalid deployment config — ${err.message}`, 1);
        throw err;
      }
      const deps = buildDeps(config);
      deps.connectors = deployment.connectors;
      deps.requireApproval = deployment.requireApproval;
      deps.uniqueIdentityTypes = deployment.uniqueIdentityTypes;
      if (deployment.source) deps.logger.info({ config: deployment.source, connectors: deployment.connectors.map((c) => c.id) }, 'deployment config loaded');
      await serveUntilSignal(deps);
      return;
    }
    case 'demo': {
      const { values: demoArgs } = parseArgs({ args: argv.slice(1), options: { customers: { type: 'string' } } });
      const customers = demoArgs.customers === undefined ? undefined : Number(demoArgs.customers);
      if (customers !== undefined && !(Number.isInteger(customers) && customers >= 1 && customers <= 5_000_000)) fail('--customers must be an integer from 1 to 5000000');
      // Loaded here only: the demo's data generator (faker) costs start-up time `serve` never needs.
      const { runDemo } = await import('./demo.js');
      const { demoConnectors } = await import('../connectors/demo/index.js');
      const deps = buildDeps(config);
      // The demo always uses the demo silos, whatever oubli.config.ts the directory holds.
      deps.connectors = demoConnectors(config.dataDir);
      deps.startup.ready = false;
      await serveUntilSignal(deps, (url) => runDemo(deps, url, { customers }));
      return;
    }
    case 'migrate': {
      const deps = buildDeps(config);
      deps.db.$client.close();
      process.stdout.write(`migrations applied to ${config.dataDir}/oubli.db\n`);
      return;
    }
    case 'admin': {
      if (sub !== 'create') fail(USAGE);
      const { values } = parseArgs({ args: rest, options: { email: { type: 'string' }, role: { type: 'string' } } });
      if (!values.email) fail('admin create needs --email');
      if (!values.role || !ROLES.includes(values.role as Role)) fail(`--role must be one of ${ROLES.join(', ')}`);
      const piped = (await readStdin()).replace(/\r?\n$/, '');
      const password = piped || generatePassword();
      const deps = buildDeps(config);
      const user = await createUser(cliCtx(deps), { email: values.email, role: values.role as Role, password });
      // A CLI append is covered by a signed head at once, not only when a server next ticks.
      await deps.treeHeads.sign();
      process.stderr.write(`created ${user.role} ${user.id}\n`);
      if (!piped) process.stdout.write(`password (shown once): ${password}\n`);
      deps.db.$client.close();
      return;
    }
    case 'apikey': {
      if (sub !== 'create') fail(USAGE);
      const { values } = parseArgs({ args: rest, options: { name: { type: 'string' }, scopes: { type: 'string' } } });
      if (!values.name) fail('apikey create needs --name');
      const scopes = (values.scopes ?? '').split(',').map((s) => s.trim()).filter(Boolean);
      const bad = scopes.filter((s) => !SCOPES.includes(s as Scope));
      if (scopes.length === 0 || bad.length > 0) fail(`--scopes must list some of ${SCOPES.join(', ')}${bad.length ? ` (unknown: ${bad.join(', ')})` : ''}`);
      const deps = buildDeps(config);
      const created = createApiKey(cliCtx(deps), { name: values.name, scopes: scopes as Scope[] });
      await deps.treeHeads.sign();
      process.stderr.write(`created API key ${created.id} with scopes ${created.scopes.join(',')}\n`);
      process.stdout.write(`${created.key}\n`);
      deps.db.$client.close();
      return;
    }
    case 'audit': {
      if (sub !== 'verify') fail(USAGE);
      // The rebuild allocates a few small buffers per entry: a larger young generation cuts the
      // time spent collecting them on a million-entry log.
      v8.setFlagsFromString('--max-semi-space-size=64');
      const deps = buildDeps(config);
      const started = performance.now();
      const report = await verifyAuditLog(deps.db.$client, deps.keys.jwks());
      const ms = Math.round(performance.now() - started);
      deps.db.$client.close();
      if (!report.ok) fail(`audit log FAILED verification — ${report.problem}`, 1);
      process.stdout.write(`audit log ok: ${report.entries} entries, ${report.treeHeads} signed tree heads, root ${report.root} (${ms} ms)\n`);
      return;
    }
    case 'keys': {
      if (sub !== 'rotate') fail(USAGE);
      const deps = buildDeps(config);
      const kid = deps.keys.rotate();
      deps.audit.append({ type: 'signing_key.rotated', actor: CLI_ACTOR, data: { kid } });
      await deps.treeHeads.sign();
      deps.db.$client.close();
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

