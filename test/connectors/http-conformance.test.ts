/**
 * The REST connector passes the shared conformance and matching suites against a real HTTP
 * server (the fake newsletter SaaS on 127.0.0.1): OAuth, a 404 meaning "no such person", the
 * three paginations, a relation (a contact's events), a retained collection, fuzzy searches.
 */
import { describeConnectorConformance, describeMatchingConformance } from '../../connectors/conformance.js';
import { httpConnector } from '../../connectors/http/index.js';
import { startFakeSaas, saasConnectorConfig, type Contact } from './http-saas.js';

describeConnectorConformance('http (fake newsletter SaaS)', async () => {
  const saas = await startFakeSaas();
  // Someone else, with look-alike identities, who must stay untouched.
  const bob = saas.addContact({ email: 'alice.martin@example.org', sms: '+33 6 11 22 33 45', attributes: { CUSTOMER_ID: 'C-2002' } });
  for (let i = 0; i < 3; i++) saas.events.push({ id: `eb${i}`, contactId: bob.id, type: 'open', campaign: `spring-${i}` });
  saas.invoices.push({ number: 'F-2002-1', customer: 'C-2002', amountCents: 1200 });
  return {
    connector: httpConnector(saasConnectorConfig(saas)),
    expectDiscovered: ['customer_id', 'phone'],
    async seedPerson() {
      const alice = saas.addContact({ email: 'Alice.Martin@Example.com', sms: '06 11 22 33 44', attributes: { CUSTOMER_ID: 'C-1001', FIRSTNAME: 'Alice' } });
      // Five events: three pages of two.
      for (let i = 0; i < 5; i++) saas.events.push({ id: `ea${i}`, contactId: alice.id, type: i % 2 ? 'click' : 'open', campaign: `autumn-${i}` });
      saas.invoices.push({ number: 'F-1001-1', customer: 'C-1001', amountCents: 4900 }, { number: 'F-1001-2', customer: 'C-1001', amountCents: 2500 });
      return [{ type: 'email', value: 'alice.martin@example.com' }];
    },
    async teardown() {
      await saas.close();
    },
  };
});

const FIELD: Record<string, (c: Contact) => string | null | undefined> = {
  email: (c) => c.email,
  phone: (c) => c.sms,
  customer_id: (c) => c.attributes.CUSTOMER_ID,
  loyalty_card: (c) => c.attributes.LOYALTY,
};

describeMatchingConformance('http (fake newsletter SaaS, fuzzy searches)', async () => {
  const saas = await startFakeSaas();
  return {
    connector: httpConnector(saasConnectorConfig(saas), { phoneRegion: 'FR' }),
    silo: {
      async put(type, written) {
        if (type === 'email') saas.addContact({ email: written });
        else if (type === 'phone') saas.addContact({ sms: written });
        else if (type === 'customer_id') saas.addContact({ attributes: { CUSTOMER_ID: written } });
        else if (type === 'loyalty_card') saas.addContact({ attributes: { LOYALTY: written } });
        else throw new Error(`no field for ${type}`);
      },
      async remaining(type, written) {
        return saas.contacts.filter((c) => FIELD[type]!(c) === written).length;
      },
    },
    async teardown() {
      await saas.close();
    },
  };
});
