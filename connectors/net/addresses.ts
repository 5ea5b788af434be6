/**
 * Which network addresses an outbound call (a webhook, a REST silo) may connect to.
 *
 * The default is a public, routable unicast address only. Addresses of the operator's own
 * networks — loopback, RFC 1918 private, link-local, carrier-grade NAT (RFC 6598), IPv6
 * unique-local and site-local — are refused unless the caller's policy allows private networks
 * (all of them, or only listed CIDRs): a receiver URL or a silo's DNS answer must not turn
 * oubli into a proxy into the network it runs in (SSRF).
 *
 * Never allowed, whatever the policy: cloud metadata endpoints (they hand out credentials),
 * unspecified (0.0.0.0 and :: reach the local host), broadcast, multicast and every other
 * special-purpose range (documentation, benchmarking, 6to4, Teredo…), which no silo or
 * receiver lives on.
 *
 * IPv4 embedded in IPv6 is judged as the IPv4 it carries: `::ffff:127.0.0.1` (IPv4-mapped) is
 * loopback, and a NAT64 address (`64:ff9b::a00:1`) is the private 10.0.0.1.
 */
import ipaddr from 'ipaddr.js';

type Address = ipaddr.IPv4 | ipaddr.IPv6;

/** Cloud instance metadata services: AWS/GCP/Azure/OpenStack, AWS over IPv6, Alibaba Cloud. */
const METADATA = ['169.254.169.254', 'fd00:ec2::254', '100.100.100.200'].map((a) => ipaddr.parse(a).toNormalizedString());

/** ipaddr.js range names that are the operator's own networks. */
const PRIVATE_RANGES = new Set(['loopback', 'private', 'linkLocal', 'carrierGradeNat', 'uniqueLocal', 'deprecatedSiteLocal']);

/**
 * Private networks an outbound call may reach: none (`false`), all (`true`), or only these
 * CIDRs (`['10.20.0.0/16', 'fd12:3456::/32']`).
 */
export type PrivateNetworkPolicy = boolean | readonly string[];

export type AddressVerdict =
  | { allowed: true; address: string; range: string }
  | { allowed: false; address: string; range: string; reason: 'private' | 'special' | 'metadata' };

/** True when `cidr` is an IPv4 or IPv6 CIDR block (`10.0.0.0/8`, `fd00::/8`). */
export function isCidr(cidr: string): boolean {
  return ipaddr.isValidCIDR(cidr);
}

/** The IPv4 an IPv6 address carries (IPv4-mapped, NAT64), or the address itself. */
function unwrap(a: Address): Address {
  if (a.kind() !== 'ipv6') return a;
  const v6 = a as ipaddr.IPv6;
  if (v6.isIPv4MappedAddress()) return v6.toIPv4Address();
  // NAT64 well-known prefix 64:ff9b::/96 (RFC 6052): the last 32 bits are the IPv4 reached.
  if (v6.match(ipaddr.IPv6.parse('64:ff9b::'), 96)) {
    const p = v6.parts;
    return new ipaddr.IPv4([p[6]! >> 8, p[6]! & 0xff, p[7]! >> 8, p[7]! & 0xff]);
  }
  return v6;
}

/**
 * Judges one resolved address (an IP literal as DNS or a URL gives it) under `policy`.
 * Throws on text that is not an IP address (callers pass only resolved addresses).
 */
export function judgeAddress(address: string, policy: PrivateNetworkPolicy): AddressVerdict {
  if (!ipaddr.isValid(address)) throw new TypeError('not an IP address');
  const parsed = ipaddr.parse(address);
  const target = unwrap(parsed);
  const normalized = target.toNormalizedString();
  // IPv4-compatible IPv6 (::a.b.c.d, deprecated by RFC 4291): no receiver lives there, and a
  // host still tunnelling it would reach the IPv4 it carries. (:: and ::1 are judged below.)
  const range = isIpv4Compatible(target) ? 'ipv4Compatible' : target.range();
  if (METADATA.includes(normalized) || METADATA.includes(parsed.toNormalizedString())) {
    return { allowed: false, address, range: 'metadata', reason: 'metadata' };
  }
  if (range === 'unicast') return { allowed: true, address, range };
  if (!PRIVATE_RANGES.has(range)) return { allowed: false, address, range, reason: 'special' };
  if (policy === true) return { allowed: true, address, range };
  if (policy !== false && policy.some((cidr) => inCidr(target, cidr))) return { allowed: true, address, range };
  return { allowed: false, address, range, reason: 'private' };
}

function isIpv4Compatible(a: Address): boolean {
  if (a.kind() !== 'ipv6') return false;
  const p = (a as ipaddr.IPv6).parts;
  return p.slice(0, 6).every((x) => x === 0) && (p[6] !== 0 || p[7]! > 1);
}

function inCidr(a: Address, cidr: string): boolean {
  const [net, bits] = ipaddr.parseCIDR(cidr);
  const candidate = unwrap(net);
  if (candidate.kind() !== a.kind()) return false;
  // IPv4-mapped CIDRs are written for IPv6 widths; compare in the IPv4 space they cover.
  const width = candidate === net ? bits : bits - 96;
  return width >= 0 && a.match(candidate as never, width);
}
