/** clientAddressOf: which X-Forwarded-For entry is believed, for each OUBLI_TRUST_PROXY form. */
import { describe, expect, it } from 'vitest';
import { clientAddressOf, fromTrustedProxy } from '../../src/http/client-address.js';
import { loadConfig } from '../../src/config.js';

const trust = (v: string) => loadConfig({ OUBLI_TRUST_PROXY: v }).trustProxy;

describe('clientAddressOf', () => {
  it('trust off: the socket address, whatever X-Forwarded-For says', () => {
    expect(clientAddressOf(trust('false'), '::ffff:192.0.2.1', '198.51.100.1')).toBe('192.0.2.1');
  });

  it('hops: counted from the right; fewer entries than proxies → the outermost proxy wrote the left-most', () => {
    expect(clientAddressOf(trust('1'), '10.0.0.1', 'evil, 198.51.100.1')).toBe('198.51.100.1');
    expect(clientAddressOf(trust('2'), '10.0.0.1', 'evil, 198.51.100.1, 10.0.0.2')).toBe('198.51.100.1');
    expect(clientAddressOf(trust('3'), '10.0.0.1', '198.51.100.1')).toBe('198.51.100.1');
    expect(clientAddressOf(trust('1'), '10.0.0.1', undefined)).toBe('10.0.0.1');
    expect(clientAddressOf(trust('1'), '10.0.0.1', ' , ')).toBe('10.0.0.1');
  });

  it('proxies: the right-most address not in the list; ports, brackets and IPv4-mapped IPv6 normalised', () => {
    const t = trust('10.0.0.0/8,2001:db8:ffff::/48');
    expect(clientAddressOf(t, '::ffff:10.1.2.3', 'evil, [2001:DB8::7]:4711, 10.9.9.9:80')).toBe('2001:db8::7');
    expect(clientAddressOf(t, '10.1.2.3', '10.0.0.1, 10.0.0.2')).toBe('10.0.0.1');
    expect(clientAddressOf(t, '2001:db8:ffff::1', 'not-an-address, 10.0.0.4')).toBe('not-an-address');
    expect(clientAddressOf(t, '198.51.100.9', '203.0.113.1')).toBe('198.51.100.9');
    expect(fromTrustedProxy(t, '198.51.100.9')).toBe(false);
    expect(fromTrustedProxy(t, '::ffff:10.0.0.1')).toBe(true);
    expect(fromTrustedProxy(trust('1'), 'unknown')).toBe(true);
  });
});
