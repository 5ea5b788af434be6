import { createHash, randomBytes } from 'node:crypto';
import type { ApiKey, Scope } from '../db/schema/api-keys.js';
import { NotFoundError } from '../errors.js';
import type { Ctx } from '../deps.js';
import type { ActiveApiKey } from './api-key-cache.js';

/** Recognisable in logs, configs and secret scanners. */
export const API_KEY_PREFIX = 'oubli_sk_';

export function hashApiKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

export interface PublicApiKey {
  id: string;
  name: string;
  prefix: string;
  scopes: Scope[];
  createdAt: string;
  revokedAt: string | null;
}

export function toPublicApiKey(k: ApiKey): PublicApiKey {
  return {
    id: k.id,
    name: k.name,
    prefix: k.prefix,
    scopes: k.scopes,
    createdAt: new Date(k.createdAt).toISOString(),
    revokedAt: k.revokedAt === null ? null : new Date(k.revokedAt).toISOString(),
  };
}

/** Creates a key: 32 random bytes, returned once; only its SHA-256 is kept. */
export async function createApiKey(ctx: Ctx, input: { name: string; scopes: Scope[] }): Promise<PublicApiKey & { key: string }> {
  const key = API_KEY_PREFIX + randomBytes(32).toString('base64url');
  const scopes = [...new Set(input.scopes)];
  const row = await ctx.db.tx(async (t) => {
    const created = await t.auth.insertApiKey({
      id: ctx.ids('key'),
      name: input.name,
      prefix: key.slice(0, API_KEY_PREFIX.length + 6),
      hash: hashApiKey(key),
      scopes,
      createdAt: ctx.now(),
      createdBy: `${ctx.actor.type}:${ctx.actor.id}`,
    });
    await ctx.audit.append(t, { type: 'api_key.created', actor: ctx.actor, data: { keyId: created.id, scopes } });
    return created;
  });
  return { ...toPublicApiKey(row), key };
}

export async function listApiKeys(ctx: Pick<Ctx, 'db'>): Promise<PublicApiKey[]> {
  return (await ctx.db.auth.apiKeys()).map(toPublicApiKey);
}

/**
 * Revokes a key; it stops working on the next request, on every instance (src/auth/api-key-cache.ts).
 * Revoking twice is a 404 the second time.
 */
export async function revokeApiKey(ctx: Ctx, id: string): Promise<void> {
  await ctx.db.tx(async (t) => {
    if (!(await t.auth.revokeApiKey(id, ctx.now()))) throw new NotFoundError('API_KEY_NOT_FOUND', 'no active API key with this id');
    await ctx.audit.append(t, { type: 'api_key.revoked', actor: ctx.actor, data: { keyId: id } });
  });
  await ctx.apiKeys.revoked();
}

/**
 * Looks a presented key up by its hash (a prepared point lookup on the hot path). Comparing
 * hashes through the unique index leaks nothing useful: an attacker cannot steer SHA-256 output.
 */
export async function findApiKey(ctx: Pick<Ctx, 'apiKeys'>, presented: string): Promise<ActiveApiKey | undefined> {
  if (!presented.startsWith(API_KEY_PREFIX) || presented.length > 128) return undefined;
  return ctx.apiKeys.find(hashApiKey(presented));
}
