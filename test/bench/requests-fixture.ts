/**
 * Deployment config for the export-memory benchmark (loaded by the spawned service through
 * OUBLI_CONFIG): one synthetic silo holding BENCH_RECORDS records about anyone it is asked
 * about, built on each call as a real connector would return them.
 */
import type { Connector } from '../../connectors/types.js';

const records = Number(process.env.BENCH_RECORDS ?? 100_000);

const big: Connector = {
  id: 'big',
  title: 'Synthetic silo with many records per person',
  lookupBy: ['email'],
  capabilities: { access: true, erasure: true },
  async access(who) {
    const email = who[0]?.value ?? '';
    const rows: Record<string, unknown>[] = new Array(records);
    for (let i = 0; i < records; i++) {
      rows[i] = { id: i + 1, email, at: new Date(1_700_000_000_000 + i * 60_000).toISOString(), product: `SKU-${(i * 7919) % 100_000}`, store: `Magasin ${i % 120}`, amount_cents: (i * 37) % 20_000, note: 'achat en magasin, carte fidélité présentée' };
    }
    return { collections: [{ name: 'purchases', portable: true, records: rows }], discovered: [] };
  },
  async erase() {
    return { collections: [{ name: 'purchases', deleted: 0, masked: 0, retained: 0 }] };
  },
};

export default { connectors: [big] };
