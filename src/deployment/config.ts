/**
 * The deployment's own configuration: its silos (connectors), which request types wait for
 * DPO approval and which identity types identify one person, declared in a typed
 * `oubli.config.ts` (like drizzle.config.ts):
 *
 *   import { defineConfig } from 'oubli/src/deployment/config.ts';
 *   export default defineConfig({ connectors: [ { id: 'shop', driver: 'postgres', … } ] });
 *
 * A connector is either a declaration of the SQL or REST connector (an object with `driver`,
 * connectors/declared.ts) or any object implementing the Connector contract. Loading validates
 * everything with zod — an error names the connector and the field (`connector "shop":
 * collections.orders.table: required`) — then runs each connector's `init()` against the live silo (tables and columns exist), so a
 * wrong config stops start-up with a clear message instead of failing requests later.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { z } from 'zod';
import { tsImport } from 'tsx/esm/api';
import type { CountryCode } from 'libphonenumber-js';
import type { Connector } from '../../connectors/types.js';
import { declaredConnector, isDeclaredConnector, type DeclaredConnectorConfig } from '../../connectors/declared.js';
import { DEFAULT_UNIQUE_TYPES } from '../requests/review.js';

export const REQUEST_TYPES = ['access', 'portability', 'erasure'] as const;
export type RequestType = (typeof REQUEST_TYPES)[number];

export type ConnectorEntry = Connector | DeclaredConnectorConfig;

export interface DeploymentConfig {
  /** The silos, each a SQL or REST connector declaration or a Connector object. */
  connectors: ConnectorEntry[];
  /** Request types that wait in `awaiting_approval` for the DPO (default: none). */
  requireApproval?: RequestType[];
  identities?: {
    /**
     * Identity types of which a person has one value (default: email, customer_id,
     * loyalty_card). A record reached through a discovered identity that holds a different
     * value of one of these belongs to someone else: the request stops for the DPO. Leave out
     * types people share (a household's phone).
     */
    unique?: string[];
  };
}

/** Typed identity: gives editors and tsc the shape of oubli.config.ts. */
export function defineConfig<const T extends DeploymentConfig>(config: T): T {
  return config;
}

export interface LoadedDeployment {
  /** The file loaded, or null when none exists (the service then runs with no connectors). */
  source: string | null;
  connectors: Connector[];
  requireApproval: RequestType[];
  uniqueIdentityTypes: string[];
}

/** A configuration problem; the message is meant for the operator, as is. */
export class DeploymentConfigError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'DeploymentConfigError';
  }
}

export const CONFIG_FILE_NAMES = ['oubli.config.ts', 'oubli.config.mts', 'oubli.config.js', 'oubli.config.mjs'];

/** `configFile` if given (it must exist), else the first oubli.config.* in `cwd`, else null. */
export function findDeploymentConfig(cwd: string, configFile?: string): string | null {
  if (configFile) {
    const p = resolve(cwd, configFile);
    if (!existsSync(p)) throw new DeploymentConfigError(`OUBLI_CONFIG: ${p} does not exist`);
    return p;
  }
  for (const name of CONFIG_FILE_NAMES) {
    const p = resolve(cwd, name);
    if (existsSync(p)) return p;
  }
  return null;
}

const Fn = z.custom<(...args: unknown[]) => unknown>((v) => typeof v === 'function', 'must be a function');

/** The shape a hand-written Connector object must have (its behaviour is the conformance suite's job). */
const ConnectorObject = z.object({
  id: z.string().regex(/^[a-z0-9_-]{1,64}$/, 'must be 1–64 characters of [a-z0-9_-]'),
  title: z.string().min(1),
  lookupBy: z.array(z.string().regex(/^[a-z][a-z0-9_]{0,39}$/, 'identity types are lower-case [a-z0-9_]')),
  capabilities: z.object({ access: z.boolean(), erasure: z.boolean(), callback: z.boolean().optional(), rectification: z.boolean().optional(), restriction: z.boolean().optional() }),
  access: Fn,
  erase: Fn,
  health: Fn.optional(),
  init: Fn.optional(),
  close: Fn.optional(),
});

const TopLevel = z
  .object({
    connectors: z.array(z.unknown()).default([]),
    requireApproval: z.array(z.enum(REQUEST_TYPES)).default([]),
    identities: z
      .object({ unique: z.array(z.string().regex(/^[a-z][a-z0-9_]{0,39}$/, 'identity types are lower-case [a-z0-9_]')).default([...DEFAULT_UNIQUE_TYPES]) })
      .strict()
      .default({ unique: [...DEFAULT_UNIQUE_TYPES] }),
  })
  .strict();

const requiredMessage = { error: (iss: { input?: unknown; code?: string }) => (iss.input === undefined && iss.code === 'invalid_type' ? 'required' : undefined) };

function connectorLabel(entry: unknown, index: number): string {
  const id = (entry as { id?: unknown } | null)?.id;
  return typeof id === 'string' && id ? `connector "${id}"` : `connectors.${index}`;
}

export interface BuildOptions {
  /** OUBLI_PHONE_REGION: how declared connectors read phone numbers written without a country code. */
  phoneRegion?: CountryCode;
  /** OUBLI_WEBHOOK_ALLOW_PRIVATE: webhook connectors may reach loopback and private networks. */
  webhookAllowPrivate?: boolean;
}

/** Validates a loaded module's config and builds its connectors (no I/O). */
export function buildDeployment(raw: unknown, source: string | null = null, opts: BuildOptions = {}): LoadedDeployment {
  const top = TopLevel.safeParse(raw, requiredMessage);
  if (!top.success) {
    throw new DeploymentConfigError(top.error.issues.map((i) => `${i.path.map(String).join('.') || '(config)'}: ${i.message}`).join('\n'));
  }
  const connectors: Connector[] = [];
  const problems: string[] = [];
  top.data.connectors.forEach((entry, index) => {
    if (isDeclaredConnector(entry)) {
      try {
        connectors.push(declaredConnector(entry, { phoneRegion: opts.phoneRegion, webhookAllowPrivate: opts.webhookAllowPrivate }));
      } catch (err) {
        problems.push((err as Error).message);
      }
      return;
    }
    const parsed = ConnectorObject.safeParse(entry, requiredMessage);
    if (!parsed.success) {
      const who = connectorLabel(entry, index);
      for (const i of parsed.error.issues) problems.push(`${who}: ${i.path.map(String).join('.') || '(connector)'}: ${i.message}`);
      return;
    }
    connectors.push(entry as Connector);
  });
  const seen = new Set<string>();
  for (const c of connectors) {
    if (seen.has(c.id)) problems.push(`connector "${c.id}": id: declared more than once`);
    seen.add(c.id);
  }
  if (problems.length) throw new DeploymentConfigError(problems.join('\n'));
  return { source, connectors, requireApproval: top.data.requireApproval, uniqueIdentityTypes: top.data.identities.unique };
}

/**
 * Imports a config file (TypeScript works: tsx is registered by bin/oubli.js), validates it,
 * builds its connectors and, unless `init: false`, checks each against its live silo. Throws
 * DeploymentConfigError naming the file, the connector and the field; connectors built before a
 * failure are closed.
 */
export async function loadDeploymentConfig(path: string, opts: { init?: boolean } & BuildOptions = {}): Promise<LoadedDeployment> {
  const abs = resolve(path);
  let mod: Record<string, unknown>;
  try {
    // tsImport loads a TypeScript file as ESM wherever it lives (a config outside any
    // `"type": "module"` package would otherwise be read as CommonJS and fail).
    mod = (/\.[cm]?ts$/.test(abs) ? await tsImport(pathToFileURL(abs).href, import.meta.url) : await import(pathToFileURL(abs).href)) as Record<string, unknown>;
  } catch (err) {
    throw new DeploymentConfigError(`${abs}: ${(err as Error).message}`, { cause: err });
  }
  // A file compiled as CommonJS arrives wrapped once more: { default: module.exports }.
  const inner = mod.default as Record<string, unknown> | undefined;
  const exports = inner && typeof inner === 'object' && ('__esModule' in inner || 'default' in inner) && !('connectors' in inner) ? inner : mod;
  const raw = exports.default ?? exports.config;
  if (raw === undefined) throw new DeploymentConfigError(`${abs}: export the configuration as default (export default defineConfig({...}))`);
  let deployment: LoadedDeployment;
  try {
    deployment = buildDeployment(raw, abs, opts);
  } catch (err) {
    throw new DeploymentConfigError(`${abs}:\n${(err as Error).message}`, { cause: err });
  }
  if (opts.init === false) return deployment;
  const failures: string[] = [];
  await Promise.all(
    deployment.connectors.map(async (c) => {
      try {
        await c.init?.();
      } catch (err) {
        const msg = (err as Error).message;
        failures.push(msg.includes(`connector "${c.id}"`) ? msg : `connector "${c.id}": ${msg}`);
      }
    }),
  );
  if (failures.length) {
    await closeConnectors(deployment.connectors);
    throw new DeploymentConfigError(`${abs}: start-up check against the silos failed:\n${failures.join('\n')}`);
  }
  return deployment;
}

/** Finds and loads the deployment config; none found → no connectors. */
export async function loadDeployment(cwd: string, configFile?: string, opts: { init?: boolean } & BuildOptions = {}): Promise<LoadedDeployment> {
  const path = findDeploymentConfig(cwd, configFile);
  if (!path) return { source: null, connectors: [], requireApproval: [], uniqueIdentityTypes: [...DEFAULT_UNIQUE_TYPES] };
  return loadDeploymentConfig(path, opts);
}

export async function closeConnectors(connectors: Connector[]): Promise<void> {
  await Promise.allSettled(connectors.map((c) => c.close?.()));
}
