/** Declarations are checked when the connector is built: errors name the connector and the field. */
import { describe, expect, it } from 'vitest';
import { ConnectorConfigError, sqlConnector, type SqlConnectorConfig } from '../../connectors/sql/index.js';

const good = (): Record<string, any> => ({
  id: 'shop',
  title: 'Shop',
  driver: 'sqlite',
  filename: '/tmp/does-not-matter.db',
  collections: {
    customers: { table: 'customers', key: 'id', match: { email: 'email' }, discover: { customer_id: 'id' }, erase: { action: 'delete' } },
    orders: { table: 'orders', key: 'id', relations: { customer_id: 'customers.id' }, erase: { action: 'delete' } },
  },
});
const build = (cfg: unknown) => () => sqlConnector(cfg as SqlConnectorConfig);

describe('sql connector declarations', () => {
  it('a valid declaration builds without I/O and lists what it searches by', () => {
    const c = sqlConnector(good() as SqlConnectorConfig);
    expect(c.id).toBe('shop');
    expect(c.lookupBy).toEqual(['email']);
    expect(c.capabilities).toEqual({ access: true, erasure: true });
  });

  it('a missing field is named with its connector and path', () => {
    const cfg = good();
    delete cfg.collections.orders.table;
    expect(build(cfg)).toThrow(ConnectorConfigError);
    expect(build(cfg)).toThrow('connector "shop": collections.orders.table: required');
  });

  it('identifiers must be plain names (no SQL can ride in a table or column name)', () => {
    const cfg = good();
    cfg.collections.customers.table = 'customers; DROP TABLE customers';
    expect(build(cfg)).toThrow(/connector "shop": collections\.customers\.table: must be a plain SQL identifier/);
    const cfg2 = good();
    cfg2.collections.customers.match = { email: 'email"--' };
    expect(build(cfg2)).toThrow(/collections\.customers\.match\.email: must be a plain SQL identifier/);
  });

  it('unknown drivers, keys and policies are rejected', () => {
    expect(build({ ...good(), driver: 'oracle' })).toThrow(/connector "shop": driver:/);
    expect(build({ ...good(), colections: {} })).toThrow(/connector "shop": .*colections/);
    const cfg = good();
    cfg.collections.orders.erase = { action: 'shred' };
    expect(build(cfg)).toThrow(/connector "shop": collections\.orders\.erase\.action/);
  });

  it('retain needs a legal basis and the fields kept; a field cannot be both kept and masked', () => {
    const cfg = good();
    cfg.collections.orders.erase = { action: 'retain', keep: ['amount'] };
    expect(build(cfg)).toThrow('connector "shop": collections.orders.erase.basis: required');
    cfg.collections.orders.erase = { action: 'retain', basis: 'legal obligation', keep: ['amount'], mask: { amount: null } };
    expect(build(cfg)).toThrow('connector "shop": collections.orders.erase.keep: "amount" is both kept and masked');
  });

  it('relations must point at a declared collection and not form a cycle', () => {
    const cfg = good();
    cfg.collections.orders.relations = { customer_id: 'clients.id' };
    expect(build(cfg)).toThrow('connector "shop": collections.orders.relations.customer_id: unknown collection "clients"');
    const cyc = good();
    cyc.collections.customers = { table: 'customers', key: 'id', relations: { last_order: 'orders.id' }, erase: { action: 'delete' } };
    expect(build(cyc)).toThrow(/relations form a cycle/);
  });

  it('a collection with neither match nor relations is unreachable', () => {
    const cfg = good();
    cfg.collections.orders.relations = {};
    expect(build(cfg)).toThrow(/collections\.orders: unreachable/);
  });

  it("a 'hash' mask needs a hashKey", () => {
    const cfg = good();
    cfg.collections.orders.erase = { action: 'mask', fields: { email: 'hash' } };
    expect(build(cfg)).toThrow(`connector "shop": hashKey: required because a mask uses 'hash'`);
    expect(build({ ...cfg, hashKey: 'a-long-enough-secret-key' })).not.toThrow();
  });

  it('without an id, the message still says which part is wrong', () => {
    const cfg = good();
    delete cfg.id;
    expect(build(cfg)).toThrow('connector (no id): id: required');
  });

  it('an identity column may state how it is compared (normalize) and how the silo writes it (format)', () => {
    const cfg = good();
    cfg.collections.customers.match = { email: { column: 'email', format: 'lowercase' }, phone: { column: 'phone', format: 'e164' }, loyalty_card: { column: 'card', normalize: 'compact' } };
    expect(sqlConnector(cfg as SqlConnectorConfig).lookupBy).toEqual(['email', 'phone', 'loyalty_card']);
  });

  it('a format that does not fit the normaliser, an unknown normaliser or an unknown region is named', () => {
    const cfg = good();
    cfg.collections.customers.match = { phone: { column: 'phone', format: 'lowercase' } };
    expect(build(cfg)).toThrow(
      `connector "shop": collections.customers.match.phone.format: 'lowercase' does not apply to normalize 'phone' (use one of 'exact', 'e164', 'national', 'international')`,
    );
    cfg.collections.customers.match = { email: { column: 'email', normalize: 'soundex' } };
    expect(build(cfg)).toThrow(/connector "shop": collections\.customers\.match\.email: normalize: .*"casefold"/);
    cfg.collections.customers.match = { email: { column: 'email"--' } };
    expect(build(cfg)).toThrow(/collections\.customers\.match\.email\.column: must be a plain SQL identifier/);
    expect(build({ ...good(), phoneRegion: 'XX' })).toThrow('connector "shop": phoneRegion: must be an ISO 3166-1 alpha-2 region such as FR');
    expect(build({ ...good(), phoneRegion: 'BE' })).not.toThrow();
  });
});
