import type { App } from '../../src/app.js';
import type { Deps } from '../../src/deps.js';
import type { Scope } from '../../src/db/schema/api-keys.js';
import { createApiKey } from '../../src/auth/api-keys.js';
import { systemCtx } from './deps.js';

/** Creates an API key with the given scopes and returns the Bearer header for it. */
export async function bearer(deps: Deps, scopes: Scope[], name = 'test'): Promise<{ authorization: string; keyId: string }> {
  const k = await createApiKey(systemCtx(deps), { name, scopes });
  return { authorization: `Bearer ${k.key}`, keyId: k.id };
}

export interface CallOptions {
  headers?: Record<string, string>;
  body?: unknown;
  /** Raw body (string), sent as is. */
  raw?: string;
}

/** `app.request()` with JSON in and out. */
export async function call(app: App, method: string, path: string, opts: CallOptions = {}) {
  const headers: Record<string, string> = { ...opts.headers };
  let body: string | undefined;
  if (opts.raw !== undefined) body = opts.raw;
  else if (opts.body !== undefined) body = JSON.stringify(opts.body);
  if (body !== undefined && !Object.keys(headers).some((h) => h.toLowerCase() === 'content-type')) {
    headers['content-type'] = 'application/json';
  }
  const res = await app.request(path, { method, headers, body });
  const text = await res.text();
  let json: any;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, json, text };
}
