/**
 * The webhook connector passes the shared conformance suite against a real internal system on
 * 127.0.0.1 that verifies every message with the official `standardwebhooks` package and
 * answers at once (the suite's calls have no callback), once with an HMAC secret and hashed
 * identities, once with an Ed25519 key and identities in clear.
 */
import { describeConnectorConformance } from '../../connectors/conformance.js';
import { webhookConnector } from '../../connectors/webhook/index.js';
import { generateKeyPair, generateSecret } from '../../src/webhooks/signing.js';
import { startInternalSystem } from '../helpers/internal-system.js';

for (const variant of [
  { name: 'v1 HMAC, hashed identities', secret: generateSecret(), identities: 'hashed' as const },
  { name: 'v1a Ed25519, identities in clear', secret: generateKeyPair().secretKey, identities: 'clear' as const },
]) {
  describeConnectorConformance(`webhook (${variant.name})`, async () => {
    const sys = await startInternalSystem(variant.secret, 'sync');
    // Someone else, who must stay untouched.
    sys.people.push({ email: 'bob.other@example.org', customerId: 'C-2002', accounts: [{ id: 2, email: 'bob.other@example.org' }], tickets: [], invoices: [] });
    return {
      connector: webhookConnector(
        { driver: 'webhook', id: 'helpdesk', title: 'Helpdesk', url: sys.url, secret: variant.secret, lookupBy: ['email', 'customer_id'], identities: variant.identities, capabilities: { access: true, erasure: true } },
        { allowPrivate: true },
      ),
      expectDiscovered: ['customer_id'],
      async seedPerson() {
        sys.people.push({
          email: 'alice.martin@example.com',
          customerId: 'C-1001',
          accounts: [{ id: 1, email: 'alice.martin@example.com', plan: 'pro' }],
          tickets: [{ id: 't1', subject: 'invoice question' }, { id: 't2', subject: 'password reset' }],
          invoices: [{ number: 'F-1001-1', cents: 4900 }],
        });
        return [{ type: 'email', value: 'alice.martin@example.com' }];
      },
      async teardown() {
        // Every message the suite sent was signed as the system expects.
        if (sys.messages.length === 0 || sys.messages.some((m) => !m.verified)) throw new Error('a webhook was not verified by the receiver');
        await sys.close();
      },
    };
  });
}
