/**
 * The consent ledger's rows: events (append-only evidence) and the current state per (person,
 * purpose). The ordering rule that decides the current state is the domain's
 * (src/consent/state-rule.ts); this is storage only.
 *
 * Hot paths, prepared: the read "identifier → subject → states" (every GET of a person's
 * consents) and the per-row writes. Measured exception, kept here as in the audit store: on
 * SQLite, many rows are written one prepared single-row statement at a time (a multi-row builder
 * statement re-prepares a large statement per call); on PostgreSQL, as multi-row statements of
 * up to BATCH rows (one round trip per BATCH, not per row).
 */
import { and, asc, eq, gte, inArray, lt, sql } from 'drizzle-orm';
import type { NodePgDatabase } from 'drizzle-orm/node-postgres';
import type { Database, Handle } from '../database.js';
import type { Stores } from '../handle.js';
import type { NewOutboxRow } from './outbox.js';
import type { ConsentEvent, ConsentState, Decision, SourceChannel, consentEvents } from '../schema/consents.js';
import type { Identity } from '../../identity.js';

const BATCH = 1000;
const DAY_MS = 86_400_000;

export type NewConsentEvent = typeof consentEvents.$inferInsert;

/** A person's states as the hot path reads them: no row when nobody holds the identifier. */
export interface StateOfIdentity {
  subjectId: string;
  /** null when the person has no state yet (the left join found nothing). */
  purposeId: string | null;
  decision: Decision | null;
  occurredAt: number | null;
  channel: SourceChannel | null;
}

const p = sql.placeholder;
/** On SQLite a prepared `.set()` needs its placeholder wrapped (see DATALAYER.md). */
const set = (name: string) => sql`${p(name)}`;

function statements(db: Database) {
  const { consentEvents: e, consentStates: st, subjectIdentifiers: i } = db.tables;
  return {
    statesOf: db.statement<StateOfIdentity>('consents.statesOf', (q) =>
      q
        .select({ subjectId: i.subjectId, purposeId: st.purposeId, decision: st.decision, occurredAt: st.occurredAt, channel: st.channel })
        .from(i)
        .leftJoin(st, eq(st.subjectId, i.subjectId))
        .where(and(eq(i.type, p('type')), eq(i.value, p('value')))),
    ),
    statesOfSubject: db.statement<ConsentState>('consents.statesOfSubject', (q) => q.select().from(st).where(eq(st.subjectId, p('subjectId')))),
    insertEvent: db.statement('consents.insertEvent', (q) =>
      q.insert(e).values({
        id: p('id'),
        subjectId: p('subjectId'),
        purposeId: p('purposeId'),
        decision: p('decision'),
        occurredAt: p('occurredAt'),
        recordedAt: p('recordedAt'),
        channel: p('channel'),
        collectedBy: p('collectedBy'),
        location: p('location'),
        method: p('method'),
        purposeVersion: p('purposeVersion'),
        evidence: p('evidence'),
        gpc: p('gpc'),
        auditIdx: p('auditIdx'),
      }),
    ),
    putState: db.statement('consents.putState', (q) =>
      q
        .insert(st)
        .values({
          subjectId: p('subjectId'),
          purposeId: p('purposeId'),
          decision: p('decision'),
          occurredAt: p('occurredAt'),
          channel: p('channel'),
          eventId: p('eventId'),
        })
        .onConflictDoUpdate({
          target: [st.subjectId, st.purposeId],
          set: { decision: set('decision'), occurredAt: set('occurredAt'), channel: set('channel'), eventId: set('eventId') },
        }),
    ),
    history: db.statement<ConsentEvent>('consents.history', (q) =>
      q.select().from(e).where(eq(e.subjectId, p('subjectId'))).orderBy(asc(e.occurredAt), asc(e.recordedAt), asc(e.id)),
    ),
    event: db.statement<ConsentEvent>('consents.event', (q) => q.select().from(e).where(eq(e.id, p('id')))),
  };
}

export class ConsentStore {
  constructor(private readonly h: Handle) {}

  private get s() {
    return this.h.db.cached('consents', statements);
  }

  private get t() {
    return this.h.db.tables;
  }

  /** The hot path: the holder of `identity` and its states, in one statement (no rows: nobody). */
  statesOf(identity: Identity): Promise<StateOfIdentity[]> {
    return this.s.statesOf.all(this.h, identity);
  }

  /** Current states of these people (every purpose), for the ordering rule of a write. */
  async statesOfSubjects(subjectIds: string[]): Promise<ConsentState[]> {
    if (subjectIds.length === 1) return this.s.statesOfSubject.all(this.h, { subjectId: subjectIds[0] });
    const { consentStates: st } = this.t;
    const out: ConsentState[] = [];
    for (let k = 0; k < subjectIds.length; k += BATCH) {
      out.push(...(await this.h.q.select().from(st).where(inArray(st.subjectId, subjectIds.slice(k, k + BATCH)))));
    }
    return out;
  }

  async insertEvents(rows: NewConsentEvent[]): Promise<void> {
    if (this.h.db.dialect === 'sqlite') {
      for (const r of rows) await this.s.insertEvent.run(this.h, r);
      return;
    }
    for (let k = 0; k < rows.length; k += BATCH) await this.h.q.insert(this.t.consentEvents).values(rows.slice(k, k + BATCH));
  }

  /**
   * Inserts events, sets states (see putStates) and appends the outbox rows announcing them
   * (src/db/stores/outbox.ts: after the audit append) together: on PostgreSQL one statement, one
   * parameter per column (unnest), however many rows.
   */
  async writeEvents(events: NewConsentEvent[], states: ConsentState[], outbox: NewOutboxRow[] = []): Promise<void> {
    if (this.h.db.dialect === 'sqlite') {
      await this.insertEvents(events);
      await this.putStates(states);
      return (this.h as Stores).outbox.append(outbox);
    }
    const col = <R, K extends keyof R>(rows: R[], k: K) => sql.param(rows.map((r) => r[k] ?? null));
    await (this.h.q as unknown as NodePgDatabase).execute(
      sql`with e as (
            insert into consent_events (id, subject_id, purpose_id, decision, occurred_at, recorded_at, channel, collected_by, location, method,
              purpose_version, evidence, gpc, audit_idx)
            select * from unnest(${col(events, 'id')}::text[], ${col(events, 'subjectId')}::text[], ${col(events, 'purposeId')}::text[],
              ${col(events, 'decision')}::text[], ${col(events, 'occurredAt')}::bigint[], ${col(events, 'recordedAt')}::bigint[],
              ${col(events, 'channel')}::text[], ${col(events, 'collectedBy')}::text[], ${col(events, 'location')}::text[],
              ${col(events, 'method')}::text[], ${col(events, 'purposeVersion')}::integer[], ${col(events, 'evidence')}::text[],
              ${col(events, 'gpc')}::integer[], ${col(events, 'auditIdx')}::bigint[])
          )${outbox.length > 0 ? sql`, ${(this.h as Stores).outbox.insertCtes(outbox)}` : sql``}
          insert into consent_states (subject_id, purpose_id, decision, occurred_at, channel, event_id)
          select * from unnest(${col(states, 'subjectId')}::text[], ${col(states, 'purposeId')}::text[], ${col(states, 'decision')}::text[],
            ${col(states, 'occurredAt')}::bigint[], ${col(states, 'channel')}::text[], ${col(states, 'eventId')}::text[])
          on conflict (subject_id, purpose_id) do update
            set decision = excluded.decision, occurred_at = excluded.occurred_at, channel = excluded.channel, event_id = excluded.event_id`,
    );
  }

  /**
   * Sets these states (one row per person and purpose), replacing what stands. The caller
   * decided them by the ordering rule under the people's locks: nobody else changes them meanwhile.
   */
  async putStates(rows: ConsentState[]): Promise<void> {
    if (this.h.db.dialect === 'sqlite') {
      for (const r of rows) await this.s.putState.run(this.h, r);
      return;
    }
    const { consentStates: st } = this.t;
    for (let k = 0; k < rows.length; k += BATCH) {
      await this.h.q
        .insert(st)
        .values(rows.slice(k, k + BATCH))
        .onConflictDoUpdate({
          target: [st.subjectId, st.purposeId],
          set: { decision: sql`excluded.decision`, occurredAt: sql`excluded.occurred_at`, channel: sql`excluded.channel`, eventId: sql`excluded.event_id` },
        });
    }
  }

  /** Every event of a person, oldest `occurredAt` first (ties: recording order). */
  history(subjectId: string): Promise<ConsentEvent[]> {
    return this.s.history.all(this.h, { subjectId });
  }

  event(id: string): Promise<ConsentEvent | undefined> {
    return this.s.event.first(this.h, { id });
  }

  /** Current states of a purpose, counted by decision (range counts on consent_states_purpose_idx). */
  stateCounts(purposeId: string): Promise<{ decision: Decision; n: number }[]> {
    const { consentStates: st } = this.t;
    return this.h.q
      .select({ decision: st.decision, n: sql<number>`count(*)`.mapWith(Number) })
      .from(st)
      .where(eq(st.purposeId, purposeId))
      .groupBy(st.decision);
  }

  /** Grants of a purpose whose state began before `before`. */
  async grantedBefore(purposeId: string, before: number): Promise<number> {
    const { consentStates: st } = this.t;
    const [row] = await this.h.q
      .select({ n: sql<number>`count(*)`.mapWith(Number) })
      .from(st)
      .where(and(eq(st.purposeId, purposeId), eq(st.decision, 'granted'), lt(st.occurredAt, before)));
    return row?.n ?? 0;
  }

  /** Grants and withdrawals of a purpose per UTC day (day = ms / 86,400,000) since `from`. */
  daily(purposeId: string, from: number): Promise<{ day: number; decision: Decision; n: number }[]> {
    const { consentEvents: e } = this.t;
    // The divisor inlined, not a parameter: PostgreSQL matches the GROUP BY expression to the
    // selected one textually, and two parameters ($1, $4) would be two expressions.
    const day = sql<number>`${e.occurredAt} / ${sql.raw(String(DAY_MS))}`.mapWith(Number);
    return this.h.q
      .select({ day, decision: e.decision, n: sql<number>`count(*)`.mapWith(Number) })
      .from(e)
      .where(and(eq(e.purposeId, purposeId), gte(e.occurredAt, from), inArray(e.decision, ['granted', 'withdrawn'])))
      .groupBy(day, e.decision);
  }

  /**
   * Refusals of a purpose recorded since `from`, and how many of them a Global Privacy Control
   * signal made (the dashboard's GPC share; reads the events' rows: `gpc` is not in the index).
   */
  async refusalsSince(purposeId: string, from: number): Promise<{ refused: number; gpc: number }> {
    const { consentEvents: e } = this.t;
    const [row] = await this.h.q
      .select({
        refused: sql<number>`count(*)`.mapWith(Number),
        gpc: sql<number>`coalesce(sum(case when ${e.gpc} <> 0 then 1 else 0 end), 0)`.mapWith(Number),
      })
      .from(e)
      .where(and(eq(e.purposeId, purposeId), gte(e.occurredAt, from), eq(e.decision, 'refused')));
    return row ?? { refused: 0, gpc: 0 };
  }
}
