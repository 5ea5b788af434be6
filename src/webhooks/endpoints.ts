/**
 * Managing webhook endpoints: register, list, change, delete, rotate the secret, and the
 * operator's levers on deliveries (redeliver one, recover what failed since a time).
 *
 * - A URL is checked when it is registered or changed, as a connection would check it (http or
 *   https, no credentials, every address its host resolves to outside loopback, private,
 *   link-local and metadata ranges unless OUBLI_WEBHOOK_ALLOW_PRIVATE): a clear 400 now. The
 *   check that protects is still the one at connect time (connectors/net), against DNS rebinding.
 * - The secret (`whsec_…` for v1, or the `whpk_…` public key of a v1a pair) is shown once, at
 *   creation and at each rotation; it is stored sealed (./secrets.ts). A rotation keeps the old
 *   secret signing beside the new one for 24 hours.
 * - Every change is audited with the endpoint id and the URL's origin only (a path or query may
 *   carry a receiver's token).
 */
import type { Ctx } from '../deps.js';
import type { Stores } from '../db/handle.js';
import type { WebhookDelivery, WebhookEndpoint, WebhookEvent, WebhookScheme } from '../db/schema/webhooks.js';
import { OutboundError } from '../../connectors/net/index.js';
import { ConflictError, NotFoundError, ValidationError } from '../errors.js';
import { sealSecret, openSecret } from './secrets.js';
import { generateKeyPair, generateSecret, publicJwk, publicKeyOf, ROTATION_OVERLAP_MS } from './signing.js';
import { MAX_ATTEMPTS } from './retry.js';
import { WEBHOOK_CHANNEL } from './events.js';

export interface PublicEndpoint {
  id: string;
  url: string;
  description: string;
  events: WebhookEvent[];
  scheme: WebhookScheme;
  status: WebhookEndpoint['status'];
  disabledReason: string | null;
  disabledAt: string | null;
  failingSince: string | null;
  /** Until when the previous secret still signs beside the current one (after a rotation). */
  previousSecretUntil: string | null;
  createdAt: string;
  updatedAt: string;
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

export function toPublicEndpoint(e: WebhookEndpoint, now: number): PublicEndpoint {
  return {
    id: e.id,
    url: e.url,
    description: e.description,
    events: e.events,
    scheme: e.scheme,
    status: e.status,
    disabledReason: e.disabledReason,
    disabledAt: iso(e.disabledAt),
    failingSince: iso(e.failingSince),
    previousSecretUntil: e.previousUntil !== null && e.previousUntil > now ? iso(e.previousUntil) : null,
    createdAt: iso(e.createdAt)!,
    updatedAt: iso(e.updatedAt)!,
  };
}

/** What the receiver needs to verify: the HMAC secret (v1) or the public key (v1a), shown once. */
export type EndpointCredential = { secret: string } | { publicKey: string };

/** A fresh signing credential: what is sealed in the row, and what the receiver is given. */
function newCredential(scheme: WebhookScheme): { stored: string; given: EndpointCredential } {
  if (scheme === 'v1') {
    const secret = generateSecret();
    return { stored: secret, given: { secret } };
  }
  const pair = generateKeyPair();
  return { stored: pair.secretKey, given: { publicKey: pair.publicKey } };
}

/** Checks a receiver URL now; a clear 400 for what a connection would refuse. */
async function checkedUrl(ctx: Ctx, raw: string): Promise<string> {
  try {
    return (await ctx.webhookClient.checkDestination(raw)).href;
  } catch (err) {
    if (!(err instanceof OutboundError)) throw err;
    const code = err.code === 'ADDRESS_FORBIDDEN' ? 'WEBHOOK_ADDRESS_FORBIDDEN' : err.code === 'DNS_FAILED' ? 'WEBHOOK_URL_UNRESOLVABLE' : 'WEBHOOK_URL_NOT_ALLOWED';
    throw new ValidationError(code, err.message, { fields: [{ path: 'url', message: err.message }] });
  }
}

const originOf = (url: string) => new URL(url).origin;

async function audit(ctx: Ctx, t: Stores, type: string, data: Record<string, unknown>): Promise<void> {
  await ctx.audit.append(t, { type, actor: ctx.actor, data });
}

async function mustExist(t: Stores, id: string, lock = false): Promise<WebhookEndpoint> {
  const e = lock ? await t.webhooks.lockEndpoint(id) : await t.webhooks.endpoint(id);
  if (!e) throw new NotFoundError('WEBHOOK_NOT_FOUND', 'no such webhook endpoint');
  return e;
}

export interface CreateEndpointInput {
  url: string;
  events: WebhookEvent[];
  description?: string;
  scheme?: WebhookScheme;
}

export async function createEndpoint(ctx: Ctx, input: CreateEndpointInput): Promise<PublicEndpoint & EndpointCredential> {
  const url = await checkedUrl(ctx, input.url);
  const scheme = input.scheme ?? 'v1';
  const id = ctx.ids('whe');
  const now = ctx.now();
  const { stored, given } = newCredential(scheme);
  const events = [...new Set(input.events)];
  const row = await ctx.db.tx(async (t) => {
    await t.webhooks.insertEndpoint({
      id,
      url,
      description: input.description ?? '',
      events,
      scheme,
      secret: sealSecret(ctx.secrets.masterKey, id, stored),
      status: 'enabled',
      createdAt: now,
      updatedAt: now,
    });
    await audit(ctx, t, 'webhook.created', { endpoint: id, origin: originOf(url), events, scheme });
    return (await t.webhooks.endpoint(id))!;
  });
  return { ...toPublicEndpoint(row, now), ...given };
}

export async function listEndpoints(ctx: Ctx): Promise<PublicEndpoint[]> {
  const now = ctx.now();
  return (await ctx.db.webhooks.endpoints()).map((e) => toPublicEndpoint(e, now));
}

export async function getEndpoint(ctx: Ctx, id: string): Promise<PublicEndpoint> {
  return toPublicEndpoint(await mustExist(ctx.db, id), ctx.now());
}

export interface EndpointChange {
  url?: string;
  events?: WebhookEvent[];
  description?: string;
  /** false disables it (what it still had to send fails, recoverable); true enables it again. */
  enabled?: boolean;
}

export async function updateEndpoint(ctx: Ctx, id: string, change: EndpointChange): Promise<PublicEndpoint> {
  const url = change.url === undefined ? undefined : await checkedUrl(ctx, change.url);
  const now = ctx.now();
  const row = await ctx.db.tx(async (t) => {
    const before = await mustExist(t, id, true);
    const enable = change.enabled === true && before.status === 'disabled';
    const disable = change.enabled === false && before.status === 'enabled';
    await t.webhooks.updateEndpoint(
      id,
      {
        ...(url !== undefined ? { url } : {}),
        ...(change.events !== undefined ? { events: [...new Set(change.events)] } : {}),
        ...(change.description !== undefined ? { description: change.description } : {}),
        ...(enable ? { status: 'enabled', disabledReason: null, disabledAt: null, failingSince: null } : {}),
      },
      now,
    );
    if (disable) await disableEndpoint(ctx, t, id, 'disabled by an operator', now);
    await audit(ctx, t, 'webhook.updated', {
      endpoint: id,
      ...(url !== undefined ? { origin: originOf(url) } : {}),
      ...(change.events !== undefined ? { events: change.events } : {}),
      ...(enable ? { enabled: true } : {}),
    });
    if (enable) t.afterCommit(() => void ctx.db.notify(WEBHOOK_CHANNEL).catch(() => {}));
    return (await t.webhooks.endpoint(id))!;
  });
  return toPublicEndpoint(row, now);
}

/**
 * Disables an endpoint, in the transaction `t`: its pending deliveries fail (recoverable once it
 * is enabled again), a `webhook.disabled` entry tells the DPO. False when it was not enabled.
 */
export async function disableEndpoint(ctx: Pick<Ctx, 'audit' | 'actor'>, t: Stores, id: string, reason: string, now: number): Promise<boolean> {
  if (!(await t.webhooks.disable(id, reason, now))) return false;
  const failed = await t.webhooks.failPending(id, 'ENDPOINT_DISABLED', now);
  await ctx.audit.append(t, { type: 'webhook.disabled', actor: ctx.actor, data: { endpoint: id, reason, deliveriesFailed: failed } });
  return true;
}

export async function deleteEndpoint(ctx: Ctx, id: string): Promise<void> {
  await ctx.db.tx(async (t) => {
    if (!(await t.webhooks.deleteEndpoint(id))) throw new NotFoundError('WEBHOOK_NOT_FOUND', 'no such webhook endpoint');
    await audit(ctx, t, 'webhook.deleted', { endpoint: id });
  });
}

/** A new secret; the previous one signs beside it for 24 hours (one previous at most). */
export async function rotateSecret(ctx: Ctx, id: string): Promise<PublicEndpoint & EndpointCredential> {
  const now = ctx.now();
  return ctx.db.tx(async (t) => {
    // Locked: two rotations at once must not both keep the same previous secret (one new secret lost).
    const before = await mustExist(t, id, true);
    const { stored, given } = newCredential(before.scheme);
    await t.webhooks.updateEndpoint(
      id,
      { secret: sealSecret(ctx.secrets.masterKey, id, stored), previousSecret: before.secret, previousUntil: now + ROTATION_OVERLAP_MS },
      now,
    );
    await audit(ctx, t, 'webhook.secret_rotated', { endpoint: id, previousUntil: iso(now + ROTATION_OVERLAP_MS) });
    return { ...toPublicEndpoint((await t.webhooks.endpoint(id))!, now), ...given };
  });
}

export interface PublicDelivery {
  id: string;
  type: WebhookEvent;
  status: WebhookDelivery['status'];
  attempts: number;
  maxAttempts: number;
  createdAt: string;
  lastAttemptAt: string | null;
  /** While pending: when the next attempt is due. */
  nextAttemptAt: string | null;
  deliveredAt: string | null;
  lastStatus: number | null;
  lastError: string | null;
  lastResponse: string | null;
}

function toPublicDelivery(d: WebhookDelivery): PublicDelivery {
  return {
    id: d.id,
    type: d.type,
    status: d.status,
    attempts: d.attempts,
    maxAttempts: MAX_ATTEMPTS,
    createdAt: iso(d.createdAt)!,
    lastAttemptAt: iso(d.lastAttemptAt),
    nextAttemptAt: d.status === 'pending' ? iso(d.nextAttemptAt) : null,
    deliveredAt: iso(d.deliveredAt),
    lastStatus: d.lastStatus,
    lastError: d.lastError,
    lastResponse: d.lastResponse,
  };
}

/** An endpoint's deliveries, newest first; `cursor` pages on. */
export async function listDeliveries(ctx: Ctx, endpointId: string, limit: number, cursor?: string): Promise<{ deliveries: PublicDelivery[]; cursor: string | null }> {
  await mustExist(ctx.db, endpointId);
  const before = cursor === undefined ? undefined : decodeDeliveryCursor(cursor);
  const rows = await ctx.db.webhooks.deliveries(endpointId, limit + 1, before);
  const more = rows.length > limit;
  if (more) rows.pop();
  return { deliveries: rows.map(toPublicDelivery), cursor: more ? `wd1.${rows.at(-1)!.seq}` : null };
}

function decodeDeliveryCursor(cursor: string): number {
  const m = /^wd1\.(\d{1,15})$/.exec(cursor);
  if (!m) throw new ValidationError('INVALID_CURSOR', 'cursor is not one this API returned');
  return Number(m[1]);
}

/** Sends a finished delivery again, now (same `webhook-id`: a receiver that had it deduplicates). */
export async function redeliver(ctx: Ctx, deliveryId: string): Promise<PublicDelivery> {
  const now = ctx.now();
  return ctx.db.tx(async (t) => {
    const d = await t.webhooks.delivery(deliveryId);
    const endpoint = d && (await t.webhooks.endpoint(d.endpointId));
    if (!d || !endpoint) throw new NotFoundError('DELIVERY_NOT_FOUND', 'no such webhook delivery');
    if (endpoint.status !== 'enabled') throw new ConflictError('WEBHOOK_DISABLED', 'the endpoint is disabled: enable it first (PATCH {"enabled": true})');
    if (!(await t.webhooks.redeliver(deliveryId, now))) throw new ConflictError('DELIVERY_PENDING', 'the delivery is still being attempted');
    await audit(ctx, t, 'webhook.redelivered', { endpoint: d.endpointId, delivery: deliveryId });
    t.afterCommit(() => void ctx.db.notify(WEBHOOK_CHANNEL).catch(() => {}));
    return toPublicDelivery((await t.webhooks.delivery(deliveryId))!);
  });
}

/** Queues again every failed delivery of the endpoint created since `since` (in order). */
export async function recover(ctx: Ctx, endpointId: string, since: number): Promise<{ requeued: number }> {
  const now = ctx.now();
  if (since > now) throw new ValidationError('SINCE_IN_FUTURE', '`since` is in the future');
  return ctx.db.tx(async (t) => {
    const endpoint = await mustExist(t, endpointId);
    if (endpoint.status !== 'enabled') throw new ConflictError('WEBHOOK_DISABLED', 'the endpoint is disabled: enable it first (PATCH {"enabled": true})');
    const requeued = await t.webhooks.recover(endpointId, since, now);
    await audit(ctx, t, 'webhook.recovered', { endpoint: endpointId, since: iso(since), requeued });
    t.afterCommit(() => void ctx.db.notify(WEBHOOK_CHANNEL).catch(() => {}));
    return { requeued };
  });
}

/** The public keys of v1a endpoints, as a JWK set (never mixed with the audit keys' set). */
export async function webhookJwks(ctx: Ctx): Promise<{ keys: (ReturnType<typeof publicJwk> & { endpoint: string })[] }> {
  const keys = [];
  const now = ctx.now();
  for (const e of await ctx.db.webhooks.endpoints()) {
    if (e.scheme !== 'v1a') continue;
    keys.push({ ...publicJwk(publicKeyOf(openSecret(ctx.secrets.masterKey, e.id, e.secret))), endpoint: e.id });
    if (e.previousSecret && e.previousUntil !== null && now < e.previousUntil) {
      keys.push({ ...publicJwk(publicKeyOf(openSecret(ctx.secrets.masterKey, e.id, e.previousSecret))), endpoint: e.id });
    }
  }
  return { keys };
}
