export { httpConnector, type HttpConnector, type HttpConnectorOptions } from './connector.js';
export { HttpConnectorConfigError, HttpConnectorSchema, parseHttpConfig, type HttpConnectorConfig, type ParsedHttpConfig } from './config.js';
