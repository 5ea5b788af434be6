/**
 * What every connection offers: the per-aggregate stores, bound to it. `db.apiKeys.…` reads
 * outside a transaction; inside `db.tx(async (t) => …)`, `t.apiKeys.…` runs on the transaction.
 * A store is made on first use per handle (SQLite reuses one transaction handle, so none there).
 */
import type { Database, Handle, Q } from './database.js';
import { ApiKeyStore } from './stores/api-keys.js';

export abstract class Stores implements Handle {
  abstract readonly db: Database;
  abstract readonly q: Q;
  abstract readonly inTx: boolean;
  #apiKeys?: ApiKeyStore;
  get apiKeys(): ApiKeyStore {
    return (this.#apiKeys ??= new ApiKeyStore(this));
  }
}
