/**
 * In-memory connectors for engine and request tests: collections of rows found by identity
 * fields, an erasure policy per collection, identities discovered from fields, and scripted
 * faults (retryable / fatal errors, malformed results, hangs). `removed` counts actual side
 * effects: it grows only when an erase really deletes or masks something.
 */
import { ConnectorError, type AccessResult, type Connector, type ConnectorContext, type ErasureResult, type Identity } from '../../connectors/types.js';

export type Row = Record<string, unknown>;

export interface SyntheticCollection {
  name: string;
  portable?: boolean;
  /** field → identity type that field holds */
  keys: Record<string, string>;
  /** field → identity type discovered from matching rows */
  discovers?: Record<string, string>;
  policy: 'delete' | 'mask' | 'retain';
  /** mask: fields set to null; retain: fields kept (reported) */
  fields?: string[];
  retainedBecause?: string;
  rows: Row[];
}

export type Fault = 'retryable' | 'fatal' | 'malformed' | 'hang' | 'throw' | { delayMs: number };

export interface SyntheticOptions {
  id: string;
  collections: SyntheticCollection[];
  lookupBy?: string[];
  capabilities?: { access: boolean; erasure: boolean };
  /** Faults consumed one per call, in order. */
  accessFaults?: Fault[];
  eraseFaults?: Fault[];
  /** Every call fails with a retryable connection error. */
  down?: boolean;
  /** Added to every call. */
  delayMs?: number;
  /** The first N erase calls report success but change nothing (a buggy silo). */
  eraseNoops?: number;
}

export interface SyntheticConnector extends Connector {
  collections: SyntheticCollection[];
  calls: { access: number; erase: number };
  /** Rows deleted or masked, over all erase calls. */
  removed: number;
  maxConcurrent: number;
  setDown(down: boolean): void;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason as Error);
    const t = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => {
      clearTimeout(t);
      reject(signal.reason as Error);
    }, { once: true });
  });
}

export function syntheticConnector(opts: SyntheticOptions): SyntheticConnector {
  let down = opts.down ?? false;
  let active = 0;
  const accessFaults = [...(opts.accessFaults ?? [])];
  const eraseFaults = [...(opts.eraseFaults ?? [])];
  const lookupBy = opts.lookupBy ?? [...new Set(opts.collections.flatMap((c) => Object.values(c.keys)))];

  const matches = (c: SyntheticCollection, row: Row, who: Identity[]) =>
    Object.entries(c.keys).some(([field, type]) => who.some((w) => w.type === type && row[field] !== null && String(row[field]) === w.value));

  async function enter(faults: Fault[], ctx: ConnectorContext): Promise<'malformed' | null> {
    if (down) throw new ConnectorError('CONNECTION_REFUSED', `${opts.id}: connect ECONNREFUSED 127.0.0.1:1`, true);
    if (opts.delayMs) await sleep(opts.delayMs, ctx.signal);
    const f = faults.shift();
    if (!f) return null;
    if (f === 'retryable') throw new ConnectorError('UNAVAILABLE', `${opts.id} answered 503`, true);
    if (f === 'fatal') throw new ConnectorError('BAD_REQUEST', `${opts.id} answered 400`, false);
    if (f === 'throw') throw new Error('socket hang up');
    if (f === 'hang') {
      await sleep(3_600_000, ctx.signal);
      return null;
    }
    if (f === 'malformed') return 'malformed';
    await sleep(f.delayMs, ctx.signal);
    return null;
  }

  const conn: SyntheticConnector = {
    id: opts.id,
    title: `Synthetic ${opts.id}`,
    lookupBy,
    capabilities: opts.capabilities ?? { access: true, erasure: true },
    collections: opts.collections,
    calls: { access: 0, erase: 0 },
    removed: 0,
    maxConcurrent: 0,
    setDown(d) {
      down = d;
    },
    async access(who, ctx): Promise<AccessResult> {
      conn.calls.access++;
      active++;
      conn.maxConcurrent = Math.max(conn.maxConcurrent, active);
      try {
        if ((await enter(accessFaults, ctx)) === 'malformed') return { collections: [{ name: 'x', records: 'nope' }] } as unknown as AccessResult;
        const out: AccessResult = { collections: [], discovered: [] };
        for (const c of opts.collections) {
          const rows = c.rows.filter((r) => matches(c, r, who));
          out.collections.push({ name: c.name, portable: c.portable ?? true, records: rows.map((r) => ({ ...r })) });
          for (const r of rows) {
            for (const [field, type] of Object.entries(c.discovers ?? {})) {
              if (r[field] !== null && r[field] !== undefined) out.discovered.push({ type, value: String(r[field]), reason: `${opts.id}.${c.name}.${field} of a matching row` });
            }
          }
        }
        return out;
      } finally {
        active--;
      }
    },
    async erase(who, ctx): Promise<ErasureResult> {
      conn.calls.erase++;
      active++;
      conn.maxConcurrent = Math.max(conn.maxConcurrent, active);
      try {
        if ((await enter(eraseFaults, ctx)) === 'malformed') return { collections: [{ name: 'x', deleted: -1 }] } as unknown as ErasureResult;
        const noop = conn.calls.erase <= (opts.eraseNoops ?? 0);
        const out: ErasureResult = { collections: [] };
        for (const c of opts.collections) {
          const hit = c.rows.filter((r) => matches(c, r, who));
          const res = { name: c.name, deleted: 0, masked: 0, retained: 0 } as ErasureResult['collections'][number];
          if (c.policy === 'delete') {
            res.deleted = hit.length;
            if (!ctx.dryRun && !noop) c.rows = c.rows.filter((r) => !hit.includes(r));
          } else if (c.policy === 'mask') {
            res.masked = hit.length;
            if (!ctx.dryRun) for (const r of hit) for (const f of c.fields ?? Object.keys(c.keys)) r[f] = null;
          } else {
            res.retained = hit.length;
            res.retainedBecause = c.retainedBecause ?? 'legal obligation';
            res.retainedFields = c.fields ?? [];
          }
          if (!ctx.dryRun && !noop && c.policy !== 'retain') conn.removed += hit.length;
          out.collections.push(res);
        }
        return out;
      } finally {
        active--;
      }
    },
    async health() {
      return { ok: !down };
    },
  };
  return conn;
}

/** The five-silo shape of the demo (shop, loyalty, crm, newsletter, analytics), in memory. */
export function syntheticSilos(people: { email: string; phone: string; customerId: string; card: string }[], extra = 0) {
  const shop = syntheticConnector({
    id: 'shop',
    collections: [
      { name: 'customers', keys: { email: 'email', id: 'customer_id' }, discovers: { id: 'customer_id', phone: 'phone' }, policy: 'delete', rows: people.map((p) => ({ id: p.customerId, email: p.email, phone: p.phone, first_name: 'Jeanne' })) },
      { name: 'orders', keys: { customer_id: 'customer_id' }, policy: 'delete', rows: people.flatMap((p) => [1, 2].map((n) => ({ id: `${p.customerId}-o${n}`, customer_id: p.customerId, total: 10 * n }))) },
      {
        name: 'invoices',
        portable: false,
        keys: { customer_id: 'customer_id' },
        policy: 'retain',
        fields: ['amount', 'issued_at'],
        retainedBecause: 'legal obligation: 10-year retention of accounting records',
        rows: people.map((p) => ({ id: `${p.customerId}-i1`, customer_id: p.customerId, amount: 20 })),
      },
    ],
    lookupBy: ['email', 'customer_id'],
  });
  const loyalty = syntheticConnector({
    id: 'loyalty',
    collections: [
      { name: 'cards', keys: { phone: 'phone' }, discovers: { number: 'loyalty_card' }, policy: 'delete', rows: people.map((p) => ({ number: p.card, phone: p.phone })) },
      { name: 'receipts', portable: false, keys: { card: 'loyalty_card' }, policy: 'delete', rows: people.flatMap((p) => [{ card: p.card, amount: 5 }]) },
    ],
  });
  const crm = syntheticConnector({
    id: 'crm',
    collections: [{ name: 'contacts', keys: { email: 'email', phone: 'phone' }, discovers: { phone: 'phone' }, policy: 'delete', rows: people.map((p) => ({ email: p.email, phone: p.phone, note: 'called' })) }],
  });
  const newsletter = syntheticConnector({
    id: 'newsletter',
    collections: [{ name: 'subscribers', keys: { email: 'email' }, policy: 'delete', rows: people.map((p) => ({ email: p.email })) }],
  });
  const analytics = syntheticConnector({
    id: 'analytics',
    collections: [
      { name: 'events', portable: false, keys: { customer_id: 'customer_id' }, policy: 'delete', rows: people.flatMap((p) => Array.from({ length: 3 + extra }, (_, i) => ({ customer_id: p.customerId, event: `view-${i}` }))) },
    ],
  });
  return { shop, loyalty, crm, newsletter, analytics, all: [shop, loyalty, crm, newsletter, analytics] };
}

export const ALICE = { email: 'alice@example.com', phone: '+33612345678', customerId: 'C-1001', card: 'L-9001' };
export const BOB = { email: 'bob@example.com', phone: '+33698765432', customerId: 'C-1002', card: 'L-9002' };
