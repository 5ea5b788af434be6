import { SCOPES, type Scope } from '../db/schema/api-keys.js';
import type { Role } from '../db/schema/users.js';

/** What a staff session may do, by role. */
export const ROLE_SCOPES: Record<Role, readonly Scope[]> = {
  admin: SCOPES,
  // Admins manage users, keys and webhooks; the DPO sees the webhooks' state and the metrics.
  dpo: SCOPES.filter((s) => s !== 'admin' && s !== 'webhooks:write'),
  // A viewer reads the registers (audit, consents, requests), not the operations' side (webhooks, metrics).
  viewer: ['audit:read', 'consents:read', 'requests:read'],
};
