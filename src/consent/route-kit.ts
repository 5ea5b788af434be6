/** What the consent registry's sub-apps share: their scopes, the verb context, the GPC header. */
import type { Context } from 'hono';
import { actorOf, requireScope } from '../http/auth.js';
import type { AppEnv } from '../http/env.js';
import type { Ctx } from '../deps.js';

export const admin = requireScope('admin');
export const read = requireScope('consents:read');
export const write = requireScope('consents:write');

/** The verbs' context: the app's deps and who calls. */
export const ctxOf = (c: Context<AppEnv>): Ctx => ({ ...c.get('deps'), actor: actorOf(c) });

/** The Global Privacy Control header counts only when exactly `1` (GPC spec §3). */
export const gpcHeader = (c: Context<AppEnv>) => c.req.header('sec-gpc') === '1';
