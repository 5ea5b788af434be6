import { createUser } from '../../src/auth/users.js';
import type { Role } from '../../src/db/schema/users.js';
import type { App } from '../../src/app.js';
import type { Deps } from '../../src/deps.js';
import { systemCtx } from '../helpers/deps.js';
import { call } from '../helpers/http.js';

export const PASSWORD = 'correct horse battery staple';

export async function staff(deps: Deps, email: string, role: Role, password = PASSWORD) {
  return createUser(systemCtx(deps), { email, role, password });
}

/** Logs in and returns the `name=value` cookie pair to send back. */
export async function loginCookie(app: App, email: string, password = PASSWORD, headers: Record<string, string> = {}) {
  const res = await call(app, 'POST', '/v1/auth/login', { body: { email, password }, headers });
  if (res.status !== 200) throw new Error(`login failed: ${res.status} ${res.text}`);
  return res.headers.get('set-cookie')!.split(';')[0]!;
}

export async function auditTexts(deps: Deps): Promise<string[]> {
  return (await deps.audit.entries(0, 1000)).map((e) => e.entry);
}

export async function auditTypes(deps: Deps): Promise<string[]> {
  return (await auditTexts(deps)).map((t) => JSON.parse(t).type as string);
}
