/**
 * `oubli demo`: a service with demo silos and data, and fresh one-time credentials printed at
 * each start (the previous ones were shown once and are gone).
 */
import { SCOPES } from '../db/schema/api-keys.js';
import type { Ctx, Deps } from '../deps.js';
import { createUser, findUserByEmail } from '../auth/users.js';
import { setUserPassword } from '../auth/credentials.js';
import { generatePassword } from '../auth/passwords.js';
import { createApiKey, listApiKeys, revokeApiKey } from '../auth/api-keys.js';
import { NotFoundError } from '../errors.js';
import { demoCustomer, ensureDemoSilos } from '../../connectors/demo/index.js';
import { seedConsentDemo } from './consent-seed.js';

export const DEMO_ADMIN_EMAIL = 'dpo@demo.oubli.example';
const DEMO_KEY_NAME = 'demo';

export async function runDemo(deps: Deps, url: string, opts: { customers?: number } = {}): Promise<void> {
  const ctx: Ctx = { ...deps, actor: { type: 'system', id: 'demo' } };
  // The demo silos (<data dir>/demo/*.db): generated on the first start, reused afterwards.
  const silos = ensureDemoSilos(deps.config.dataDir, { customers: opts.customers });
  if (silos.generated) deps.logger.info({ customers: silos.customers, ms: Math.round(silos.ms) }, 'demo silos generated');
  for (const c of deps.connectors) await c.init?.();
  const password = generatePassword();
  const existing = await findUserByEmail(ctx, DEMO_ADMIN_EMAIL);
  if (existing) await setUserPassword(ctx, existing.id, password);
  else await createUser(ctx, { email: DEMO_ADMIN_EMAIL, role: 'admin', password });

  // Only one live demo key at a time: revoke the one printed at the previous start.
  for (const k of await listApiKeys(ctx)) {
    if (k.name !== DEMO_KEY_NAME || k.revokedAt !== null) continue;
    try {
      await revokeApiKey(ctx, k.id);
    } catch (err) {
      if (!(err instanceof NotFoundError)) throw err; // revoked meanwhile by another start
    }
  }
  const key = await createApiKey(ctx, { name: DEMO_KEY_NAME, scopes: [...SCOPES] });

  await seedConsentDemo(ctx);
  deps.startup.ready = true;
  process.stdout.write(
    [
      '',
      'oubli demo is ready',
      `  Privacy portal ${url}/privacy  (sign-in codes and request e-mails arrive at ${url}/dev/mailbox)`,
      `  DPO dashboard  ${url}/admin  (log in below; erasures wait for your approval there)`,
      `  API            ${url}/v1`,
      `  API reference  ${url}/docs`,
      `  Health         ${url}/readyz`,
      '',
      'one-time credentials (new at every start; keep them now):',
      `  admin login    ${DEMO_ADMIN_EMAIL}`,
      `  password       ${password}`,
      `  API key        ${key.key}`,
      '',
      `try: curl -H "Authorization: Bearer ${key.key}" ${url}/v1/audit/tree-head`,
      '',
      `demo silos (${silos.customers} customers): curl -H "Authorization: Bearer ${key.key}" ${url}/v1/connectors`,
      `a demo customer found in every silo: ${demoCustomer(1).email}, phone ${demoCustomer(1).phone}`,
      `erase them: curl -X POST -H "Authorization: Bearer ${key.key}" -H 'content-type: application/json' ${url}/v1/requests \\`,
      `  -d '{"type":"erasure","identities":[{"type":"email","value":"${demoCustomer(1).email}"},{"type":"phone","value":"${demoCustomer(1).phone}"}],"verified":true}'`,
      '',
    ].join('\n'),
  );
}
