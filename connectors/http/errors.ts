/**
 * The REST connector's failures as ConnectorErrors. Messages name the connector, the request's
 * template (`GET contacts/{email}`) and the status, never a rendered URL (identities travel in
 * it), a header, a token or a body.
 */
import type { OutboundError } from '../net/client.js';
import { ConnectorError } from '../types.js';

export function silo(connectorId: string, code: string, message: string, retryable: boolean, options?: { cause?: unknown; retryAfterMs?: number }): ConnectorError {
  return new ConnectorError(code, `connector "${connectorId}": ${message}`, retryable, options);
}

/** A transport failure of the outbound client, as the connector's error. */
export function transportError(connectorId: string, err: OutboundError, what: string): ConnectorError {
  switch (err.code) {
    case 'TIMEOUT':
      return silo(connectorId, 'SILO_TIMEOUT', `${what}: ${err.message}`, true, { cause: err });
    case 'ADDRESS_FORBIDDEN':
      return silo(connectorId, 'SILO_ADDRESS_FORBIDDEN', `${what}: ${err.message} (set allowPrivateNetwork for a silo on an internal network)`, false, { cause: err });
    case 'URL_NOT_ALLOWED':
      return silo(connectorId, 'CONNECTOR_CONFIG', `${what}: ${err.message}`, false, { cause: err });
    case 'INVALID_REQUEST':
      return silo(connectorId, 'UNSAFE_VALUE', `${what}: ${err.message}`, false, { cause: err });
    default:
      return silo(connectorId, 'SILO_UNAVAILABLE', `${what}: ${err.message}`, err.retryable, { cause: err });
  }
}
