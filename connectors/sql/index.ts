export { sqlConnector, jsonSafe, type SqlConnector } from './connector.js';
export {
  ConnectorConfigError,
  parseSqlConfig,
  SqlConnectorSchema,
  type SqlConnectorConfig,
  type SqlCollectionInput,
  type ErasePolicy,
  type MaskSpec,
} from './config.js';
