/**
 * The webhook connector's configuration: which internal system to tell (its URL), how to sign
 * (a Standard Webhooks secret: `whsec_…` for HMAC, `whsk_…` for Ed25519), which identities it
 * receives and in which form, and how long it has to answer.
 *
 * Parsed with zod once, when the connector is built; an error names the connector and the
 * field. Secrets are plain strings the deployment's oubli.config.ts reads from its environment;
 * they are never logged, and errors never quote them.
 */
import { z } from 'zod';
import { signerFromSecret } from '../../src/webhooks/signing.js';
import { isCidr } from '../net/addresses.js';
import { ConnectorError } from '../types.js';

const IdentityType = z.string().regex(/^[a-z][a-z0-9_]{0,39}$/, 'identity types are lower-case [a-z0-9_]');

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** A duration: milliseconds, or `90s`, `30m`, `12h`, `7d`. */
const Duration = z.union([z.number().int().min(0), z.string().regex(/^\d{1,9}(ms|s|m|h|d)$/, "a duration such as '7d', '12h', '30m' or a number of ms")]).transform((v) => {
  if (typeof v === 'number') return v;
  const [, n, unit] = /^(\d+)(ms|s|m|h|d)$/.exec(v)!;
  return Number(n) * UNITS[unit!]!;
});

const Secret = z.union([z.string(), z.undefined()]).transform((v, ctx): string => {
  if (v === undefined || v === '') {
    ctx.addIssue({ code: 'custom', message: 'required (is its environment variable set?)' });
    return z.NEVER;
  }
  return v;
});

const HttpUrl = z
  .string()
  .url()
  .refine((u) => /^https?:$/.test(new URL(u).protocol), 'only http and https URLs are allowed')
  .refine((u) => !new URL(u).username && !new URL(u).password, 'no credentials in the URL');

export const WebhookConnectorSchema = z
  .object({
    driver: z.literal('webhook'),
    /** Stable id, [a-z0-9_-]. */
    id: z.string().regex(/^[a-z0-9_-]{1,64}$/, 'must be 1–64 characters of [a-z0-9_-]'),
    title: z.string().min(1),
    /** Where the events are POSTed. */
    url: HttpUrl,
    /** Standard Webhooks signing secret: `whsec_…` (v1, HMAC-SHA256) or `whsk_…` (v1a, Ed25519; give the receiver the `whpk_…` public key). */
    secret: Secret.refine((s) => {
      try {
        signerFromSecret(s);
        return true;
      } catch {
        return false;
      }
    }, 'must be a Standard Webhooks secret: whsec_<base64 of 24–64 bytes> or whsk_<base64 Ed25519 key>'),
    /** Identity types this system is told (it holds people by these). */
    lookupBy: z.array(IdentityType).min(1),
    /**
     * How identities travel: `hashed` (default) — `{type, hash}`, the lowercase hex SHA-256 of
     * the normalised value (lower-case email, E.164 phone), or HMAC-SHA256 keyed by `hashKey`
     * when given; `clear` — `{type, value}`.
     */
    identities: z.enum(['hashed', 'clear']).default('hashed'),
    /** Key of the identities' HMAC (shared with the receiver), so that a hash cannot be checked against guesses by anyone else. */
    hashKey: Secret.optional(),
    capabilities: z
      .object({
        /** The system answers `access.requested` (its records become part of the export). */
        access: z.boolean().default(false),
        /** The system answers `erasure.requested`. */
        erasure: z.boolean().default(true),
      })
      .strict()
      .default({ access: false, erasure: true }),
    /** How long the system has to answer before the task fails (CALLBACK_TIMEOUT) and the DPO is asked. */
    answerWithin: Duration.pipe(z.number().min(60_000, 'at least a minute').max(90 * 86_400_000, 'at most 90 days')).default(7 * 86_400_000),
    /** Reminders (the same message again) while unanswered; `false`: none. */
    remindEvery: z.union([z.literal(false), Duration.pipe(z.number().min(60_000, 'at least a minute'))]).default(86_400_000),
    /** Per HTTP exchange (ms); exceeded → retryable SILO_TIMEOUT. */
    timeoutMs: z.number().int().min(100).max(120_000).default(15_000),
    /** Largest answer read (bytes): a synchronous access answer with records. Longer → SILO_BAD_RESPONSE (cut, not parsed). */
    maxResponseBytes: z.number().int().min(1024).max(64 * 1024 * 1024).default(5 * 1024 * 1024),
    /**
     * Private networks the system may be on: `true` (loopback, RFC 1918, link-local, ULA), or a
     * list of CIDRs. Default false (OUBLI_WEBHOOK_ALLOW_PRIVATE=1 allows them for every
     * webhook). Cloud metadata addresses stay refused.
     */
    allowPrivateNetwork: z.union([z.boolean(), z.array(z.string().refine(isCidr, 'must be a CIDR such as 10.0.0.0/8')).min(1)]).default(false),
    /** A URL whose 2xx to a GET means the system is up (health checks); none: no check. */
    healthUrl: HttpUrl.optional(),
  })
  .strict();

/** What a deployment writes in oubli.config.ts. */
export type WebhookConnectorConfig = z.input<typeof WebhookConnectorSchema>;
export type ParsedWebhookConfig = z.output<typeof WebhookConnectorSchema>;

function label(input: unknown): string {
  const id = (input as { id?: unknown } | null)?.id;
  return typeof id === 'string' && id ? `connector "${id}"` : 'connector (no id)';
}

export function parseWebhookConfig(input: unknown): ParsedWebhookConfig {
  const r = WebhookConnectorSchema.safeParse(input, {
    error: (iss) => (iss.input === undefined && iss.code === 'invalid_type' ? 'required' : undefined),
  });
  if (!r.success) {
    const who = label(input);
    throw new ConnectorError('CONNECTOR_CONFIG', r.error.issues.map((i) => `${who}: ${i.path.map(String).join('.') || '(root)'}: ${i.message}`).join('\n'), false);
  }
  if (!r.data.capabilities.access && !r.data.capabilities.erasure) {
    throw new ConnectorError('CONNECTOR_CONFIG', `${label(input)}: capabilities: enable access, erasure or both`, false);
  }
  return r.data;
}
