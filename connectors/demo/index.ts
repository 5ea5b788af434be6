/**
 * The demo silos: `ensureDemoSilos(dataDir)` generates them once, `demoConnectors(dataDir)`
 * returns their connectors, `demoCustomer(i)` names a demo person without opening a database.
 */
import { sqlConnector, type SqlConnector } from '../sql/index.js';
import { demoConnectorConfigs } from './config.js';
import { DEMO_SILOS } from './generate.js';

export { DEMO_SILOS, demoDir, demoSiloPath, ensureDemoSilos, readDemoManifest, type DemoSilo, type DemoManifest, type EnsureResult } from './generate.js';
export { demoCustomer, listDemoCustomers, type DemoCustomer } from './people.js';
export { demoConnectorConfigs, DEMO_HASH_KEY, INVOICE_BASIS } from './config.js';

/** The five demo connectors over `<dataDir>/demo/*.db` (call ensureDemoSilos first). No I/O until used. */
export function demoConnectors(dataDir: string): SqlConnector[] {
  const configs = demoConnectorConfigs(dataDir);
  return DEMO_SILOS.map((s) => sqlConnector(configs[s]));
}
