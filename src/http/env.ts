import type { Deps } from '../deps.js';
import type { Scope } from '../db/schema/api-keys.js';
import type { Role } from '../db/schema/users.js';

/** Who is calling, once authenticated. */
export type Principal =
  | { kind: 'api_key'; id: string; scopes: readonly Scope[] }
  | { kind: 'user'; id: string; role: Role; scopes: readonly Scope[]; sessionId: string };

export interface AppEnv {
  Variables: {
    deps: Deps;
    requestId: string;
    principal: Principal | null;
  };
}
