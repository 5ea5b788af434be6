/** Each demo silo's connector passes the shared conformance suite, on freshly generated silos. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { describeConnectorConformance } from '../../connectors/conformance.js';
import { sqlConnector } from '../../connectors/sql/index.js';
import { demoConnectorConfigs, ensureDemoSilos, listDemoCustomers, type DemoCustomer } from '../../connectors/demo/index.js';
import type { Identity } from '../../connectors/types.js';

const dir = mkdtempSync(join(tmpdir(), 'oubli-demo-conf-'));
ensureDemoSilos(dir, { customers: 200 });
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const configs = demoConnectorConfigs(dir);
const people = listDemoCustomers(200);
/** A different customer per silo, present in it, found by what that silo searches by. */
const pickPerson = (ok: (p: DemoCustomer) => boolean, skip: number) => people.filter(ok)[skip]!;

const cases: { silo: keyof typeof configs; who: () => Identity[]; discovers?: string[] }[] = [
  { silo: 'shop', who: () => [{ type: 'email', value: pickPerson(() => true, 3).email }], discovers: ['customer_id', 'phone'] },
  { silo: 'loyalty', who: () => [{ type: 'phone', value: pickPerson((p) => p.loyaltyCard !== null, 4).phone }], discovers: ['loyalty_card'] },
  { silo: 'crm', who: () => [{ type: 'email', value: pickPerson((p) => p.inCrm && p.crmByEmail, 5).email }], discovers: ['phone'] },
  { silo: 'newsletter', who: () => [{ type: 'email', value: pickPerson((p) => p.inNewsletter, 6).email }] },
  { silo: 'analytics', who: () => [{ type: 'customer_id', value: String(pickPerson((p) => p.hasWebEvents, 7).customerId) }] },
];

for (const c of cases) {
  describeConnectorConformance(`demo ${c.silo}`, async () => ({
    connector: sqlConnector(configs[c.silo]),
    seedPerson: async () => c.who(),
    expectDiscovered: c.discovers,
  }));
}
