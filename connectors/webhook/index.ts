export { webhookConnector, presentIdentity, type WebhookConnector, type WebhookConnectorOptions, type SentIdentity } from './connector.js';
export { WebhookConnectorSchema, parseWebhookConfig, type WebhookConnectorConfig, type ParsedWebhookConfig } from './config.js';
