/**
 * Identity normalization, shared by the consent registry and data-subject requests, so that
 * "Alice@Example.com " and "alice@example.com", or "06 12 34 56 78" and "+33612345678", are the
 * same person everywhere.
 */
import { parsePhoneNumberFromString, type CountryCode } from 'libphonenumber-js';
import { z } from 'zod';
import { ValidationError } from './errors.js';

export interface Identity {
  type: string;
  value: string;
}

/** Built-in identifier types; a deployment may add more (matched by TYPE_PATTERN). */
export const KNOWN_TYPES = ['email', 'phone', 'customer_id', 'loyalty_card'] as const;
export const TYPE_PATTERN = /^[a-z][a-z0-9_]{0,39}$/;

const Email = z.email();

export interface NormalizeOptions {
  /** Region for phone numbers written without a country code (FR by default). */
  defaultRegion?: CountryCode;
  /** Extra identifier types a deployment declared. */
  extraTypes?: readonly string[];
}

/** Normalizes one identity or throws ValidationError INVALID_IDENTITY naming what is wrong. */
export function normalizeIdentity(input: Identity, opts: NormalizeOptions = {}): Identity {
  const type = String(input.type ?? '').trim().toLowerCase();
  const raw = String(input.value ?? '').trim();
  const known = (KNOWN_TYPES as readonly string[]).includes(type) || (opts.extraTypes ?? []).includes(type);
  if (!TYPE_PATTERN.test(type) || !known) {
    throw new ValidationError('INVALID_IDENTITY', `unknown identifier type "${type.slice(0, 40)}"`);
  }
  if (raw.length === 0 || raw.length > 320) throw new ValidationError('INVALID_IDENTITY', `${type} must be 1–320 characters`);
  switch (type) {
    case 'email': {
      const value = raw.toLowerCase();
      if (!Email.safeParse(value).success) throw new ValidationError('INVALID_IDENTITY', 'email is not a valid address');
      return { type, value };
    }
    case 'phone': {
      const phone = parsePhoneNumberFromString(raw, opts.defaultRegion ?? 'FR');
      if (!phone || !phone.isValid()) throw new ValidationError('INVALID_IDENTITY', 'phone is not a valid number');
      return { type, value: phone.number };
    }
    default:
      return { type, value: raw };
  }
}

/**
 * Parses a path identifier `type:value` (URL-decoded by the router; the colon may also arrive
 * as %3A) into a normalized Identity.
 */
export function parseIdentifierParam(param: string, opts: NormalizeOptions = {}): Identity {
  let decoded = param;
  try {
    decoded = decodeURIComponent(param);
  } catch {
    // already decoded, or a stray %: use as is
  }
  const colon = decoded.indexOf(':');
  if (colon <= 0) throw new ValidationError('INVALID_IDENTITY', 'identifier must be "type:value", e.g. email:alice%40example.com');
  return normalizeIdentity({ type: decoded.slice(0, colon), value: decoded.slice(colon + 1) }, opts);
}

/** `a***@example.com`, `+33******78`: enough for the DPO to recognise, not to read. */
export function maskIdentity(id: Identity): string {
  if (id.type === 'email') {
    const [local = '', domain = ''] = id.value.split('@');
    return `${local.slice(0, 1)}***@${domain}`;
  }
  const v = id.value;
  if (v.length <= 4) return '*'.repeat(v.length);
  return `${v.slice(0, 3)}${'*'.repeat(Math.max(1, v.length - 5))}${v.slice(-2)}`;
}
