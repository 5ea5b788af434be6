/**
 * The periodic clean-up (../requests/retention.ts) and the waiting tasks' reminders and
 * deadlines (./answers.ts), run by one instance at a time: the holder
 * of the `engine.sweep` lease, renewed at each sweep. A crashed holder's lease runs out and
 * another instance sweeps instead. (Two sweeps at once would still be safe — every step is a
 * guarded change — the lease only saves the work.)
 */
import type { Ctx } from '../deps.js';
import { addEffects, type Effects } from '../requests/advance.js';
import { sweepRequests } from '../requests/retention.js';
import { sweepWaiting } from './answers.js';

export const SWEEP_LEASE = 'engine.sweep';

/** Sweeps if this instance holds (or takes) the lease; null when another does. */
export async function runMaintenance(ctx: Ctx, owner: string, everyMs: number): Promise<Effects | null> {
  const now = ctx.now();
  // Longer than the period: the holder renews before it lapses.
  const held = await ctx.db.tx((t) => t.leases.acquire(SWEEP_LEASE, owner, now, now + Math.round(everyMs * 1.5)));
  if (!held) return null;
  const fx = await sweepRequests(ctx);
  return addEffects(fx, await sweepWaiting(ctx));
}
