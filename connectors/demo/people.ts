/**
 * The demo's people, computed from their number alone: customer `i` is the same person whatever
 * the size of the generated silos, so tests, benchmarks and the consent seed can name someone
 * without opening a database.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fr } from '@faker-js/faker';

export const DEMO_SEED = 20261124;

/** A small, fast, seedable PRNG (mulberry32) for the bulk rows; faker is kept for names. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function mix(...xs: number[]): number {
  let h = 0x811c9dc5;
  for (const x of xs) {
    h ^= x >>> 0;
    h = Math.imul(h, 0x01000193) >>> 0;
    h ^= h >>> 13;
  }
  return h >>> 0;
}

/**
 * Names and places come from faker's French locale data (`fr`), drawn with our own seeded PRNG:
 * faker's API re-seeds a Mersenne Twister (~30 µs) and expands templates (~5 µs per address),
 * which would make 100,000 customers take seconds on their own.
 */
const FR = fr as unknown as {
  person: { first_name: { female: string[]; male: string[] }; last_name: { generic: string[] } };
  location: { street_prefix: string[]; street_suffix: string[]; city_name: string[] };
};
const FEMALE = FR.person.first_name.female;
const MALE = FR.person.first_name.male;
const LAST = FR.person.last_name.generic;
const STREET_PREFIX = FR.location.street_prefix;
const STREET_SUFFIX = FR.location.street_suffix;
const CITIES = FR.location.city_name;

export interface DemoAddress {
  line1: string;
  postalCode: string;
  city: string;
}

/** Where a demo customer can be found; emails lower-case, phones E.164. */
export interface DemoCustomer {
  /** shop.customers.id (1-based). */
  customerId: number;
  email: string;
  phone: string;
  firstName: string;
  lastName: string;
  /** YYYY-MM-DD */
  birthDate: string;
  /** ISO timestamp of the shop account's creation. */
  createdAt: string;
  addresses: DemoAddress[];
  /** Loyalty card number, or null for customers without a card. */
  loyaltyCard: string | null;
  /** Present in the call-centre CRM; `crmByEmail` false means the CRM only knows their phone. */
  inCrm: boolean;
  crmByEmail: boolean;
  inNewsletter: boolean;
  hasWebEvents: boolean;
}

const DOMAINS = ['example.com', 'example.fr', 'example.net', 'example.org'];
export const EPOCH_START = Date.parse('2019-01-01T00:00:00Z');
export const EPOCH_END = Date.parse('2026-06-30T00:00:00Z');

function slug(s: string): string {
  return s
    .normalize('NFD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '');
}

/** 8 digits, a bijection of i for i < 10^8, so phones never collide. */
function digits(i: number, mul: number, add: number, width: number): string {
  const mod = 10 ** width;
  return String((((i * mul) % mod) + add) % mod).padStart(width, '0');
}

const dayCache = new Map<number, string>();
const two = (n: number) => (n < 10 ? `0${n}` : String(n));

/** `YYYY-MM-DDTHH:MM:SSZ`; millions of calls during generation, so days are cached. */
export function isoAt(ms: number): string {
  const day = Math.floor(ms / 86_400_000);
  let d = dayCache.get(day);
  if (d === undefined) {
    d = new Date(day * 86_400_000).toISOString().slice(0, 11);
    dayCache.set(day, d);
  }
  const s = Math.floor((ms - day * 86_400_000) / 1000);
  return `${d}${two(Math.floor(s / 3600))}:${two(Math.floor(s / 60) % 60)}:${two(s % 60)}Z`;
}

/**
 * Demo customer number `i` (1-based). Customer 1 is in every silo; the others are spread like
 * real customers: ~70 % have a loyalty card, ~35 % have called the call centre, ~55 % get the
 * newsletter, ~80 % browsed the site while logged in.
 */
export function demoCustomer(i: number): DemoCustomer {
  if (!Number.isInteger(i) || i < 1 || i >= 1e8) throw new RangeError('demo customer numbers are integers from 1');
  const r = rng(mix(DEMO_SEED, i));
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const firstName = pick(r() < 0.5 ? FEMALE : MALE);
  const lastName = pick(LAST);
  const nAddresses = r() < 0.7 ? 1 : 2;
  const addresses: DemoAddress[] = [];
  for (let k = 0; k < nAddresses; k++) {
    addresses.push({
      line1: `${1 + Math.floor(r() * 180)} ${pick(STREET_PREFIX)} ${pick(STREET_SUFFIX)}`,
      postalCode: String(1000 + Math.floor(r() * 94_000)).padStart(5, '0'),
      city: pick(CITIES),
    });
  }
  const createdAt = EPOCH_START + Math.floor(r() * (EPOCH_END - EPOCH_START - 90 * 86_400_000));
  const age = 18 + Math.floor(r() * 67);
  const birth = new Date(Date.UTC(2026 - age, Math.floor(r() * 12), 1 + Math.floor(r() * 28)));
  const all = i === 1;
  const loyalty = all || r() < 0.7;
  const inCrm = all || r() < 0.35;
  const crmByEmail = all || r() < 0.8;
  const inNewsletter = all || r() < 0.55;
  const hasWebEvents = all || r() < 0.8;
  return {
    customerId: i,
    email: `${slug(firstName)}.${slug(lastName)}.${i}@${DOMAINS[i % DOMAINS.length]}`,
    phone: `+336${digits(i, 48271, 13_572_468, 8)}`,
    firstName,
    lastName,
    birthDate: birth.toISOString().slice(0, 10),
    createdAt: isoAt(createdAt),
    addresses,
    loyaltyCard: loyalty ? `2900${digits(i, 7919, 104_729, 9)}` : null,
    inCrm,
    crmByEmail,
    inNewsletter,
    hasWebEvents,
  };
}

/**
 * The first `n` demo customers (from `start`): `listDemoCustomers(n)`, or
 * `listDemoCustomers(dataDir, n)` to stop at the number of customers generated in that data dir.
 */
export function listDemoCustomers(n: number, start?: number): DemoCustomer[];
export function listDemoCustomers(dataDir: string, n: number, start?: number): DemoCustomer[];
export function listDemoCustomers(a: number | string, b?: number, c?: number): DemoCustomer[] {
  let n: number;
  let start: number;
  if (typeof a === 'string') {
    const generated = generatedCustomers(a);
    start = c ?? 1;
    n = Math.max(0, Math.min(b ?? generated, generated - start + 1));
  } else {
    n = a;
    start = b ?? 1;
  }
  return Array.from({ length: n }, (_, k) => demoCustomer(start + k));
}

function generatedCustomers(dataDir: string): number {
  try {
    return (JSON.parse(readFileSync(join(dataDir, 'demo', 'manifest.json'), 'utf8')) as { customers: number }).customers;
  } catch {
    return 0;
  }
}
