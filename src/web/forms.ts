/**
 * What every page form's POST is checked for, on the portal and the dashboard alike: it comes
 * from this site (the staff API's same-origin check, src/http/auth.ts) and carries the CSRF token
 * made from the page's basis (a session's token, or a browser cookie before one exists).
 */
import type { Context } from 'hono';
import type { AppEnv } from '../http/env.js';
import { assertSameOrigin } from '../http/auth.js';
import { csrfMatches } from '../portal/sessions.js';

/** A form's string fields (a file part is dropped). */
export async function formFields(c: Context): Promise<Record<string, string>> {
  const body = await c.req.parseBody();
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(body)) if (typeof v === 'string') out[k] = v;
  return out;
}

/** From this site: OUBLI_PUBLIC_URL's origin when set, else the request's. */
export function fromThisSite(c: Context, publicOrigin: string | undefined): boolean {
  try {
    assertSameOrigin(c as Context<AppEnv>, publicOrigin ?? new URL(c.req.url).origin);
    return true;
  } catch {
    return false;
  }
}

/** The form's fields when it comes from this site with the token of `basis`; undefined otherwise. */
export async function checkedForm(c: Context<AppEnv>, publicOrigin: string | undefined, basis: string | undefined): Promise<Record<string, string> | undefined> {
  if (!fromThisSite(c, publicOrigin)) return undefined;
  const form = await formFields(c);
  return csrfMatches(c.get('deps'), basis, form.csrf) ? form : undefined;
}
