/**
 * Scheduling: which due tasks this instance takes now. Limits:
 * - per connector, `concurrency` calls across EVERY instance: the count of the connector's
 *   tasks running under a live lease is read and the claim made under the connector's lock
 *   (`claim:<connector>`), so two instances claiming at once cannot both fill the last slot;
 * - per instance, `maxInFlight` calls in all and `finalizeConcurrency` export builds;
 * - connectors taken in round-robin order, so that under the cap none starves the others.
 * Which connectors have work, and a free slot, is read first, outside any transaction: an idle
 * instance, or one whose connectors are all busy on other instances, claims nothing and takes
 * no write lock.
 */
import { randomInt } from 'node:crypto';
import type { Deps } from '../deps.js';
import { FINALIZE_CONNECTOR, type Task } from '../db/schema/tasks.js';
import { leaseMs, type EngineOptions } from './options.js';

export interface LocalLoad {
  /** Tasks this instance is running. */
  inflight: number;
  /** Per connector id (FINALIZE_CONNECTOR for export builds). */
  running(connectorId: string): number;
}

export class Scheduler {
  /** Instances start their round-robin at different connectors. */
  private rr = randomInt(1 << 20);

  constructor(
    private readonly deps: Deps,
    private readonly opts: EngineOptions,
    private readonly connectorIds: readonly string[],
  ) {}

  /** Claims what this instance may run now; `checkLeases` also takes over dead workers' tasks and fails orphans. */
  async claim(load: LocalLoad, checkLeases: boolean): Promise<Task[]> {
    const { db } = this.deps;
    const now = this.deps.now();
    let room = this.opts.maxInFlight - load.inflight;
    if (room <= 0) return [];
    const lease = { owner: this.opts.workerId, now, until: now + leaseMs(this.opts) };
    const expired = new Set(checkLeases ? await db.tasks.connectorsWithExpiredLeases(now) : []);
    const limitOf = (id: string) => (id === FINALIZE_CONNECTOR ? this.opts.finalizeConcurrency : this.opts.concurrency);
    const ids = this.connectorIds;
    const start = this.rr++ % Math.max(1, ids.length);
    const order = [FINALIZE_CONNECTOR, ...ids.map((_, k) => ids[(start + k) % ids.length]!)].filter((id) => limitOf(id) - load.running(id) > 0);
    // A few more candidates than free slots: another instance may claim some meanwhile. A
    // connector whose every slot is taken (by any instance) is no candidate: under load, that
    // is most wake-ups of most instances, each a transaction that would claim nothing.
    const due = await db.tasks.connectorsWithDue(order, now, room + 4, { at: this.opts.concurrency, except: FINALIZE_CONNECTOR });
    const wanted = order.filter((id) => expired.has(id) || due.has(id)).slice(0, room + 4 + expired.size);
    if (wanted.length === 0 && !checkLeases) return [];
    return db.tx(
      async (t) => {
        const out: Task[] = [];
        for (const id of wanted) {
          if (room <= 0) break;
          // Export builds are limited per instance (CPU, disk); connector calls per silo, globally.
          const busy = id === FINALIZE_CONNECTOR ? load.running(id) : await t.tasks.runningCount(id, now);
          let free = Math.min(room, limitOf(id) - busy);
          if (free <= 0) continue;
          if (expired.has(id)) {
            const taken = await t.tasks.claimExpired(id, lease, free);
            out.push(...taken);
            free -= taken.length;
            room -= taken.length;
          }
          const due = await t.tasks.claimDue(id, lease, free);
          out.push(...due);
          room -= due.length;
        }
        // Tasks of connectors no instance runs (removed from the config): claimed to be failed.
        if (checkLeases && room > 0) out.push(...(await t.tasks.claimOrphans(this.connectorIds, now - this.opts.orphanGraceMs, lease, Math.min(room, 64))));
        return out;
      },
      { locks: wanted.filter((id) => id !== FINALIZE_CONNECTOR).map((id) => `claim:${id}`) },
    );
  }
}
