/**
 * Two instances appending to one log at once: this process and a second one (its own
 * connection to the SQLite file, or its own pool on the PostgreSQL database), each with its own
 * AuditLog, firing concurrent single and batched appends. The sequencer row must give one
 * gap-free sequence of indices, every entry exactly once, and a root that an independent
 * RFC 6962 recomputation over the stored entry texts agrees with.
 */
import { fork } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createTestDeps } from '../helpers/deps.js';
import { storeLocation, TEST_STORE } from '../helpers/db.js';
import { adminOf } from '../helpers/admin-sql.js';
import { naiveRoot } from '../helpers/naive-merkle.js';
import { verifyAuditLog } from '../../src/audit/verify-log.js';
import { appendMix } from './fixtures/append-mix.js';


const ROUNDS = 400;

describe(`concurrent appends from two instances (${TEST_STORE})`, () => {
  it('give gap-free indices, each entry once, and the independently recomputed root', { timeout: 60_000 }, async () => {
    const deps = await createTestDeps();
    const worker = fork(join(import.meta.dirname, 'fixtures', 'append-worker.ts'), [storeLocation(deps.db), 'b', String(ROUNDS)], {
      execArgv: ['--import', 'tsx'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const next = () => new Promise<{ ready?: boolean; appended?: number }>((res, rej) => {
      worker.once('message', res);
      worker.once('exit', (code) => rej(new Error(`append worker exited (${code})`)));
    });
    await next();
    const theirs = next();
    worker.send('go');
    const [mine, other] = await Promise.all([appendMix(deps.db, deps.audit, 'a', ROUNDS), theirs]);
    const expected = mine + other.appended!;
    expect(other.appended).toBe(mine);

    const sql = adminOf(deps.db);
    const rows = await sql.all<{ idx: number; entry: string }>('select idx, entry from audit_entries order by idx');
    const indices = rows.map((r) => Number(r.idx));
    expect(indices).toEqual(Array.from({ length: expected }, (_, i) => i));
    const parsed = rows.map((r) => JSON.parse(r.entry) as { index: number; data: { who: string; n: number } });
    expect(parsed.map((e) => e.index)).toEqual(indices);
    // every append landed exactly once, from both instances, interleaved
    expect(new Set(parsed.map((e) => `${e.data.who}:${e.data.n}`)).size).toBe(expected);
    expect(parsed.filter((e) => e.data.who === 'b')).toHaveLength(other.appended!);
    const switches = parsed.filter((e, i) => i > 0 && e.data.who !== parsed[i - 1]!.data.who).length;
    expect(switches, 'the two instances appended at the same time').toBeGreaterThan(20);

    const root = Buffer.from(naiveRoot(rows.map((r) => r.entry))).toString('hex');
    expect(Buffer.from(await deps.audit.root(expected)).toString('hex')).toBe(root);
    expect(Buffer.from((await deps.audit.head()).root).toString('hex')).toBe(root);
    expect(await sql.value('select size from audit_logs')).toBe(expected);

    await deps.treeHeads.sign();
    const report = await verifyAuditLog(deps.db, deps.keys.jwks(), { logId: deps.treeHeads.logId });
    expect(report).toMatchObject({ ok: true, entries: expected, root });
  });
});
