/**
 * Several instances on one database (two Engine objects; on PostgreSQL each with its own
 * Database object, i.e. its own pool — see createPeerDeps for SQLite) and one shared data dir:
 * outcomes recorded at once on two instances move a request on exactly once; the export step
 * runs on whichever instance claims it, from results another spooled; a dead worker's export
 * is taken over and its leftovers swept; the sweep runs on one instance at a time.
 */
import { existsSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import type { Connector } from '../../connectors/types.js';
import { createApp } from '../../src/app.js';
import { Engine } from '../../src/engine/worker.js';
import { exportFileOf } from '../../src/requests/spool.js';
import { FINALIZE_CONNECTOR } from '../../src/db/schema/tasks.js';
import { ALICE, BOB, syntheticConnector, syntheticSilos, type SyntheticConnector } from '../helpers/synthetic-connector.js';
import { closePeerDeps, createPeerDeps, type TestDeps } from '../helpers/deps.js';
import { TEST_STORE } from '../helpers/db.js';
import { adminOf } from '../helpers/admin-sql.js';
import { unzip } from '../requests/zip.js';
import { auditEntries, engineHarness } from './helpers.js';

const peers: [TestDeps, TestDeps][] = [];
afterEach(async () => {
  for (const [p, d] of peers.splice(0)) await closePeerDeps(p, d);
});

async function peerOf(deps: TestDeps, opts: { dataDir?: string } = {}) {
  const p = await createPeerDeps(deps, opts);
  peers.push([p, deps]);
  return p;
}

/** Makes the first access call of each connector wait until all of them have started (or 5 s). */
function barrier(connectors: SyntheticConnector[]): void {
  let waiting = connectors.length;
  let open!: () => void;
  const opened = new Promise<void>((r) => (open = r));
  setTimeout(open, 5000).unref();
  for (const c of connectors) {
    const access = c.access.bind(c);
    let first = true;
    c.access = async (who, ctx) => {
      if (first) {
        first = false;
        if (--waiting === 0) open();
        await opened;
      }
      return access(who, ctx);
    };
  }
}

/** Runs both engines until neither has anything left (one may go idle while the other still works). */
async function drain(...engines: Engine[]) {
  for (let i = 0; i < 6; i++) await Promise.all(engines.map((e) => e.runUntilIdle()));
}

const row = (id: string) => syntheticConnector({ id, collections: [{ name: 'r', keys: { email: 'email' }, policy: 'delete', rows: [{ email: ALICE.email }, { email: BOB.email }] }] });

describe(`several instances on one database (${TEST_STORE})`, () => {
  it('the last two tasks of a request finished on two instances at once move it on exactly once; each silo is erased once', async () => {
    for (const person of [ALICE, BOB]) {
      const a = row('a');
      const b = row('b');
      barrier([a, b]);
      const h = await engineHarness([a, b], { engine: { maxInFlight: 1 } });
      const peer = await peerOf(h.deps);
      const other = new Engine(peer, { maxInFlight: 1, random: () => 0.5 });
      const id = await h.submit('erasure', [{ type: 'email', value: person.email }]);
      // Each instance runs one call at a time: one takes a's access, the other b's; the barrier
      // holds both until both are in flight, so both outcomes are recorded together.
      await drain(h.engine, other);
      expect(h.engine.connectorMs).toBeGreaterThan(0);
      expect(other.connectorMs).toBeGreaterThan(0);
      const view = await h.api('GET', `/v1/requests/${id}`);
      expect(view.json.status).toBe('completed');
      const mine = (await auditEntries(h.deps)).filter((e) => e.requestId === id);
      expect(mine.filter((e) => e.type === 'request.stage').map((e) => e.data.stage)).toEqual(['erase', 'verify']);
      expect(mine.filter((e) => e.type === 'request.completed')).toHaveLength(1);
      expect(view.json.tasks.map((t: { connector: string; phase: string }) => `${t.phase}:${t.connector}`).sort()).toEqual(['access:a', 'access:b', 'erase:a', 'erase:b', 'verify:a', 'verify:b']);
      expect([a.calls.erase, b.calls.erase]).toEqual([1, 1]);
      expect([a.removed, b.removed]).toEqual([1, 1]);
    }
  });

  it('the export is built by whichever instance claims it, from results another instance spooled, on the shared data dir mounted elsewhere', async () => {
    const silos = syntheticSilos([ALICE, BOB]);
    // This instance calls the silos but never builds exports; the peer builds but calls no silo.
    const h = await engineHarness(silos.all, { engine: { finalizeConcurrency: 0 } });
    const mount = join(tmpdir(), `oubli-mount-${randomBytes(4).toString('hex')}`);
    mkdirSync(h.deps.config.dataDir, { recursive: true });
    symlinkSync(h.deps.config.dataDir, mount);
    const peer = await peerOf(h.deps, { dataDir: mount });
    const builder = new Engine(peer, { concurrency: 0, random: () => 0.5 });
    const id = await h.submit('access', [{ type: 'email', value: ALICE.email }]);
    await h.engine.runUntilIdle();
    const waiting = (await h.api('GET', `/v1/requests/${id}`)).json;
    expect(waiting).toMatchObject({ status: 'running', stage: 'finalize' });
    expect(waiting.tasks.every((t: { status: string }) => t.status === 'done')).toBe(true);
    await builder.runUntilIdle();
    const stored = (await h.deps.db.requests.get(id))!;
    expect(stored.status).toBe('completed');
    // Kept relative to the data dir: every instance finds it wherever the dir is mounted.
    expect(stored.exportPath).toMatch(new RegExp(`^exports/${id}-[0-9a-f]{8}\\.zip$`));
    expect(existsSync(join(h.deps.config.dataDir, 'exports', id))).toBe(false); // spool removed
    // Downloaded from the other instance, through its own app.
    const res = await createApp(peer).request(`/v1/requests/${id}/export`, { headers: h.auth });
    expect(res.status).toBe(200);
    const data = JSON.parse((await unzip(Buffer.from(await res.arrayBuffer()))).get('data.json')!.toString());
    expect(data.connectors.shop.customers).toEqual([{ id: ALICE.customerId, email: ALICE.email, phone: ALICE.phone, first_name: 'Jeanne' }]);
  });

  it('an export whose builder died is built again by another instance once its lease runs out; the dead build’s archive is swept', async () => {
    const silos = syntheticSilos([ALICE]);
    const h = await engineHarness(silos.all, { engine: { finalizeConcurrency: 0 } });
    const id = await h.submit('access', [{ type: 'email', value: ALICE.email }]);
    await h.engine.runUntilIdle();
    const [fin] = (await h.deps.db.tasks.ofRequest(id)).filter((t) => t.phase === 'finalize');
    // A worker claimed the build, wrote its archive, and was killed before recording it.
    await adminOf(h.deps.db).run("update tasks set status = 'running', attempts = 1, lease_owner = 'wrk_dead', lease_expires_at = ? where id = ?", h.deps.now() + 35_000, fin!.id);
    const dead = join(h.deps.config.dataDir, 'exports', `${id}-deadbeef.zip`);
    writeFileSync(dead, ALICE.email);
    const peer = await peerOf(h.deps);
    const other = new Engine(peer, { concurrency: 0, random: () => 0.5 });
    await other.runUntilIdle();
    expect((await h.deps.db.requests.get(id))!.status).toBe('running'); // the lease still holds
    h.deps.clock.advance(35_001);
    await other.runUntilIdle();
    const done = (await h.deps.db.requests.get(id))!;
    expect(done.status).toBe('completed');
    expect((await h.deps.db.tasks.ofRequest(id)).find((t) => t.id === fin!.id)).toMatchObject({ status: 'done', attempts: 2 });
    await other.sweep();
    expect(existsSync(dead)).toBe(false);
    expect(existsSync(exportFileOf(h.deps.config.dataDir, done)!)).toBe(true);
    expect((await auditEntries(h.deps)).filter((e) => e.requestId === id && e.type === 'request.completed')).toHaveLength(1);
  });

  it('one instance at a time sweeps: the lease holder; another takes over once its lease has run out', async () => {
    const h = await engineHarness([], { engine: { sweepEveryMs: 60_000 } });
    const peer = await peerOf(h.deps);
    const other = new Engine(peer, { sweepEveryMs: 60_000 });
    const open = async () => (await h.api('POST', '/v1/requests', { type: 'access', identities: [{ type: 'email', value: `p${Math.random()}@example.com` }] })).json.id as string;
    const first = await open();
    h.deps.clock.advance(40 * 86_400_000);
    await h.engine.sweep();
    expect((await h.deps.db.requests.get(first))!.status).toBe('expired');
    const second = await open();
    h.deps.clock.advance(40 * 86_400_000 - 60_000 * 100);
    // Not yet: within the holder's lease nobody else sweeps…
    await adminOf(h.deps.db).run('update leases set expires_at = ? where name = ?', h.deps.now() + 30_000, 'engine.sweep');
    await other.sweep();
    expect((await h.deps.db.requests.get(second))!.status).toBe('pending_verification');
    // …once it lapsed (its holder died), another instance does.
    h.deps.clock.advance(30_001);
    await other.sweep();
    expect((await h.deps.db.requests.get(second))!.status).toBe('expired');
    expect((await auditEntries(h.deps)).filter((e) => e.type === 'request.expired')).toHaveLength(2);
  });

  it('a task of a connector no instance runs fails only after a grace period (another instance may be rolling out with it)', async () => {
    const gone: Connector = row('gone');
    const h = await engineHarness([gone, row('kept')], { engine: { orphanGraceMs: 600_000 } });
    const id = await h.submit('access', [{ type: 'email', value: ALICE.email }]);
    // The instance that runs the queue from now on no longer has `gone` in its config.
    const peer = await peerOf(h.deps);
    peer.connectors = peer.connectors.filter((c) => c.id !== 'gone');
    const newer = new Engine(peer, { orphanGraceMs: 600_000, random: () => 0.5 });
    await newer.runUntilIdle();
    const task = async () => (await h.deps.db.tasks.ofRequest(id)).find((t) => t.connectorId === 'gone')!;
    expect(await task()).toMatchObject({ status: 'queued', attempts: 0 });
    h.deps.clock.advance(600_001);
    await newer.runUntilIdle();
    expect(await task()).toMatchObject({ status: 'failed', lastErrorCode: 'UNKNOWN_CONNECTOR' });
    expect((await h.api('GET', `/v1/requests/${id}`)).json.status).toBe('needs_attention');
    expect(FINALIZE_CONNECTOR).toBe('@export'); // never a configurable connector id
  });
});
