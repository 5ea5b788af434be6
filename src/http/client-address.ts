/**
 * The client's address as far as a reverse proxy can be believed (login throttling keys on it).
 *
 * X-Forwarded-For is `client-written…, hop1, hop2`: each proxy APPENDS the address it received
 * the request from, so only the right-hand entries written by proxies we trust are facts; whatever
 * lies to their left was sent by the client and can say anything. The left-most entry is
 * therefore never taken unless every entry to its right was written by a trusted proxy.
 */
import { BlockList, isIP } from 'node:net';
import type { TrustProxy } from '../config.js';

/** `::ffff:192.0.2.1` → `192.0.2.1`; `[2001:db8::1]:443` and `192.0.2.1:80` → the address alone. */
export function normalizeAddress(raw: string): string {
  let a = raw.trim();
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(a);
  if (bracketed) a = bracketed[1]!;
  else if (/^[\d.]+:\d+$/.test(a)) a = a.slice(0, a.lastIndexOf(':'));
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(a);
  if (mapped) a = mapped[1]!;
  return isIP(a) === 6 ? a.toLowerCase() : a;
}

function proxyList(proxies: string[]): BlockList {
  const list = new BlockList();
  for (const entry of proxies) {
    const [address, prefix] = entry.split('/') as [string, string | undefined];
    const type = isIP(address) === 6 ? 'ipv6' : 'ipv4';
    if (prefix === undefined) list.addAddress(address, type);
    else list.addSubnet(address, Number(prefix), type);
  }
  return list;
}

function isListed(list: BlockList, address: string): boolean {
  const family = isIP(address);
  return family !== 0 && list.check(address, family === 6 ? 'ipv6' : 'ipv4');
}

/**
 * Whether the request came through a proxy we trust: always with `hops` (the deployment says the
 * socket is one), only from a listed address with `proxies`.
 */
export function fromTrustedProxy(trust: TrustProxy, socketAddress: string): boolean {
  if (trust.mode === 'off') return false;
  if (trust.mode === 'hops') return true;
  return isListed(proxyList(trust.proxies), normalizeAddress(socketAddress));
}

/**
 * The client address for a request whose socket peer is `socketAddress` and whose
 * X-Forwarded-For header (all of its field lines joined by commas) is `forwardedFor`.
 */
export function clientAddressOf(trust: TrustProxy, socketAddress: string, forwardedFor: string | undefined): string {
  const socket = normalizeAddress(socketAddress);
  if (trust.mode === 'off' || !forwardedFor) return socket;
  const hops = forwardedFor.split(',').map(normalizeAddress).filter((a) => a !== '');
  if (hops.length === 0) return socket;
  if (trust.mode === 'hops') {
    // The socket is the nearest proxy; each further trusted proxy wrote one entry from the right.
    // Fewer entries than proxies: the left-most one was written by the outermost proxy.
    return hops[Math.max(0, hops.length - trust.hops)]!;
  }
  const list = proxyList(trust.proxies);
  if (!isListed(list, socket)) return socket;
  for (let i = hops.length - 1; i >= 0; i--) {
    if (!isListed(list, hops[i]!)) return hops[i]!;
  }
  return hops[0]!;
}
