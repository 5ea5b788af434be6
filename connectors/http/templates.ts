/**
 * Request templates of the REST connector: `contacts/{email}`, `?ext_id={customer_id}`,
 * `contacts/{record.id}`, `contacts/{parent.id}/events`, and JSON bodies whose strings hold the
 * same placeholders.
 *
 * A placeholder is an identity type (`{email}`: the normalised identity searched by), a field
 * of the record being erased (`{record.<path>}`) or of the parent record of a relation
 * (`{parent.<path>}`), paths as in ./paths.ts. `{{` and `}}` write literal braces.
 *
 * Values are made safe for where they land, so an identity or a silo's data can never change
 * the request's shape:
 * - in a URL, percent-encoded (`encodeURIComponent`: `/`, `?`, `#`, `@`, CR/LF all encoded),
 *   and `.` / `..` refused (a URL resolves them as path steps, even encoded);
 * - in a header, refused when it holds a line break or control character (header injection);
 * - in a JSON body, a JSON string (JSON.stringify does the escaping).
 * Placeholders may not stand before the URL's path: the host is fixed by the declaration.
 */
import { ConnectorError, type Identity } from '../types.js';
import { parsePath, selectText, type Path } from './paths.js';

export type Ref = { kind: 'identity'; type: string } | { kind: 'record' | 'parent'; path: Path };

type Part = { literal: string } | { ref: Ref; source: string };

export interface Template {
  source: string;
  parts: Part[];
  refs: Ref[];
}

/** A JSON body whose string leaves are templates. */
export type BodyTemplate = null | boolean | number | Template | BodyTemplate[] | { [k: string]: BodyTemplate };

const IDENTITY_REF = /^[a-z][a-z0-9_]{0,39}$/;

export function parseTemplate(source: string): Template {
  const parts: Part[] = [];
  let literal = '';
  for (let i = 0; i < source.length; i++) {
    const ch = source[i]!;
    if ((ch === '{' || ch === '}') && source[i + 1] === ch) {
      literal += ch;
      i++;
      continue;
    }
    if (ch === '}') throw new Error(`${JSON.stringify(source)}: a lone "}" (write "}}" for a literal brace)`);
    if (ch !== '{') {
      literal += ch;
      continue;
    }
    const end = source.indexOf('}', i);
    if (end < 0) throw new Error(`${JSON.stringify(source)}: unterminated placeholder`);
    const name = source.slice(i + 1, end).trim();
    if (literal) parts.push({ literal });
    literal = '';
    parts.push({ ref: parseRef(name, source), source: name });
    i = end;
  }
  if (literal) parts.push({ literal });
  return { source, parts, refs: parts.flatMap((p) => ('ref' in p ? [p.ref] : [])) };
}

function parseRef(name: string, source: string): Ref {
  const m = /^(record|parent)\.(.+)$/.exec(name);
  if (m) return { kind: m[1] as 'record' | 'parent', path: parsePath(m[2]!) };
  if (IDENTITY_REF.test(name)) return { kind: 'identity', type: name };
  throw new Error(`${JSON.stringify(source)}: unknown placeholder {${name}} (an identity type such as {email}, {record.<path>} or {parent.<path>})`);
}

export function parseBodyTemplate(value: unknown): BodyTemplate {
  if (typeof value === 'string') return parseTemplate(value);
  if (value === null || typeof value === 'boolean' || typeof value === 'number') return value;
  if (Array.isArray(value)) return value.map(parseBodyTemplate);
  if (typeof value === 'object') return Object.fromEntries(Object.entries(value as Record<string, unknown>).map(([k, v]) => [k, parseBodyTemplate(v)]));
  throw new Error('a body holds JSON values only');
}

export function bodyRefs(body: BodyTemplate | undefined): Ref[] {
  if (body === undefined || body === null || typeof body !== 'object') return [];
  if (isTemplate(body)) return body.refs;
  return (Array.isArray(body) ? body : Object.values(body)).flatMap(bodyRefs);
}

function isTemplate(v: BodyTemplate): v is Template {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && Array.isArray((v as Template).parts) && typeof (v as Template).source === 'string';
}

/** What placeholders are filled from. */
export interface TemplateValues {
  /** The identity searched by (`{email}`). */
  identity?: Identity;
  record?: Record<string, unknown>;
  parent?: Record<string, unknown>;
}

export type Context = 'path' | 'query' | 'header' | 'body';

// Visible characters, spaces and tabs only (RFC 9110 §5.5).
const CONTROL = /[\u0000-\u0008\u000a-\u001f\u007f]/;

function unsafe(connectorId: string, ref: string, where: string): ConnectorError {
  // Names the placeholder, never the value (an identity, or data from a silo).
  return new ConnectorError('UNSAFE_VALUE', `connector "${connectorId}": the value for {${ref}} cannot be sent ${where}`, false);
}

function valueOf(part: Extract<Part, { ref: Ref }>, values: TemplateValues, connectorId: string): string {
  const { ref } = part;
  if (ref.kind === 'identity') {
    if (!values.identity || values.identity.type !== ref.type) throw new Error(`no ${ref.type} identity to fill {${ref.type}}`);
    return values.identity.value;
  }
  const source = ref.kind === 'record' ? values.record : values.parent;
  const found = source ? selectText(ref.path, source)[0] : undefined;
  if (found === undefined || found === '') {
    throw new ConnectorError('SILO_BAD_RESPONSE', `connector "${connectorId}": a ${ref.kind} record has no value at ${ref.path.source} to fill {${part.source}}`, false);
  }
  return found;
}

function escape(value: string, ctx: Context, part: Extract<Part, { ref: Ref }>, connectorId: string): string {
  switch (ctx) {
    case 'path':
      if (value === '.' || value === '..') throw unsafe(connectorId, part.source, 'in a URL path (it would be read as a path step)');
      return encodeURIComponent(value);
    case 'query':
      return encodeURIComponent(value);
    case 'header':
      if (CONTROL.test(value)) throw unsafe(connectorId, part.source, 'in a header (line break or control character)');
      return value;
    case 'body':
      return value;
  }
}

/** Renders a header or body string. */
export function renderText(t: Template, values: TemplateValues, ctx: Context, connectorId: string): string {
  return t.parts.map((p) => ('literal' in p ? p.literal : escape(valueOf(p, values, connectorId), ctx, p, connectorId))).join('');
}

/**
 * Renders a URL template against `base`: placeholders before the first `?` are path values,
 * after it query values. The result's origin is the declared one (placeholders cannot reach
 * the host: checked when the config is read, and again here).
 */
export function renderUrl(t: Template, base: URL, values: TemplateValues, connectorId: string): URL {
  let inQuery = false;
  let out = '';
  for (const p of t.parts) {
    if ('literal' in p) {
      if (!inQuery && p.literal.includes('?')) inQuery = true;
      out += p.literal;
    } else {
      out += escape(valueOf(p, values, connectorId), inQuery ? 'query' : 'path', p, connectorId);
    }
  }
  return new URL(out, base);
}

export function renderBody(b: BodyTemplate, values: TemplateValues, connectorId: string): unknown {
  if (b === null || typeof b !== 'object') return b;
  if (isTemplate(b)) return renderText(b, values, 'body', connectorId);
  if (Array.isArray(b)) return b.map((x) => renderBody(x, values, connectorId));
  return Object.fromEntries(Object.entries(b).map(([k, v]) => [k, renderBody(v, values, connectorId)]));
}

/**
 * The origin a URL template always lands on, or an error when a placeholder can move it
 * (rendered with two different sample values, the origins differ).
 */
export function fixedOrigin(t: Template, base: URL): string {
  const sample = (v: string): URL => {
    let out = '';
    for (const p of t.parts) out += 'literal' in p ? p.literal : v;
    return new URL(out, base);
  };
  const a = sample('a1');
  const b = sample('b2');
  if (a.origin !== b.origin) throw new Error(`${JSON.stringify(t.source)}: a placeholder may not stand in the scheme, host or port`);
  if (a.protocol !== 'http:' && a.protocol !== 'https:') throw new Error(`${JSON.stringify(t.source)}: only http and https URLs are allowed`);
  if (a.username || a.password) throw new Error(`${JSON.stringify(t.source)}: no credentials in URLs (use auth)`);
  return a.origin;
}
