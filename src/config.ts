import { isIP } from 'node:net';
import { resolve } from 'node:path';
import { z } from 'zod';
import type { CountryCode } from 'libphonenumber-js';

/** A 32-byte secret given in base64 (standard or URL-safe). */
function key32() {
  return z
    .string()
    .trim()
    .regex(/^[A-Za-z0-9+/_-]{43}=?$/, 'must be 32 bytes in base64 (e.g. `openssl rand -base64 32`)')
    .transform((v) => Buffer.from(v, 'base64'))
    .optional();
}

/**
 * A link shown to people: http(s) only (a `javascript:` URL in an href would run), or a path
 * of this site; `mailto:` where asked.
 */
function webUrl(opts: { mailto?: boolean } = {}) {
  const scheme = opts.mailto ? /^(https?:\/\/|mailto:|\/(?!\/))/i : /^(https?:\/\/|\/(?!\/))/i;
  return z.string().trim().max(2000).regex(scheme, `must be an http(s) URL${opts.mailto ? ', a mailto: link' : ''} or a path starting with /`).regex(/^[^\s"<>]+$/, 'must not contain spaces, quotes or angle brackets').optional();
}

/**
 * Everything the service reads from its environment, parsed once. Nothing below this module
 * reads process.env: the parsed Config is passed down.
 */
const EnvSchema = z.object({
  PORT: z.coerce.number({ error: 'must be a port number from 0 to 65535' }).int('must be a port number from 0 to 65535').min(0, 'must be a port number from 0 to 65535').max(65535, 'must be a port number from 0 to 65535').default(8080),
  HOST: z.string().min(1).default('127.0.0.1'),
  OUBLI_DATA_DIR: z.string().min(1).default('./data'),
  /** PostgreSQL as oubli's own store (several instances on one database); unset: SQLite in the data dir. */
  OUBLI_DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// (or postgresql://) connection URL')
    .optional(),
  OUBLI_DATABASE_POOL_SIZE: z.coerce.number().int().min(1).max(200).default(10),
  OUBLI_CONFIG: z.string().min(1).optional(),
  /** A private Ed25519 JWK (JSON) to sign with instead of the key files in the data dir. */
  OUBLI_SIGNING_KEY: z.string().min(1).optional(),
  /**
   * The 32-byte master key (base64) that seals each person's pseudonym key in the database, for
   * deployments whose instances share it; without it, `secrets/master.key` in the data dir.
   */
  OUBLI_MASTER_KEY: key32(),
  /**
   * The 32-byte key (base64) of the keyed pseudonyms of staff accounts and client addresses (audit
   * log, login throttling), for deployments whose instances share it; without it,
   * `secrets/pseudonym.key` in the data dir.
   */
  OUBLI_PSEUDONYM_KEY: key32(),
  /** Public base URL, used for links and to decide whether cookies are Secure. */
  OUBLI_PUBLIC_URL: z.string().url().optional(),
  /** Which reverse proxies in front of oubli may tell the client's address (X-Forwarded-For) and scheme. */
  OUBLI_TRUST_PROXY: z.string().default('false').transform(parseTrustProxy),
  OUBLI_LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** Default request body cap in bytes. */
  OUBLI_BODY_LIMIT: z.coerce.number().int().min(1024).default(1024 * 1024),
  /** Optional rate limit for API-key callers, requests per minute per key (0 = none). */
  OUBLI_API_RATE_LIMIT: z.coerce.number().int().min(0).default(0),
  /** Session lifetime for staff, in hours. */
  OUBLI_SESSION_HOURS: z.coerce.number().int().min(1).max(24 * 30).default(12),
  /** Region (ISO 3166-1 alpha-2) for phone numbers written without a country code. */
  OUBLI_PHONE_REGION: z.string().regex(/^[A-Z]{2}$/, 'must be an ISO 3166-1 alpha-2 code such as FR').default('FR'),
  /** Days an access/portability export stays downloadable before it is deleted. */
  OUBLI_EXPORT_TTL_DAYS: z.coerce.number().int().min(1).max(365).default(7),
  /** Days a closed request (cancelled, denied, expired, failed) keeps the identifiers it was opened with. */
  OUBLI_CLOSED_REQUEST_RETENTION_DAYS: z.coerce.number().int().min(0).max(3650).default(30),
  /** The controller's time zone: request deadlines are calendar days there. */
  OUBLI_TIMEZONE: z.string().min(1).refine((tz) => { try { new Intl.DateTimeFormat('en', { timeZone: tz }); return true; } catch { return false; } }, 'must be an IANA time zone such as Europe/Paris').default('Europe/Paris'),
  /** Engine: per-call connector timeout (ms), attempts before a task fails, concurrent calls per connector. */
  OUBLI_TASK_TIMEOUT_MS: z.coerce.number().int().min(100).default(30_000),
  OUBLI_TASK_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(100).default(5),
  OUBLI_CONNECTOR_CONCURRENCY: z.coerce.number().int().min(1).max(256).default(8),
  /**
   * Webhook receivers on loopback and private networks (tests, the demo). Off: a receiver's
   * URL must resolve to public addresses only, checked when connecting.
   */
  /** The privacy portal's branding (src/web/brand.ts): shown on every page and e-mail. */
  OUBLI_COMPANY_NAME: z.string().trim().min(1).max(100).regex(/^[^\p{Cc}]+$/u, 'must be one line of text').default('oubli'),
  OUBLI_COMPANY_LOGO_URL: webUrl(),
  OUBLI_PRIMARY_COLOR: z.string().regex(/^#[0-9a-fA-F]{6}$/, 'must be a colour such as #1f4fd1').default('#1f4fd1'),
  OUBLI_PRIVACY_POLICY_URL: webUrl(),
  OUBLI_CONTACT_URL: webUrl({ mailto: true }),
  /** SMTP for the portal's e-mails (smtp:// or smtps://user:pass@host:port); unset: files in <data dir>/mailbox. */
  OUBLI_SMTP_URL: z.string().regex(/^smtps?:\/\/[^\s]+$/, 'must be an smtp:// or smtps:// URL').optional(),
  OUBLI_MAIL_FROM: z.string().trim().regex(/^[^\p{Cc}<>]{0,100}<[^\s@<>]+@[^\s@<>]+>$|^[^\s@<>]+@[^\s@<>]+$/u, 'must be an address, or "Name <address>"').default('oubli <no-reply@localhost>'),
  /**
   * A second listener, `host:port` (`127.0.0.1:9464`, `[::1]:9464`), serving GET /metrics without
   * authentication; the API's own /metrics still needs the metrics:read scope.
   */
  OUBLI_METRICS_BIND: z.string().trim().transform(parseBind).optional(),
  OUBLI_WEBHOOK_ALLOW_PRIVATE: z.enum(['0', '1', 'false', 'true'], { error: 'must be 1 or 0 (true or false)' }).default('0').transform((v) => v === '1' || v === 'true'),
});

const BIND_HELP = 'must be host:port, such as 127.0.0.1:9464 or [::1]:9464 (a port from 0 to 65535)';

/** `host:port`, an IPv6 host in brackets. The host is required: no listener on every address by omission. */
function parseBind(raw: string, ctx: z.RefinementCtx): { host: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^\s:[\]]+)):(\d{1,5})$/.exec(raw);
  const host = m?.[1] ?? m?.[2];
  const port = Number(m?.[3]);
  if (!m || !host || port > 65535 || (m[1] !== undefined && isIP(host) !== 6)) {
    ctx.addIssue({ code: 'custom', message: BIND_HELP });
    return z.NEVER;
  }
  return { host, port };
}

/**
 * Proxies whose X-Forwarded-For / X-Forwarded-Proto are believed. The client's address is never
 * the left-most X-Forwarded-For entry (the client writes it): with `hops`, it is the entry that
 * many hops from the right; with `proxies`, the right-most address (socket first) that is not one
 * of the listed proxies — and a socket that is not one of them sends no trusted header at all.
 */
export type TrustProxy = { mode: 'off' } | { mode: 'hops'; hops: number } | { mode: 'proxies'; proxies: string[] };

const MAX_PROXY_HOPS = 10;
const TRUST_PROXY_HELP = `must be false, a number of proxies in front of oubli (1 to ${MAX_PROXY_HOPS}; true = 1), or a comma-separated list of proxy addresses and CIDRs (10.0.0.0/8,192.168.1.2)`;

function isAddressOrCidr(entry: string): boolean {
  const [address, prefix, ...rest] = entry.split('/');
  const family = isIP(address ?? '');
  if (family === 0 || rest.length > 0) return false;
  if (prefix === undefined) return true;
  return /^\d{1,3}$/.test(prefix) && Number(prefix) <= (family === 4 ? 32 : 128);
}

function parseTrustProxy(raw: string, ctx: z.RefinementCtx): TrustProxy {
  const v = raw.trim().toLowerCase();
  if (v === 'false' || v === '0') return { mode: 'off' };
  if (v === 'true') return { mode: 'hops', hops: 1 };
  if (/^\d+$/.test(v)) {
    const hops = Number(v);
    if (hops <= MAX_PROXY_HOPS) return { mode: 'hops', hops };
  } else {
    const proxies = v.split(',').map((e) => e.trim());
    if (proxies.every(isAddressOrCidr)) return { mode: 'proxies', proxies };
  }
  ctx.addIssue({ code: 'custom', message: TRUST_PROXY_HELP });
  return z.NEVER;
}

export interface Config {
  port: number;
  host: string;
  dataDir: string;
  /** postgres://… when PostgreSQL is oubli's store; undefined for the embedded SQLite file. */
  databaseUrl?: string;
  databasePoolSize: number;
  configFile?: string;
  signingKey?: string;
  masterKey?: Buffer;
  pseudonymKey?: Buffer;
  publicUrl?: string;
  trustProxy: TrustProxy;
  logLevel: z.infer<typeof EnvSchema>['OUBLI_LOG_LEVEL'];
  bodyLimit: number;
  apiRateLimit: number;
  sessionHours: number;
  phoneRegion: CountryCode;
  exportTtlDays: number;
  closedRequestRetentionDays: number;
  timeZone: string;
  taskTimeoutMs: number;
  taskMaxAttempts: number;
  connectorConcurrency: number;
  webhookAllowPrivate: boolean;
  portal: Brand;
  smtpUrl?: string;
  mailFrom: string;
  /** OUBLI_METRICS_BIND: where the unauthenticated metrics listener binds, if anywhere. */
  metricsBind?: { host: string; port: number };
}

/** Who the privacy portal speaks for (OUBLI_COMPANY_NAME, …). */
export interface Brand {
  companyName: string;
  logoUrl?: string;
  primaryColor: string;
  privacyPolicyUrl?: string;
  contactUrl?: string;
}

export class ConfigError extends Error {}

/** Parses the environment; a bad value throws a ConfigError naming the variable. */
export function loadConfig(env: Record<string, string | undefined>): Config {
  // Empty strings mean "unset", as in most shells' `VAR= cmd`.
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = EnvSchema.safeParse(cleaned);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new ConfigError(`invalid configuration:\n${lines.join('\n')}`);
  }
  const e = parsed.data;
  return {
    port: e.PORT,
    host: e.HOST,
    dataDir: resolve(e.OUBLI_DATA_DIR),
    databaseUrl: e.OUBLI_DATABASE_URL,
    databasePoolSize: e.OUBLI_DATABASE_POOL_SIZE,
    configFile: e.OUBLI_CONFIG,
    signingKey: e.OUBLI_SIGNING_KEY,
    masterKey: e.OUBLI_MASTER_KEY,
    pseudonymKey: e.OUBLI_PSEUDONYM_KEY,
    publicUrl: e.OUBLI_PUBLIC_URL,
    trustProxy: e.OUBLI_TRUST_PROXY,
    logLevel: e.OUBLI_LOG_LEVEL,
    bodyLimit: e.OUBLI_BODY_LIMIT,
    apiRateLimit: e.OUBLI_API_RATE_LIMIT,
    sessionHours: e.OUBLI_SESSION_HOURS,
    phoneRegion: e.OUBLI_PHONE_REGION as CountryCode,
    exportTtlDays: e.OUBLI_EXPORT_TTL_DAYS,
    closedRequestRetentionDays: e.OUBLI_CLOSED_REQUEST_RETENTION_DAYS,
    timeZone: e.OUBLI_TIMEZONE,
    taskTimeoutMs: e.OUBLI_TASK_TIMEOUT_MS,
    taskMaxAttempts: e.OUBLI_TASK_MAX_ATTEMPTS,
    connectorConcurrency: e.OUBLI_CONNECTOR_CONCURRENCY,
    webhookAllowPrivate: e.OUBLI_WEBHOOK_ALLOW_PRIVATE,
    portal: {
      companyName: e.OUBLI_COMPANY_NAME,
      logoUrl: e.OUBLI_COMPANY_LOGO_URL,
      primaryColor: e.OUBLI_PRIMARY_COLOR.toLowerCase(),
      privacyPolicyUrl: e.OUBLI_PRIVACY_POLICY_URL,
      contactUrl: e.OUBLI_CONTACT_URL,
    },
    smtpUrl: e.OUBLI_SMTP_URL,
    mailFrom: e.OUBLI_MAIL_FROM,
    metricsBind: e.OUBLI_METRICS_BIND,
  };
}
