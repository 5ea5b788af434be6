/**
 * The purposes catalogue as the hot paths read it: every consent read and write needs it, so it
 * is held in memory, one object per Deps (built in src/runtime.ts), never in a module-level map.
 *
 * Freshness, across everything that may change the catalogue:
 * - this instance's own writes call `changed()` after they commit: dropped at once here, and
 *   `notify('purposes')` tells every other instance on the same database, which drop theirs
 *   (`start()` listens);
 * - a notification lost while an instance's listening connection was down (PostgreSQL) — or a
 *   CLI command beside the server on SQLite, whose notifications stay in its own process — is
 *   covered by a short time-to-live: a catalogue older than `ttlMs` is read again;
 * - a purpose id or version the cached copy does not know (created a moment ago elsewhere) makes
 *   one early reload, at most once per `missReloadMs`, before the caller is told it does not
 *   exist — so unknown ids sent in a loop cost one small query per interval, not one each.
 * A reload that started before an invalidation is not kept: it may have read the old rows.
 */
import type { Database } from '../db/database.js';
import type { LegalBasis, Localized, PurposeChannel } from '../db/schema/purposes.js';
import type { PurposeWithSha } from '../db/stores/purposes.js';

export const PURPOSES_CHANNEL = 'purposes';

export interface PurposeView {
  id: string;
  title: Localized;
  text: Localized;
  legalBasis: LegalBasis;
  channels: PurposeChannel[];
  validityDays: number | null;
  gpcApplies: boolean;
  version: number;
  textSha256: string;
  createdAt: string;
  updatedAt: string;
}

/** What the hot paths need of a purpose, precomputed. */
export interface CachedPurpose {
  view: PurposeView;
  id: string;
  version: number;
  /** validityDays in ms, or 0 when consents never expire. */
  validityMs: number;
  gpcApplies: boolean;
  textSha256: string;
}

export interface Catalog {
  /** Sorted by id. */
  list: CachedPurpose[];
  byId: Map<string, CachedPurpose>;
}

export interface CatalogOptions {
  ttlMs?: number;
  missReloadMs?: number;
  /** Monotonic milliseconds (not the service clock, which tests hold still). */
  clock?: () => number;
}

function toCached(r: PurposeWithSha): CachedPurpose {
  const view: PurposeView = {
    id: r.id,
    title: r.title,
    text: r.text,
    legalBasis: r.legalBasis,
    channels: r.channels,
    validityDays: r.validityDays,
    gpcApplies: r.gpcApplies,
    version: r.version,
    textSha256: r.textSha256,
    createdAt: new Date(r.createdAt).toISOString(),
    updatedAt: new Date(r.updatedAt).toISOString(),
  };
  return { view, id: r.id, version: r.version, validityMs: (r.validityDays ?? 0) * 86_400_000, gpcApplies: r.gpcApplies, textSha256: r.textSha256 };
}

export class PurposeCatalog {
  private cached: { catalog: Catalog; at: number } | null = null;
  private loading: Promise<Catalog> | null = null;
  /** Bumped by every invalidation; a load only keeps what it read if none happened meanwhile. */
  private generation = 0;
  private lastMissReload = -Infinity;
  private readonly ttlMs: number;
  private readonly missReloadMs: number;
  private readonly clock: () => number;

  constructor(
    private readonly db: Database,
    opts: CatalogOptions = {},
  ) {
    this.ttlMs = opts.ttlMs ?? 5_000;
    this.missReloadMs = opts.missReloadMs ?? 1_000;
    this.clock = opts.clock ?? (() => performance.now());
  }

  /** Listens for other instances' changes; answers the unsubscribe. */
  start(): Promise<() => Promise<void>> {
    return this.db.listen(PURPOSES_CHANNEL, () => this.invalidate());
  }

  /** The catalogue, from memory unless stale. */
  get(): Promise<Catalog> {
    const c = this.cached;
    if (c && this.clock() - c.at < this.ttlMs) return Promise.resolve(c.catalog);
    return this.load();
  }

  /** The purpose `id`, reloading once (rate-limited) when the cached catalogue lacks it. */
  async find(id: string): Promise<CachedPurpose | undefined> {
    return (await this.get()).byId.get(id) ?? (await this.reloadOnMiss())?.byId.get(id);
  }

  /** The cached copy may be behind: reloads it, at most once per missReloadMs; undefined when not due. */
  async reloadOnMiss(): Promise<Catalog | undefined> {
    const now = this.clock();
    if (now - this.lastMissReload < this.missReloadMs) return undefined;
    this.lastMissReload = now;
    this.invalidate();
    return this.load();
  }

  invalidate(): void {
    this.generation++;
    this.cached = null;
    this.loading = null;
  }

  /**
   * After this instance committed a change to the catalogue: here at once, elsewhere by
   * notification. Never fails: the change is committed, and an announcement that could not be
   * sent is covered by the other instances' time-to-live.
   */
  async changed(): Promise<void> {
    this.invalidate();
    await this.db.notify(PURPOSES_CHANNEL).catch(() => {});
  }

  private load(): Promise<Catalog> {
    if (this.loading) return this.loading;
    const generation = this.generation;
    const at = this.clock();
    const loading = this.db.purposes.all().then((rows) => {
      const list = rows.map(toCached);
      const catalog: Catalog = { list, byId: new Map(list.map((p) => [p.id, p])) };
      if (this.generation === generation) this.cached = { catalog, at };
      return catalog;
    });
    this.loading = loading;
    void loading.finally(() => {
      if (this.loading === loading) this.loading = null;
    }).catch(() => {});
    return loading;
  }
}
