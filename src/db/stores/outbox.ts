/**
 * The outbox: rows announcing a committed change to other systems, read by cursor (`seq`).
 *
 * Why `seq` comes from a locked counter and not from a sequence (PostgreSQL bigserial) or an
 * autoincrement: a reader that hands out rows above its cursor must never pass a row that has
 * not committed yet. With a sequence, transaction A can draw 11, B draw 12 and commit first; a
 * reader at cursor 10 then sees 12, moves its cursor to 12, and never sees 11 when A commits.
 * Here a transaction takes the next values from the one `outbox_sequencer` row and holds that
 * row's lock until it ends, so the next writer draws its values only after it committed (or
 * rolled back, and then it reuses them): seq values become visible in order, without gaps.
 *
 * The lock costs no concurrency: every outbox row announces an audited change, and appending to
 * the audit log already serialises its transactions until they end (the audit sequencer,
 * src/db/stores/audit.ts). Take it AFTER the audit append, as every writer here does, so that
 * two writers never wait for each other's lock in opposite orders. SQLite's single writer gives
 * the same order; the code is the same on both.
 *
 * A row written by something else (an older migration, an administrator) is not reused: the
 * counter never goes below the highest seq stored.
 */
import { and, asc, eq, gt, sql, type SQL } from 'drizzle-orm';
import type { NodePgDatabase } from 'drizzle-orm/node-postgres';
import type { Database, Handle } from '../database.js';
import type { OutboxRow } from '../schema/outbox.js';

export type NewOutboxRow = Omit<OutboxRow, 'seq'>;

const p = sql.placeholder;

function statements(db: Database) {
  const { outbox: o, outboxSequencer: s } = db.tables;
  const highest = db.dialect === 'postgres' ? sql`greatest` : sql`max`;
  return {
    // `seq` + n, never below the highest stored seq; answers the new last value.
    take: db.statement<{ last: number }>('outbox.take', (q) =>
      q
        .update(s)
        .set({ seq: sql`${highest}(${s.seq}, (select coalesce(max(${o.seq}), 0) from ${o})) + ${p('n')}` })
        .where(eq(s.id, 1))
        .returning({ last: s.seq }),
    ),
    insert: db.statement('outbox.insert', (q) =>
      q.insert(o).values({ seq: p('seq'), type: p('type'), payload: p('payload'), createdAt: p('createdAt') }),
    ),
    after: db.statement<OutboxRow>('outbox.after', (q) =>
      q
        .select()
        .from(o)
        .where(and(gt(o.seq, p('after')), eq(o.type, p('type'))))
        .orderBy(asc(o.seq))
        .limit(p('limit')),
    ),
  };
}

export class OutboxStore {
  constructor(private readonly h: Handle) {}

  private get s() {
    return this.h.db.cached('outbox', statements);
  }

  /** Draws `n` seq values under the sequencer's lock (held until the transaction ends); the first. */
  private async take(n: number): Promise<number> {
    let row = await this.s.take.first(this.h, { n });
    if (!row) {
      // The row is made by the migration; a store emptied table by table (tests) lacks it.
      await this.h.q.insert(this.h.db.tables.outboxSequencer).values({ id: 1, seq: 0 }).onConflictDoNothing();
      row = await this.s.take.first(this.h, { n });
    }
    return row!.last - n + 1;
  }

  /** Appends rows in order, inside the caller's transaction (after its audit append: see the header). */
  async append(rows: NewOutboxRow[]): Promise<void> {
    if (rows.length === 0) return;
    if (!this.h.inTx) throw new Error('outbox rows are written inside the transaction of the change they announce');
    if (this.h.db.dialect === 'postgres') {
      // One statement: the seq values drawn and the rows inserted (data-modifying CTEs run whether
      // or not the query reads them).
      await (this.h.q as unknown as NodePgDatabase).execute(sql`with ${this.insertCtes(rows)} select 1`);
      return;
    }
    const first = await this.take(rows.length);
    for (let i = 0; i < rows.length; i++) await this.s.insert.run(this.h, { ...rows[i]!, seq: first + i });
  }

  /**
   * PostgreSQL: two CTEs (`outbox_seq`, `outbox_rows`) that draw the seq values — the sequencer
   * row made if missing, locked until the transaction ends as with `take` — and insert `rows`:
   * `append`'s one statement, or part of a store's statement that writes them with the change
   * they announce.
   */
  insertCtes(rows: NewOutboxRow[]): SQL {
    const n = rows.length;
    return sql`outbox_seq as (
        insert into outbox_sequencer (id, seq) values (1, (select coalesce(max(seq), 0) from outbox) + ${n})
        on conflict (id) do update set seq = greatest(outbox_sequencer.seq, (select coalesce(max(seq), 0) from outbox)) + ${n}
        returning seq - ${n} as base
      ), outbox_rows as (
        insert into outbox (seq, type, payload, created_at)
        select outbox_seq.base + r.ord, r.type, r.payload, r.created_at
        from outbox_seq, unnest(${sql.param(rows.map((r) => r.type))}::text[], ${sql.param(rows.map((r) => r.payload))}::text[],
          ${sql.param(rows.map((r) => r.createdAt))}::bigint[]) with ordinality as r(type, payload, created_at, ord)
      )`;
  }

  /** Rows of `type` with seq above `after`, in order, at most `limit`. */
  after(type: string, after: number, limit: number): Promise<OutboxRow[]> {
    return this.s.after.all(this.h, { type, after, limit });
  }
}
