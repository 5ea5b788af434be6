/**
 * Generates the demo silos as SQLite files `<dataDir>/demo/<silo>.db`, deterministically (seeded
 * faker, French locale, plus a seeded PRNG for the bulk rows). Each silo is written to a temporary
 * file in one transaction with prepared statements, indexed, then renamed into place; a
 * manifest written last records the size, so an interrupted run is redone and a size change
 * regenerates.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database, { type SqliteConnection, type SqliteStatement } from '../sql/sqlite-binding.js';
import { DEMO_SEED, EPOCH_END, demoCustomer, isoAt, mix, rng, type DemoCustomer } from './people.js';

export const DEMO_SILOS = ['shop', 'loyalty', 'crm', 'newsletter', 'analytics'] as const;
export type DemoSilo = (typeof DEMO_SILOS)[number];

/** Bump when the schema or the generator changes: existing silos are then regenerated. */
const GENERATOR_VERSION = 3;
const DEFAULT_CUSTOMERS = 10_000;

export interface DemoManifest {
  version: number;
  seed: number;
  customers: number;
  generatedAt: string;
}

export interface EnsureResult {
  dir: string;
  customers: number;
  generated: boolean;
  ms: number;
}

export function demoDir(dataDir: string): string {
  return join(dataDir, 'demo');
}

export function demoSiloPath(dataDir: string, silo: DemoSilo): string {
  return join(demoDir(dataDir), `${silo}.db`);
}

export function readDemoManifest(dataDir: string): DemoManifest | null {
  try {
    return JSON.parse(readFileSync(join(demoDir(dataDir), 'manifest.json'), 'utf8')) as DemoManifest;
  } catch {
    return null;
  }
}

/**
 * Makes sure the demo silos exist with `customers` customers; idempotent (existing files of the
 * right size are reused, nothing is written). Call it before opening demo connectors.
 */
export function ensureDemoSilos(dataDir: string, opts: { customers?: number; force?: boolean } = {}): EnsureResult {
  const customers = opts.customers ?? DEFAULT_CUSTOMERS;
  if (!Number.isInteger(customers) || customers < 1 || customers > 5_000_000) throw new RangeError('customers must be an integer from 1 to 5,000,000');
  const dir = demoDir(dataDir);
  const t0 = performance.now();
  const m = readDemoManifest(dataDir);
  const complete = DEMO_SILOS.every((s) => existsSync(demoSiloPath(dataDir, s)));
  if (!opts.force && m && m.version === GENERATOR_VERSION && m.seed === DEMO_SEED && m.customers === customers && complete) {
    return { dir, customers, generated: false, ms: performance.now() - t0 };
  }
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  rmSync(join(dir, 'manifest.json'), { force: true });
  const people: DemoCustomer[] = new Array(customers);
  for (let i = 0; i < customers; i++) people[i] = demoCustomer(i + 1);
  for (const silo of DEMO_SILOS) writeSilo(dataDir, silo, people);
  const manifest: DemoManifest = { version: GENERATOR_VERSION, seed: DEMO_SEED, customers, generatedAt: new Date().toISOString() };
  writeFileSync(join(dir, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  return { dir, customers, generated: true, ms: performance.now() - t0 };
}

function writeSilo(dataDir: string, silo: DemoSilo, people: DemoCustomer[]): void {
  const final = demoSiloPath(dataDir, silo);
  const tmp = `${final}.tmp-${process.pid}`;
  rmSync(tmp, { force: true });
  const db = new Database(tmp);
  try {
    db.pragma('journal_mode = OFF');
    db.pragma('synchronous = OFF');
    db.pragma('cache_size = -262144');
    db.pragma('locking_mode = EXCLUSIVE');
    // Rows are consistent by construction and parents may sit in a later batch than children.
    db.pragma('foreign_keys = OFF');
    db.exec(SCHEMAS[silo]);
    db.transaction(() => GENERATORS[silo](db, people))();
    db.exec(INDEXES[silo]);
    db.pragma('journal_mode = WAL');
  } finally {
    db.close();
  }
  for (const suffix of ['', '-wal', '-shm']) rmSync(`${final}${suffix}`, { force: true });
  renameSync(tmp, final);
}

const SCHEMAS: Record<DemoSilo, string> = {
  shop: `
    CREATE TABLE customers (id INTEGER PRIMARY KEY, email TEXT NOT NULL, phone TEXT, first_name TEXT NOT NULL,
      last_name TEXT NOT NULL, birth_date TEXT, created_at TEXT NOT NULL, marketing_opt_in INTEGER NOT NULL DEFAULT 0);
    CREATE TABLE addresses (id INTEGER PRIMARY KEY, customer_id INTEGER NOT NULL REFERENCES customers(id), label TEXT NOT NULL,
      line1 TEXT NOT NULL, postal_code TEXT NOT NULL, city TEXT NOT NULL, country TEXT NOT NULL);
    CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id INTEGER NOT NULL REFERENCES customers(id), placed_at TEXT NOT NULL,
      status TEXT NOT NULL, total_cents INTEGER NOT NULL, shipping_address TEXT NOT NULL);
    -- Invoices outlive the customer and the order (10-year legal retention): no foreign keys.
    CREATE TABLE invoices (id INTEGER PRIMARY KEY, number TEXT NOT NULL, order_id INTEGER NOT NULL, customer_id INTEGER NOT NULL,
      customer_name TEXT, billing_address TEXT, amount_cents INTEGER NOT NULL, vat_cents INTEGER NOT NULL, issued_at TEXT NOT NULL);`,
  loyalty: `
    CREATE TABLE cards (card_number TEXT PRIMARY KEY, phone TEXT NOT NULL, first_name TEXT, last_name TEXT, enrolled_at TEXT NOT NULL,
      points INTEGER NOT NULL, home_store TEXT NOT NULL);
    -- Till receipts stay as anonymous sales once the card number is removed: no foreign key.
    CREATE TABLE receipts (id INTEGER PRIMARY KEY, card_number TEXT, store TEXT NOT NULL, purchased_at TEXT NOT NULL,
      items INTEGER NOT NULL, total_cents INTEGER NOT NULL);`,
  crm: `
    CREATE TABLE contacts (id INTEGER PRIMARY KEY, email TEXT, phone TEXT, first_name TEXT, last_name TEXT, created_at TEXT NOT NULL,
      preferred_channel TEXT NOT NULL);
    CREATE TABLE tickets (id INTEGER PRIMARY KEY, contact_id INTEGER NOT NULL REFERENCES contacts(id), channel TEXT NOT NULL,
      subject TEXT NOT NULL, notes TEXT, opened_at TEXT NOT NULL, closed_at TEXT, agent TEXT NOT NULL);`,
  newsletter: `
    CREATE TABLE subscribers (id INTEGER PRIMARY KEY, email TEXT NOT NULL, first_name TEXT, status TEXT NOT NULL,
      subscribed_at TEXT NOT NULL, source TEXT NOT NULL, consent_text_version TEXT NOT NULL);
    CREATE TABLE sends (id INTEGER PRIMARY KEY, subscriber_id INTEGER NOT NULL REFERENCES subscribers(id), campaign TEXT NOT NULL,
      sent_at TEXT NOT NULL, opened_at TEXT, clicked_at TEXT);`,
  analytics: `
    CREATE TABLE events (id INTEGER PRIMARY KEY, customer_id INTEGER NOT NULL, session_id TEXT NOT NULL, type TEXT NOT NULL,
      path TEXT NOT NULL, occurred_at TEXT NOT NULL, user_agent TEXT NOT NULL);`,
};

const COMPACT_CARD = "lower(replace(replace(replace(card_number, ' ', ''), '-', ''), '.', ''))";

const INDEXES: Record<DemoSilo, string> = {
  // Unique constraints as indexes built after the bulk load (faster than checking row by row).
  // The *_casefold and *_compact indexes serve the connector's lookups of emails whatever their
  // case and of card numbers whatever their spacing (the ones its start-up report recommends).
  shop: `CREATE UNIQUE INDEX customers_email ON customers(email); CREATE UNIQUE INDEX invoices_number ON invoices(number);
    CREATE INDEX customers_email_casefold ON customers(lower(trim(email)));
    CREATE INDEX customers_phone ON customers(phone); CREATE INDEX addresses_customer ON addresses(customer_id);
    CREATE INDEX orders_customer ON orders(customer_id); CREATE INDEX invoices_customer ON invoices(customer_id);`,
  loyalty: `CREATE INDEX cards_phone ON cards(phone); CREATE INDEX receipts_card ON receipts(card_number);
    CREATE INDEX cards_card_number_compact ON cards(${COMPACT_CARD}); CREATE INDEX receipts_card_number_compact ON receipts(${COMPACT_CARD});`,
  crm: `CREATE INDEX contacts_email_casefold ON contacts(lower(trim(email))); CREATE INDEX contacts_phone ON contacts(phone); CREATE INDEX tickets_contact ON tickets(contact_id);`,
  newsletter: `CREATE UNIQUE INDEX subscribers_email ON subscribers(email); CREATE INDEX subscribers_email_casefold ON subscribers(lower(trim(email)));
    CREATE INDEX sends_subscriber ON sends(subscriber_id);`,
  analytics: `CREATE INDEX events_customer ON events(customer_id);`,
};

/**
 * Multi-row INSERTs (64 rows per statement): binding through one prepared statement per batch
 * roughly triples the throughput of row-by-row inserts.
 */
class Inserter {
  private readonly many: SqliteStatement;
  private readonly one: SqliteStatement;
  /** Reused between batches: better-sqlite3 copies the values while binding. */
  private readonly buf: unknown[];
  private n = 0;
  constructor(
    db: SqliteConnection,
    table: string,
    private readonly columns: string[],
    private readonly batch = 64,
  ) {
    const row = `(${columns.map(() => '?').join(', ')})`;
    const head = `INSERT INTO ${table} (${columns.join(', ')}) VALUES `;
    this.many = db.prepare(head + Array.from({ length: batch }, () => row).join(', '));
    this.one = db.prepare(head + row);
    this.buf = new Array(batch * columns.length);
  }
  add(...values: unknown[]): void {
    for (let i = 0; i < values.length; i++) this.buf[this.n++] = values[i];
    if (this.n === this.buf.length) {
      this.many.run(this.buf);
      this.n = 0;
    }
  }
  flush(): void {
    const w = this.columns.length;
    for (let i = 0; i < this.n; i += w) this.one.run(this.buf.slice(i, i + w));
    this.n = 0;
  }
}

const DAY = 86_400_000;
const STORES = ['Paris Bastille', 'Lyon Part-Dieu', 'Lille Centre', 'Bordeaux Lac', 'Nantes Atlantis', 'Marseille Prado', 'Toulouse Blagnac', 'Strasbourg Halles'];
const ORDER_STATUSES = ['delivered', 'delivered', 'delivered', 'shipped', 'cancelled'];
const SUBJECTS = ['Retard de livraison', 'Produit défectueux', 'Demande de remboursement', 'Modification de commande', 'Question sur la carte de fidélité', 'Facture introuvable'];
const CHANNELS = ['phone', 'phone', 'email', 'chat'];
const AGENTS = ['agent-012', 'agent-027', 'agent-031', 'agent-044', 'agent-058'];
const CAMPAIGNS = ['soldes-hiver', 'nouveautes-printemps', 'fete-des-meres', 'soldes-ete', 'rentree', 'black-friday', 'noel'];
const PATHS = ['/', '/catalogue', '/catalogue/maison', '/catalogue/jardin', '/produit/lampe-atelier', '/produit/table-chene', '/panier', '/commande', '/compte'];
const EVENT_TYPES = ['page_view', 'page_view', 'page_view', 'search', 'add_to_cart', 'checkout'];
const AGENTS_UA = ['Mozilla/5.0 (Windows NT 10.0; Win64; x64) Firefox/128.0', 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) Safari/604.1', 'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) Safari/605.1.15', 'Mozilla/5.0 (Linux; Android 14) Chrome/126.0 Mobile'];

const pick = <T>(r: () => number, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
const after = (r: () => number, fromIso: string, maxDays: number) => {
  const from = Date.parse(fromIso);
  return Math.min(EPOCH_END, from + Math.floor(r() * maxDays * DAY));
};
const addressText = (a: { line1: string; postalCode: string; city: string }) => `${a.line1}, ${a.postalCode} ${a.city}`;

const GENERATORS: Record<DemoSilo, (db: SqliteConnection, people: DemoCustomer[]) => void> = {
  shop(db, people) {
    const cust = new Inserter(db, 'customers', ['id', 'email', 'phone', 'first_name', 'last_name', 'birth_date', 'created_at', 'marketing_opt_in']);
    const addr = new Inserter(db, 'addresses', ['customer_id', 'label', 'line1', 'postal_code', 'city', 'country']);
    const order = new Inserter(db, 'orders', ['id', 'customer_id', 'placed_at', 'status', 'total_cents', 'shipping_address']);
    const inv = new Inserter(db, 'invoices', ['number', 'order_id', 'customer_id', 'customer_name', 'billing_address', 'amount_cents', 'vat_cents', 'issued_at']);
    let orderId = 0;
    for (const p of people) {
      const r = rng(mix(DEMO_SEED, p.customerId, 1));
      cust.add(p.customerId, p.email, p.phone, p.firstName, p.lastName, p.birthDate, p.createdAt, r() < 0.4 ? 1 : 0);
      p.addresses.forEach((a, k) => addr.add(p.customerId, k === 0 ? 'domicile' : 'travail', a.line1, a.postalCode, a.city, 'FR'));
      const nOrders = p.customerId === 1 ? 4 : Math.floor(r() * 7);
      for (let k = 0; k < nOrders; k++) {
        orderId++;
        const placed = after(r, p.createdAt, 2000);
        const status = pick(r, ORDER_STATUSES);
        const total = 990 + Math.floor(r() * 40_000);
        const ship = addressText(p.addresses[k % p.addresses.length]!);
        order.add(orderId, p.customerId, isoAt(placed), status, total, ship);
        if (status !== 'cancelled') {
          const vat = Math.round(total - total / 1.2);
          inv.add(`F${String(orderId).padStart(9, '0')}`, orderId, p.customerId, `${p.firstName} ${p.lastName}`, addressText(p.addresses[0]!), total, vat, isoAt(placed + DAY));
        }
      }
    }
    for (const x of [cust, addr, order, inv]) x.flush();
  },
  loyalty(db, people) {
    const card = new Inserter(db, 'cards', ['card_number', 'phone', 'first_name', 'last_name', 'enrolled_at', 'points', 'home_store']);
    const receipt = new Inserter(db, 'receipts', ['card_number', 'store', 'purchased_at', 'items', 'total_cents']);
    for (const p of people) {
      if (!p.loyaltyCard) continue;
      const r = rng(mix(DEMO_SEED, p.customerId, 2));
      const store = pick(r, STORES);
      card.add(p.loyaltyCard, p.phone, p.firstName, p.lastName, isoAt(after(r, p.createdAt, 200)), Math.floor(r() * 3000), store);
      const n = p.customerId === 1 ? 6 : Math.floor(r() * 11);
      for (let k = 0; k < n; k++) {
        receipt.add(p.loyaltyCard, r() < 0.8 ? store : pick(r, STORES), isoAt(after(r, p.createdAt, 2000)), 1 + Math.floor(r() * 12), 150 + Math.floor(r() * 20_000));
      }
    }
    for (const x of [card, receipt]) x.flush();
  },
  crm(db, people) {
    const contact = new Inserter(db, 'contacts', ['id', 'email', 'phone', 'first_name', 'last_name', 'created_at', 'preferred_channel']);
    const ticket = new Inserter(db, 'tickets', ['contact_id', 'channel', 'subject', 'notes', 'opened_at', 'closed_at', 'agent']);
    let id = 0;
    for (const p of people) {
      if (!p.inCrm) continue;
      const r = rng(mix(DEMO_SEED, p.customerId, 3));
      id++;
      contact.add(id, p.crmByEmail ? p.email : null, p.phone, p.firstName, p.lastName, isoAt(after(r, p.createdAt, 400)), pick(r, ['phone', 'email']));
      const n = p.customerId === 1 ? 2 : 1 + Math.floor(r() * 3);
      for (let k = 0; k < n; k++) {
        const opened = after(r, p.createdAt, 2000);
        const closed = r() < 0.9 ? isoAt(opened + Math.floor(r() * 5 * DAY)) : null;
        ticket.add(id, pick(r, CHANNELS), pick(r, SUBJECTS), 'Client recontacté ; dossier suivi par le service client.', isoAt(opened), closed, pick(r, AGENTS));
      }
    }
    for (const x of [contact, ticket]) x.flush();
  },
  newsletter(db, people) {
    const sub = new Inserter(db, 'subscribers', ['id', 'email', 'first_name', 'status', 'subscribed_at', 'source', 'consent_text_version']);
    const send = new Inserter(db, 'sends', ['subscriber_id', 'campaign', 'sent_at', 'opened_at', 'clicked_at']);
    let id = 0;
    for (const p of people) {
      if (!p.inNewsletter) continue;
      const r = rng(mix(DEMO_SEED, p.customerId, 4));
      id++;
      const subscribed = after(r, p.createdAt, 300);
      sub.add(id, p.email, p.firstName, r() < 0.9 ? 'subscribed' : 'unsubscribed', isoAt(subscribed), pick(r, ['checkout', 'footer', 'store', 'popup']), r() < 0.5 ? 'v1' : 'v2');
      const n = p.customerId === 1 ? 5 : Math.floor(r() * 10);
      for (let k = 0; k < n; k++) {
        const sent = Math.min(EPOCH_END, subscribed + Math.floor(r() * 900 * DAY));
        const opened = r() < 0.35 ? sent + Math.floor(r() * 3 * DAY) : null;
        const clicked = opened !== null && r() < 0.3 ? opened + 60_000 : null;
        send.add(id, pick(r, CAMPAIGNS), isoAt(sent), opened === null ? null : isoAt(opened), clicked === null ? null : isoAt(clicked));
      }
    }
    for (const x of [sub, send]) x.flush();
  },
  analytics(db, people) {
    const ev = new Inserter(db, 'events', ['customer_id', 'session_id', 'type', 'path', 'occurred_at', 'user_agent']);
    for (const p of people) {
      if (!p.hasWebEvents) continue;
      const r = rng(mix(DEMO_SEED, p.customerId, 5));
      const n = p.customerId === 1 ? 8 : 1 + Math.floor(r() * 10);
      const ua = pick(r, AGENTS_UA);
      let session = '';
      let t = 0;
      for (let k = 0; k < n; k++) {
        if (k % 4 === 0) {
          session = `s_${Math.floor(r() * 2 ** 48).toString(36)}`;
          t = after(r, p.createdAt, 2000);
        } else t += 30_000 + Math.floor(r() * 120_000);
        ev.add(p.customerId, session, pick(r, EVENT_TYPES), pick(r, PATHS), isoAt(t), ua);
      }
    }
    for (const x of [ev]) x.flush();
  },
};
