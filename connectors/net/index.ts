export { OutboundClient, OutboundError, parseOutboundUrl, DEFAULT_MAX_RESPONSE_BYTES, DEFAULT_TIMEOUT_MS } from './client.js';
export type { OutboundClientOptions, OutboundErrorCode, OutboundRequest, OutboundResponse, ResolvedAddress, Resolver } from './client.js';
export { judgeAddress, isCidr, type AddressVerdict, type PrivateNetworkPolicy } from './addresses.js';
export { retryAfterMs } from './retry-after.js';
