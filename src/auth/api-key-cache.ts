/**
 * API keys as every authenticated request looks them up. A key found active is remembered for
 * `ttlMs`, on both stores: on PostgreSQL the lookup is a network round trip per request (measured
 * at a fifth of an instance's CPU under POST /v1/consents, test/bench/consent-pg.bench.ts); on
 * SQLite it is a local read, but the read, its row mapping and the key's hash were still ≈ 6 % of
 * the server's CPU per GET /v1/subjects/{id}/consents (test/bench/consent-2-http.bench.ts).
 *
 * Freshness of a revocation (a revoked key must stop working at once, on every instance):
 * - revokeApiKey drops this instance's copy when its transaction has committed, and
 *   `notify('api_keys')` tells every other instance on the database, which drop theirs (`start()`
 *   listens; a listening connection that reconnects tells its subscribers, which drop all);
 * - a revocation no notification announced (a DB administrator editing `revoked_at`, a
 *   notification lost, another process on the same SQLite file) holds within `ttlMs`.
 * Only active keys are kept, never a miss (an unknown key asks the database every time, as
 * before); a lookup that started before an invalidation keeps nothing.
 */
import type { Database } from '../db/database.js';
import type { Scope } from '../db/schema/api-keys.js';

export const API_KEYS_CHANNEL = 'api_keys';

export interface ActiveApiKey {
  id: string;
  scopes: Scope[];
}

export interface ApiKeyCacheOptions {
  ttlMs?: number;
  /** Most keys remembered; past it the cache starts over. */
  max?: number;
  /** Monotonic milliseconds (not the service clock, which tests hold still). */
  clock?: () => number;
}

export class ApiKeyCache {
  private readonly entries = new Map<string, { key: ActiveApiKey; at: number }>();
  /** Bumped by every invalidation; a lookup only keeps what it read if none happened meanwhile. */
  private generation = 0;
  private readonly ttlMs: number;
  private readonly max: number;
  private readonly clock: () => number;

  constructor(
    private readonly db: Database,
    opts: ApiKeyCacheOptions = {},
  ) {
    this.ttlMs = opts.ttlMs ?? 2_000;
    this.max = opts.max ?? 10_000;
    this.clock = opts.clock ?? (() => performance.now());
  }

  /** Listens for revocations on other instances; answers the unsubscribe. */
  start(): Promise<() => Promise<void>> {
    return this.db.listen(API_KEYS_CHANNEL, () => this.invalidate());
  }

  /** The active key with this SHA-256 (hex), or undefined. */
  async find(hash: string): Promise<ActiveApiKey | undefined> {
    const hit = this.entries.get(hash);
    if (hit && this.clock() - hit.at < this.ttlMs) return hit.key;
    const generation = this.generation;
    const at = this.clock();
    const key = await this.db.auth.activeApiKey(hash);
    if (generation === this.generation) {
      if (key === undefined) this.entries.delete(hash);
      else {
        if (this.entries.size >= this.max) this.entries.clear();
        this.entries.set(hash, { key, at });
      }
    }
    return key;
  }

  invalidate(): void {
    this.generation++;
    this.entries.clear();
  }

  /**
   * After this instance committed a revocation: here at once, elsewhere by notification. Never
   * fails: the revocation is committed, and an announcement that could not be sent is covered by
   * the other instances' time-to-live.
   */
  async revoked(): Promise<void> {
    this.invalidate();
    await this.db.notify(API_KEYS_CHANNEL).catch(() => {});
  }
}
