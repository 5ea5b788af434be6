import { describe, expect, it } from 'vitest';
import { judgeAddress } from '../../connectors/net/addresses.js';

const PUBLIC = ['93.184.215.14', '8.8.8.8', '1.1.1.1', '2606:4700:4700::1111', '2a00:1450:4007:80f::200e', '64:ff9b::808:808'];
const PRIVATE: [string, string][] = [
  ['127.0.0.1', 'loopback'],
  ['127.255.255.254', 'loopback'],
  ['::1', 'loopback'],
  ['10.0.0.1', 'private'],
  ['172.16.5.4', 'private'],
  ['192.168.1.1', 'private'],
  ['169.254.1.1', 'linkLocal'],
  ['fe80::1', 'linkLocal'],
  ['100.64.0.1', 'carrierGradeNat'],
  ['fc00::1', 'uniqueLocal'],
  ['fd12:3456::1', 'uniqueLocal'],
  // IPv4 inside IPv6 is judged as the IPv4 it carries.
  ['::ffff:127.0.0.1', 'loopback'],
  ['::ffff:7f00:1', 'loopback'],
  ['::ffff:10.1.2.3', 'private'],
  ['::ffff:192.168.0.1', 'private'],
  ['64:ff9b::a00:1', 'private'],
];
const NEVER: [string, string][] = [
  ['169.254.169.254', 'metadata'],
  ['::ffff:169.254.169.254', 'metadata'],
  ['fd00:ec2::254', 'metadata'],
  ['100.100.100.200', 'metadata'],
  ['0.0.0.0', 'unspecified'],
  ['::', 'unspecified'],
  ['255.255.255.255', 'broadcast'],
  ['224.0.0.1', 'multicast'],
  ['ff02::1', 'multicast'],
  ['192.0.2.1', 'reserved'],
  ['240.0.0.1', 'reserved'],
  ['2001:db8::1', 'reserved'],
  ['2002:7f00:1::', '6to4'],
  ['::ffff:0.0.0.0', 'unspecified'],
];

describe('judgeAddress', () => {
  it.each(PUBLIC)('%s is public: always allowed', (a) => {
    expect(judgeAddress(a, false)).toMatchObject({ allowed: true });
  });

  it.each(PRIVATE)('%s (%s) is refused by default, allowed when private networks are', (a, range) => {
    expect(judgeAddress(a, false)).toMatchObject({ allowed: false, reason: 'private', range });
    expect(judgeAddress(a, true)).toMatchObject({ allowed: true, range });
  });

  it.each(NEVER)('%s (%s) is refused even when private networks are allowed', (a, range) => {
    expect(judgeAddress(a, false)).toMatchObject({ allowed: false, range });
    expect(judgeAddress(a, true)).toMatchObject({ allowed: false, range });
  });

  it('a list of CIDRs allows those networks only', () => {
    const policy = ['10.20.0.0/16', 'fd12:3456::/32'];
    expect(judgeAddress('10.20.3.4', policy).allowed).toBe(true);
    expect(judgeAddress('::ffff:10.20.3.4', policy).allowed).toBe(true);
    expect(judgeAddress('fd12:3456::9', policy).allowed).toBe(true);
    expect(judgeAddress('10.21.0.1', policy).allowed).toBe(false);
    expect(judgeAddress('127.0.0.1', policy).allowed).toBe(false);
    expect(judgeAddress('fd12:3457::9', policy).allowed).toBe(false);
    // A CIDR never opens the metadata service or special ranges.
    expect(judgeAddress('169.254.169.254', ['169.254.0.0/16']).allowed).toBe(false);
    expect(judgeAddress('0.0.0.0', ['0.0.0.0/0']).allowed).toBe(false);
  });

  it('only IP addresses are judged', () => {
    expect(() => judgeAddress('localhost', false)).toThrow(TypeError);
  });
});
