/**
 * The demo silos' connector declarations: five SQLite databases, each described with the
 * declarative SQL connector. An erasure by email reaches the shop, the CRM and the newsletter;
 * the shop reveals the customer number, which leads to the invoices and the web analytics
 * events. The phones of the shop and the CRM are typed by the customers themselves (anyone can
 * type anyone's number), so they are weak links: recorded, never searched by. The loyalty card
 * (and its till receipts) is registered to a phone: it is reached when the person gives their
 * phone with the request, or their card number.
 */
import type { SqlConnectorConfig } from '../sql/index.js';
import { demoSiloPath, type DemoSilo } from './generate.js';

/** Demo-only key for keyed-hash masks; a real deployment keeps its own secret. */
export const DEMO_HASH_KEY = 'oubli-demo-only-mask-key-not-secret';

export const INVOICE_BASIS = 'legal obligation: 10-year retention of accounting records (Code de commerce L123-22)';

export function demoConnectorConfigs(dataDir: string): Record<DemoSilo, SqlConnectorConfig> {
  const file = (s: DemoSilo) => demoSiloPath(dataDir, s);
  return {
    shop: {
      id: 'shop',
      title: 'Web shop',
      driver: 'sqlite',
      filename: file('shop'),
      collections: {
        customers: {
          table: 'customers',
          key: 'id',
          match: { email: 'email', phone: 'phone', customer_id: 'id' },
          discover: {
            customer_id: { column: 'id', reason: 'shop.customers.id of the customer account found' },
            phone: { column: 'phone', reason: 'shop.customers.phone of the customer account found (typed by the customer)', weak: true },
            email: { column: 'email', reason: 'shop.customers.email of the customer account found' },
          },
          portable: true,
          erase: { action: 'delete' },
        },
        addresses: { table: 'addresses', key: 'id', relations: { customer_id: 'customers.id' }, portable: true, erase: { action: 'delete' } },
        orders: { table: 'orders', key: 'id', relations: { customer_id: 'customers.id' }, portable: true, erase: { action: 'delete' } },
        invoices: {
          table: 'invoices',
          key: 'id',
          match: { customer_id: 'customer_id' },
          relations: { customer_id: 'customers.id' },
          portable: false,
          erase: {
            action: 'retain',
            basis: INVOICE_BASIS,
            keep: ['number', 'order_id', 'customer_id', 'amount_cents', 'vat_cents', 'issued_at'],
            mask: { customer_name: { value: '[effacé]' }, billing_address: null },
          },
        },
      },
    },
    loyalty: {
      id: 'loyalty',
      title: 'Loyalty programme and store tills',
      driver: 'sqlite',
      filename: file('loyalty'),
      collections: {
        cards: {
          table: 'cards',
          key: 'card_number',
          match: { phone: 'phone', loyalty_card: 'card_number' },
          discover: { loyalty_card: { column: 'card_number', reason: 'loyalty.cards.card_number of the card registered to the phone' } },
          portable: true,
          erase: { action: 'delete' },
        },
        receipts: {
          table: 'receipts',
          key: 'id',
          match: { loyalty_card: 'card_number' },
          relations: { card_number: 'cards.card_number' },
          portable: true,
          // The sale stays in the store's statistics; its link to the person goes.
          erase: { action: 'mask', fields: { card_number: null } },
        },
      },
    },
    crm: {
      id: 'crm',
      title: 'Call-centre CRM',
      driver: 'sqlite',
      filename: file('crm'),
      collections: {
        contacts: {
          table: 'contacts',
          key: 'id',
          match: { email: 'email', phone: 'phone' },
          discover: {
            phone: { column: 'phone', reason: 'crm.contacts.phone of the contact found (given by the caller)', weak: true },
            email: { column: 'email', reason: 'crm.contacts.email of the contact found' },
          },
          portable: true,
          erase: { action: 'delete' },
        },
        tickets: { table: 'tickets', key: 'id', relations: { contact_id: 'contacts.id' }, portable: false, erase: { action: 'delete' } },
      },
    },
    newsletter: {
      id: 'newsletter',
      title: 'Newsletter',
      driver: 'sqlite',
      filename: file('newsletter'),
      hashKey: DEMO_HASH_KEY,
      collections: {
        subscribers: {
          table: 'subscribers',
          key: 'id',
          match: { email: 'email' },
          portable: true,
          // A keyed hash of the address stays as a suppression entry, so the person is not
          // re-imported from an old list; nothing readable remains.
          erase: { action: 'mask', fields: { email: 'hash', first_name: null, status: { value: 'erased' } } },
        },
        sends: { table: 'sends', key: 'id', relations: { subscriber_id: 'subscribers.id' }, portable: false, erase: { action: 'delete' } },
      },
    },
    analytics: {
      id: 'analytics',
      title: 'Web analytics',
      driver: 'sqlite',
      filename: file('analytics'),
      collections: {
        events: { table: 'events', key: 'id', match: { customer_id: 'customer_id' }, portable: false, erase: { action: 'delete' } },
      },
    },
  };
}
