/**
 * Connectors declared as data in oubli.config.ts, told apart by `driver`: `sqlite`, `postgres`,
 * `mysql` (connectors/sql), `http` (connectors/http) or `webhook` (connectors/webhook). One entry point, so the deployment
 * loader does not change when a declarative connector is added.
 */
import type { CountryCode } from 'libphonenumber-js';
import { httpConnector, type HttpConnectorConfig } from './http/index.js';
import { sqlConnector, type SqlConnectorConfig } from './sql/index.js';
import type { Connector } from './types.js';
import { webhookConnector, type WebhookConnectorConfig } from './webhook/index.js';

export type DeclaredConnectorConfig = SqlConnectorConfig | HttpConnectorConfig | WebhookConnectorConfig;

export interface DeclaredConnectorOptions {
  /** The deployment's OUBLI_PHONE_REGION: how phones written without a country code are read. */
  phoneRegion?: CountryCode;
  /** OUBLI_WEBHOOK_ALLOW_PRIVATE: webhook receivers on loopback and private networks. */
  webhookAllowPrivate?: boolean;
}

/** True for an entry declaring a connector as data (it names a `driver`). */
export function isDeclaredConnector(entry: unknown): entry is DeclaredConnectorConfig {
  return typeof entry === 'object' && entry !== null && 'driver' in entry;
}

/** Builds a declared connector; throws a CONNECTOR_CONFIG ConnectorError naming the connector and field. No I/O. */
export function declaredConnector(entry: DeclaredConnectorConfig, opts: DeclaredConnectorOptions = {}): Connector {
  if (entry.driver === 'http') return httpConnector(entry, opts);
  if (entry.driver === 'webhook') return webhookConnector(entry, { allowPrivate: opts.webhookAllowPrivate });
  return sqlConnector(entry, opts);
}
