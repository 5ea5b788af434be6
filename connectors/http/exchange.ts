/**
 * One request of the REST connector, start to verdict, and the listing of a paginated search.
 *
 * The verdict of an answer, in this order:
 * - 2xx: the JSON answer (an empty body is `null`). A body that is not JSON (an HTML error page
 *   behind a 200) or longer than `maxResponseBytes` fails: an export must never hold part of a
 *   person's data, or a proxy's page for it.
 * - a `notFound` status: "no such person" — an empty result, not a failure.
 * - 3xx: fatal. Redirects are not followed (the outbound client's rule): the declaration names
 *   the URL to call.
 * - 401 with OAuth: the token is dropped and the request sent once more with a new one.
 * - a retryable status (429, 5xx…): a short `Retry-After` (≤ `maxRetryAfterMs`) of a 429/503 is
 *   waited here, a few times; otherwise a retryable ConnectorError carrying `retryAfterMs`.
 * - 401/403: fatal SILO_AUTH; any other status: fatal SILO_REJECTED.
 */
import type { OutboundClient } from '../net/client.js';
import { OutboundError } from '../net/client.js';
import { retryAfterMs } from '../net/retry-after.js';
import type { ConnectorLogger } from '../types.js';
import type { Authenticator } from './auth.js';
import { statusIn, type Lookup, type ParsedHttpConfig, type RequestSpec, type StatusList } from './config.js';
import { silo, transportError } from './errors.js';
import { selectOne, selectRecords } from './paths.js';
import { fixedOrigin, renderBody, renderText, renderUrl, type TemplateValues } from './templates.js';

export interface Runtime {
  cfg: ParsedHttpConfig;
  client: OutboundClient;
  auth: Authenticator;
  base: URL;
}

export interface Prepared {
  method: string;
  url: URL;
  headers: Record<string, string>;
  body?: string;
  /** `GET contacts/{email}`: what logs and errors may name. */
  label: string;
}

export type Outcome = { kind: 'notFound'; status: number } | { kind: 'ok'; status: number; headers: Record<string, string>; json: unknown };

/** Waits of a short Retry-After within one call, at most. */
const MAX_WAITS = 3;

export function prepare(rt: Runtime, spec: RequestSpec, values: TemplateValues): Prepared {
  const id = rt.cfg.id;
  const url = renderUrl(spec.url, rt.base, values, id);
  // Values are percent-encoded, so they cannot move the host; checked anyway, it costs nothing.
  if (url.origin !== fixedOrigin(spec.url, rt.base)) throw silo(id, 'UNSAFE_VALUE', `${spec.method} ${spec.url.source}: a value changed the URL's origin`, false);
  // searchParams percent-encodes on its own: values go in raw.
  for (const [k, t] of Object.entries(spec.query)) url.searchParams.append(k, renderText(t, values, 'body', id));
  const headers: Record<string, string> = { accept: 'application/json', ...rt.cfg.headers };
  for (const [k, t] of Object.entries(spec.headers)) headers[k.toLowerCase()] = renderText(t, values, 'header', id);
  let body: string | undefined;
  if (spec.body !== undefined) {
    body = JSON.stringify(renderBody(spec.body, values, id));
    headers['content-type'] = 'application/json';
  }
  return { method: spec.method, url, headers, ...(body !== undefined ? { body } : {}), label: `${spec.method} ${spec.url.source}` };
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

export async function send(rt: Runtime, req: Prepared, notFound: StatusList, signal: AbortSignal, log: ConnectorLogger): Promise<Outcome> {
  const { cfg } = rt;
  const id = cfg.id;
  let renewed = false;
  let waits = 0;
  for (;;) {
    signal.throwIfAborted();
    const credentials = await rt.auth.headers(signal);
    let res;
    try {
      res = await rt.client.request({ url: req.url, method: req.method, headers: { ...req.headers, ...credentials }, body: req.body, signal, timeoutMs: cfg.timeoutMs, maxResponseBytes: cfg.maxResponseBytes });
    } catch (err) {
      if (err instanceof OutboundError) throw transportError(id, err, req.label);
      throw err;
    }
    const status = res.status;
    log.debug({ connector: id, request: req.label, status, ms: Math.round(res.durationMs) }, 'http call');
    if (status >= 200 && status <= 299) {
      if (res.truncated) throw silo(id, 'SILO_BAD_RESPONSE', `${req.label}: the answer is longer than ${cfg.maxResponseBytes} bytes (maxResponseBytes)`, false);
      const text = res.body.toString('utf8');
      if (text.trim() === '') return { kind: 'ok', status, headers: res.headers, json: null };
      try {
        return { kind: 'ok', status, headers: res.headers, json: JSON.parse(text) as unknown };
      } catch {
        const type = (res.headers['content-type'] ?? 'no content type').split(';')[0]!.slice(0, 60);
        throw silo(id, 'SILO_BAD_RESPONSE', `${req.label} answered ${status} with ${type}, not JSON`, false);
      }
    }
    if (statusIn(status, notFound)) return { kind: 'notFound', status };
    if (status >= 300 && status <= 399) {
      throw silo(id, 'SILO_REDIRECT', `${req.label} answered a redirect (${status}), which is not followed: declare the URL it points to`, false);
    }
    if (status === 401 && !renewed && rt.auth.invalidate(credentials)) {
      renewed = true;
      continue;
    }
    if (statusIn(status, cfg.statuses.retryable)) {
      const wait = retryAfterMs(res.headers['retry-after']);
      if ((status === 429 || status === 503) && wait !== null && wait <= cfg.maxRetryAfterMs && waits < MAX_WAITS) {
        waits++;
        await sleep(wait, signal);
        continue;
      }
      const code = status === 429 ? 'SILO_RATE_LIMITED' : 'SILO_UNAVAILABLE';
      throw silo(id, code, `${req.label} answered ${status}${wait !== null ? ` (retry after ${Math.ceil(wait / 1000)} s)` : ''}`, true, wait !== null ? { retryAfterMs: wait } : undefined);
    }
    if (status === 401 || status === 403) throw silo(id, 'SILO_AUTH', `${req.label} answered ${status}: the silo refused the credentials`, false);
    throw silo(id, 'SILO_REJECTED', `${req.label} answered ${status}`, false);
  }
}

/** The URL of `rel="next"` in RFC 8288 Link headers, resolved against the page's URL. */
export function nextLink(header: string | undefined, base: URL): URL | null {
  if (!header) return null;
  for (const m of header.matchAll(/<([^>]*)>((?:\s*;\s*[^;,]*)*)/g)) {
    const rel = /;\s*rel\s*=\s*(?:"([^"]*)"|([^\s;,]+))/i.exec(m[2] ?? '');
    const rels = (rel?.[1] ?? rel?.[2] ?? '').toLowerCase().split(/\s+/);
    if (!rels.includes('next')) continue;
    try {
      return new URL(m[1]!, base);
    } catch {
      return null;
    }
  }
  return null;
}

/**
 * Every record of a search, over all its pages. A `notFound` first page is no records; on a
 * later page, the end of the listing. More than `maxPages` pages, a cursor or link seen twice,
 * or a Link to another origin (it would carry our credentials there) fail the call.
 */
export async function list(rt: Runtime, lookup: Lookup, values: TemplateValues, signal: AbortSignal, log: ConnectorLogger): Promise<Record<string, unknown>[]> {
  const { cfg } = rt;
  const id = cfg.id;
  const req = prepare(rt, lookup, values);
  const notFound = lookup.notFound ?? cfg.statuses.notFound;
  const p = lookup.pagination;
  let page = p?.type === 'page' ? p.start : 0;
  if (p?.type === 'page') {
    req.url.searchParams.set(p.param, String(page));
    if (p.size) req.url.searchParams.set(p.size.param, String(p.size.value));
  }
  const seen = new Set<string>();
  const out: Record<string, unknown>[] = [];
  for (let n = 0; ; n++) {
    if (n >= cfg.maxPages) throw silo(id, 'SILO_TOO_MANY_PAGES', `${req.label}: more than ${cfg.maxPages} pages (maxPages)`, false);
    const res = await send(rt, req, notFound, signal, log);
    if (res.kind === 'notFound') break;
    const records = selectRecords(lookup.records, res.json);
    if ('misfit' in records) throw silo(id, 'SILO_BAD_RESPONSE', `${req.label}: the records path ${lookup.records.source} reaches ${records.misfit}, not records`, false);
    out.push(...records);
    if (!p) break;
    if (p.type === 'page') {
      if (records.length === 0 || (p.size && records.length < p.size.value)) break;
      req.url.searchParams.set(p.param, String(++page));
      continue;
    }
    let next: string;
    if (p.type === 'cursor') {
      const c = selectOne(p.cursor, res.json);
      if (c === undefined || c === null || c === '' || c === false) break;
      if (typeof c === 'object') throw silo(id, 'SILO_BAD_RESPONSE', `${req.label}: the cursor at ${p.cursor.source} is not a value`, false);
      next = String(c);
      req.url.searchParams.set(p.param, next);
    } else {
      const link = nextLink(res.headers.link, req.url);
      if (!link) break;
      if (link.origin !== req.url.origin) throw silo(id, 'SILO_BAD_RESPONSE', `${req.label}: the next page's Link points to another origin, which is not followed`, false);
      next = link.href;
      req.url = link;
    }
    if (seen.has(next)) throw silo(id, 'SILO_BAD_RESPONSE', `${req.label}: the listing loops (the same next page twice)`, false);
    seen.add(next);
  }
  return out;
}
