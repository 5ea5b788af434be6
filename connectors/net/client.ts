/**
 * The outbound HTTP client every call oubli makes to a system it does not control goes through
 * (webhook receivers, REST silos, OAuth token endpoints, callbacks).
 *
 * Invariants:
 * - **http and https only**, no credentials in the URL (they would end up in logs; use an
 *   `Authorization` header).
 * - **The address is checked when the socket connects**, not when the URL is accepted: the
 *   undici Agent's connector resolves the name itself (every A and AAAA record), refuses the
 *   whole answer when one address is forbidden (./addresses.ts), and then connects to the very
 *   addresses it checked — a DNS answer that changes between a check and the connection (DNS
 *   rebinding) never reaches a private address. IP literals are checked the same way.
 * - **Redirects are never followed**: a 3xx is returned as the answer. Following one would
 *   re-open every question above for a URL the peer chose.
 * - **One total time limit** per exchange (connect, headers and body) and **a cap on the body
 *   read**: beyond it the body is cut (`truncated: true`) and the connection dropped, so a
 *   peer streaming gigabytes costs a bounded amount of memory and time.
 * - **Keep-alive pooling per origin** (one undici Agent per client, `connectionsPerOrigin`
 *   sockets each), so thousands of deliveries to a few receivers reuse their connections.
 * - It logs nothing. Errors name the origin (scheme, host, port) only — never the path or query
 *   (identities travel there), a header or a body.
 *
 * The caller's `signal` aborting rejects with the signal's reason, as the Connector contract
 * asks; every other failure is an OutboundError with a `retryable` verdict.
 */
import { lookup as dnsLookup } from 'node:dns/promises';
import type { LookupAddress } from 'node:dns';
import { isIP } from 'node:net';
import { Agent, buildConnector, request, type Dispatcher } from 'undici';
import { judgeAddress, type AddressVerdict, type PrivateNetworkPolicy } from './addresses.js';

export type OutboundErrorCode =
  /** Not an absolute http(s) URL, or credentials in it. */
  | 'URL_NOT_ALLOWED'
  /** The host is, or resolves to, an address the policy forbids. */
  | 'ADDRESS_FORBIDDEN'
  /** The name does not resolve (now). */
  | 'DNS_FAILED'
  /** Refused, reset, unreachable. */
  | 'CONNECTION_FAILED'
  /** The certificate or the TLS handshake failed. */
  | 'TLS_FAILED'
  /** The exchange took longer than its time limit. */
  | 'TIMEOUT'
  /** A header name or value that cannot be sent (CR/LF injection, control characters). */
  | 'INVALID_REQUEST';

const RETRYABLE: Record<OutboundErrorCode, boolean> = {
  URL_NOT_ALLOWED: false,
  ADDRESS_FORBIDDEN: false,
  DNS_FAILED: true,
  CONNECTION_FAILED: true,
  TLS_FAILED: true,
  TIMEOUT: true,
  INVALID_REQUEST: false,
};

const OUTBOUND_ERROR = Symbol.for('oubli.OutboundError');

export class OutboundError extends Error {
  readonly retryable: boolean;
  constructor(
    readonly code: OutboundErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'OutboundError';
    this.retryable = RETRYABLE[code];
    (this as unknown as Record<symbol, boolean>)[OUTBOUND_ERROR] = true;
  }

  /** By brand, like ConnectorError: a deployment config may load its own copy of this module. */
  static override [Symbol.hasInstance](value: unknown): boolean {
    return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[OUTBOUND_ERROR] === true;
  }
}

export interface ResolvedAddress {
  address: string;
  family: 4 | 6;
}

/** Resolves a host name to every address it has (A and AAAA). */
export type Resolver = (hostname: string) => Promise<ResolvedAddress[]>;

export interface OutboundClientOptions {
  /** Private networks this client may reach (default none; tests and internal silos allow some). */
  privateNetworks?: PrivateNetworkPolicy;
  /** Default total time for one exchange, ms (connect, headers, body). */
  timeoutMs?: number;
  /** Default cap on a response body, bytes; beyond it the body is cut. */
  maxResponseBytes?: number;
  /** Sockets kept alive per origin. */
  connectionsPerOrigin?: number;
  /** Name resolution; default the system resolver (getaddrinfo: /etc/hosts, then DNS). */
  resolve?: Resolver;
  /** Sent as `user-agent` unless the request sets one. */
  userAgent?: string;
}

export interface OutboundRequest {
  url: string | URL;
  method?: string;
  headers?: Record<string, string>;
  body?: string | Uint8Array;
  /** Aborting rejects with the signal's reason. */
  signal?: AbortSignal;
  timeoutMs?: number;
  maxResponseBytes?: number;
}

export interface OutboundResponse {
  status: number;
  /** Lower-case names; repeated headers joined with ", ". */
  headers: Record<string, string>;
  /** At most `maxResponseBytes`. */
  body: Buffer;
  /** The peer sent more than `maxResponseBytes`: the rest was not read. */
  truncated: boolean;
  durationMs: number;
}

export const DEFAULT_TIMEOUT_MS = 15_000;
export const DEFAULT_MAX_RESPONSE_BYTES = 1024 * 1024;

const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
// Field values: visible characters, spaces and tabs (RFC 9110 §5.5); CR, LF and NUL split or end a header.
const HEADER_VALUE_FORBIDDEN = /[\u0000-\u0008\u000a-\u001f\u007f]/;

const systemResolver: Resolver = async (hostname) => {
  const found = await dnsLookup(hostname, { all: true, verbatim: true });
  return found.map((a) => ({ address: a.address, family: a.family === 6 ? 6 : 4 }));
};

/** Parses and checks a URL's form (scheme, credentials); does not resolve it. */
export function parseOutboundUrl(raw: string | URL): URL {
  let url: URL;
  try {
    url = new URL(String(raw));
  } catch {
    throw new OutboundError('URL_NOT_ALLOWED', 'not an absolute URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new OutboundError('URL_NOT_ALLOWED', `only http and https URLs are allowed, not ${url.protocol.replace(/:$/, '')}`);
  }
  if (url.username || url.password) throw new OutboundError('URL_NOT_ALLOWED', `${url.origin}: credentials in the URL are not allowed (send them in a header)`);
  if (!url.hostname) throw new OutboundError('URL_NOT_ALLOWED', 'the URL has no host');
  return url;
}

function forbidden(host: string, verdict: AddressVerdict & { allowed: false }): OutboundError {
  const what = verdict.reason === 'metadata' ? 'a cloud metadata address' : verdict.reason === 'private' ? `a private address (${verdict.range})` : `a special-purpose address (${verdict.range})`;
  const via = host === verdict.address ? '' : ` (resolved from ${host})`;
  return new OutboundError('ADDRESS_FORBIDDEN', `${verdict.address}${via} is ${what}; outbound calls may not reach it`);
}

function mapNetworkError(err: unknown, origin: string): OutboundError {
  if (err instanceof OutboundError) return err;
  const code = (err as { code?: string })?.code ?? '';
  if (code === 'UND_ERR_CONNECT_TIMEOUT' || code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT') {
    return new OutboundError('TIMEOUT', `${origin}: no answer in time`, { cause: err });
  }
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN' || code === 'EAI_NODATA' || code === 'EAI_NONAME') {
    return new OutboundError('DNS_FAILED', `${origin}: the host name does not resolve`, { cause: err });
  }
  if (code === 'UND_ERR_INVALID_ARG') return new OutboundError('INVALID_REQUEST', `${origin}: the request cannot be sent (${(err as Error).message})`, { cause: err });
  if (/CERT|TLS|SSL|SELF_SIGNED|UNABLE_TO_VERIFY/.test(code)) return new OutboundError('TLS_FAILED', `${origin}: TLS failed (${code})`, { cause: err });
  const what = code === 'ECONNREFUSED' ? 'connection refused' : code === 'ECONNRESET' || code === 'UND_ERR_SOCKET' ? 'connection reset' : code ? `connection failed (${code})` : 'connection failed';
  return new OutboundError('CONNECTION_FAILED', `${origin}: ${what}`, { cause: err });
}

function checkHeaders(headers: Record<string, string>, origin: string): void {
  for (const [name, value] of Object.entries(headers)) {
    if (!HEADER_NAME.test(name)) throw new OutboundError('INVALID_REQUEST', `${origin}: invalid header name`);
    if (typeof value !== 'string' || HEADER_VALUE_FORBIDDEN.test(value)) {
      // The header's name is config; its value may be a secret or an identity: not named.
      throw new OutboundError('INVALID_REQUEST', `${origin}: header ${name} holds a line break or control character`);
    }
  }
}

function flatHeaders(h: Record<string, string | string[] | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(h)) if (v !== undefined) out[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : v;
  return out;
}

export class OutboundClient {
  private readonly agent: Agent;
  private readonly policy: PrivateNetworkPolicy;
  private readonly resolver: Resolver;
  private readonly timeoutMs: number;
  private readonly maxResponseBytes: number;
  private readonly userAgent: string;

  constructor(opts: OutboundClientOptions = {}) {
    this.policy = opts.privateNetworks ?? false;
    this.resolver = opts.resolve ?? systemResolver;
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.maxResponseBytes = opts.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
    this.userAgent = opts.userAgent ?? 'oubli';
    const base = buildConnector({ lookup: this.checkedLookup, timeout: this.timeoutMs } as buildConnector.BuildOptions);
    const connect: buildConnector.connector = (options, callback) => {
      // IP literals skip the lookup: they are judged here, before any socket exists.
      const host = options.hostname.replace(/^\[|\]$/g, '');
      if (isIP(host)) {
        const verdict = judgeAddress(host, this.policy);
        if (!verdict.allowed) {
          queueMicrotask(() => callback(forbidden(host, verdict), null));
          return;
        }
      }
      return base(options, callback);
    };
    this.agent = new Agent({ connect, connections: opts.connectionsPerOrigin ?? 16, pipelining: 1 });
  }

  /**
   * The connector's `lookup`: resolves every address, refuses the answer if any address is
   * forbidden, and hands net.connect only the addresses it checked.
   */
  private readonly checkedLookup = (
    hostname: string,
    options: { family?: number | string; all?: boolean },
    callback: (err: Error | null, address: string | LookupAddress[], family?: number) => void,
  ): void => {
    this.resolveChecked(hostname).then(
      (found) => {
        const family = options.family === 4 || options.family === 'IPv4' ? 4 : options.family === 6 || options.family === 'IPv6' ? 6 : 0;
        const usable = family ? found.filter((a) => a.family === family) : found;
        if (usable.length === 0) {
          callback(Object.assign(new Error(`${hostname} has no address of the family asked`), { code: 'ENOTFOUND' }), '', 0);
          return;
        }
        if (options.all) callback(null, usable);
        else callback(null, usable[0]!.address, usable[0]!.family);
      },
      (err: unknown) => callback(err as Error, '', 0),
    );
  };

  private async resolveChecked(hostname: string): Promise<ResolvedAddress[]> {
    const found = await this.resolver(hostname);
    if (found.length === 0) throw Object.assign(new Error(`${hostname} does not resolve`), { code: 'ENOTFOUND' });
    for (const a of found) {
      const verdict = judgeAddress(a.address, this.policy);
      if (!verdict.allowed) throw forbidden(hostname, verdict);
    }
    return found;
  }

  /**
   * Checks a URL as a connection would, without connecting: its form, then every address its
   * host resolves to now. For early, clear answers (a webhook URL refused when it is
   * registered); the check that counts is still the one at connect time.
   */
  async checkDestination(raw: string | URL): Promise<URL> {
    const url = parseOutboundUrl(raw);
    const host = url.hostname.replace(/^\[|\]$/g, '');
    if (isIP(host)) {
      const verdict = judgeAddress(host, this.policy);
      if (!verdict.allowed) throw forbidden(host, verdict);
      return url;
    }
    try {
      await this.resolveChecked(host);
    } catch (err) {
      throw mapNetworkError(err, url.origin);
    }
    return url;
  }

  /** One exchange; never follows a redirect. See the module header for the invariants. */
  async request(req: OutboundRequest): Promise<OutboundResponse> {
    const url = parseOutboundUrl(req.url);
    // `scheme://host:port`: all an error may name.
    const origin = url.origin;
    const headers = { 'user-agent': this.userAgent, ...req.headers };
    checkHeaders(headers, origin);
    req.signal?.throwIfAborted();
    const timeoutMs = req.timeoutMs ?? this.timeoutMs;
    const cap = req.maxResponseBytes ?? this.maxResponseBytes;
    const timeout = AbortSignal.timeout(timeoutMs);
    const signal = req.signal ? AbortSignal.any([req.signal, timeout]) : timeout;
    const started = performance.now();
    let res: Dispatcher.ResponseData;
    try {
      res = await request(url, {
        dispatcher: this.agent,
        method: (req.method ?? 'GET').toUpperCase() as Dispatcher.HttpMethod,
        headers,
        body: req.body,
        signal,
        // The total limit is `signal`; these only keep undici's own (longer) defaults out of the way.
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
      });
    } catch (err) {
      throw this.failure(err, req.signal, timeout, origin, timeoutMs);
    }
    try {
      const { body, truncated } = await readCapped(res.body, cap);
      return { status: res.statusCode, headers: flatHeaders(res.headers), body, truncated, durationMs: performance.now() - started };
    } catch (err) {
      res.body.destroy();
      throw this.failure(err, req.signal, timeout, origin, timeoutMs);
    }
  }

  private failure(err: unknown, caller: AbortSignal | undefined, timeout: AbortSignal, origin: string, timeoutMs: number): unknown {
    if (caller?.aborted) return caller.reason;
    if (timeout.aborted) return new OutboundError('TIMEOUT', `${origin}: no complete answer within ${timeoutMs} ms`, { cause: err });
    return mapNetworkError(err, origin);
  }

  /** Closes every pooled connection. */
  async close(): Promise<void> {
    await this.agent.close();
  }
}

/** Reads a body up to `cap` bytes; what lies beyond is not read (the stream is destroyed). */
async function readCapped(stream: AsyncIterable<Buffer> & { destroy(): void }, cap: number): Promise<{ body: Buffer; truncated: boolean }> {
  const chunks: Buffer[] = [];
  let size = 0;
  let truncated = false;
  for await (const chunk of stream) {
    const room = cap - size;
    if (chunk.length > room) {
      if (room > 0) chunks.push(chunk.subarray(0, room));
      size = cap;
      truncated = true;
      break; // leaving the loop destroys the stream: undici drops the connection.
    }
    chunks.push(chunk);
    size += chunk.length;
  }
  return { body: Buffer.concat(chunks, size), truncated };
}
