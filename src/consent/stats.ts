/**
 * Dashboard figures, from indexed aggregates: people by state per purpose (range counts on
 * consent_states(purpose, decision, occurred_at)), and grants / withdrawals per UTC day over the
 * last 90 days (range scan on consent_events(purpose, occurred_at, decision)).
 */
import type { Deps } from '../deps.js';
import type { ConsentStateName } from './states.js';

const DAY_MS = 86_400_000;
const iso = (ms: number) => new Date(ms).toISOString();

export interface PurposeStats {
  purpose: string;
  states: Record<ConsentStateName, number>;
  daily: { date: string; granted: number; withdrawn: number }[];
}

export async function consentStats(
  ctx: Pick<Deps, 'db' | 'purposes'>,
  now: number,
): Promise<{ subjects: number; purposes: PurposeStats[]; from: string; to: string }> {
  const { db } = ctx;
  const subjects = await db.subjects.countLive();
  const today = Math.floor(now / DAY_MS);
  const firstDay = today - 89;
  const purposes: PurposeStats[] = [];
  for (const p of (await ctx.purposes.get()).list) {
    const states: Record<ConsentStateName, number> = { granted: 0, refused: 0, withdrawn: 0, expired: 0, unknown: 0 };
    let total = 0;
    for (const r of await db.consents.stateCounts(p.id)) {
      states[r.decision] = r.n;
      total += r.n;
    }
    if (p.validityMs > 0 && states.granted > 0) {
      states.expired = await db.consents.grantedBefore(p.id, now - p.validityMs);
      states.granted -= states.expired;
    }
    states.unknown = Math.max(0, subjects - total);
    const byDay = new Map<number, { granted: number; withdrawn: number }>();
    for (const r of await db.consents.daily(p.id, firstDay * DAY_MS)) {
      const d = byDay.get(r.day) ?? { granted: 0, withdrawn: 0 };
      if (r.decision === 'granted' || r.decision === 'withdrawn') d[r.decision] = r.n;
      byDay.set(r.day, d);
    }
    const daily = [];
    for (let d = firstDay; d <= today; d++) {
      const v = byDay.get(d);
      daily.push({ date: iso(d * DAY_MS).slice(0, 10), granted: v?.granted ?? 0, withdrawn: v?.withdrawn ?? 0 });
    }
    purposes.push({ purpose: p.id, states, daily });
  }
  return { subjects, purposes, from: iso(firstDay * DAY_MS).slice(0, 10), to: iso(today * DAY_MS).slice(0, 10) };
}
