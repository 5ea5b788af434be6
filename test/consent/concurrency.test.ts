/**
 * Two instances on one store at once (a second Database on the same SQLite file, or a second
 * pool on the same PostgreSQL database): what SQLite's single writer gave for free must hold on
 * PostgreSQL too — one person per identifier, the ordering rule whatever the commit order, no
 * consent surviving an erasure, and a change feed that never skips a row committing late.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { eq } from 'drizzle-orm';
import type { Stores } from '../../src/db/handle.js';
import { forgetSubject } from '../../src/subjects/service.js';
import { systemCtx, type TestDeps } from '../helpers/deps.js';
import { TEST_STORE } from '../helpers/db.js';
import { call } from '../helpers/http.js';
import { consentApp, count, grant } from './helpers.js';
import { appOf, secondInstance } from './instances.js';

const opened: { close: () => Promise<void> }[] = [];
afterEach(async () => {
  for (const d of opened.splice(0)) await d.close();
});

async function twoInstances() {
  const a = await consentApp();
  const bDeps = await secondInstance(a.deps);
  opened.push(bDeps);
  const bApp = appOf(bDeps);
  const postB = (body: unknown) => call(bApp, 'POST', '/v1/consents', { body, headers: a.auth });
  return { a, b: { deps: bDeps, app: bApp, post: postB } };
}

/** Opens a transaction on `deps`' store that does `fn` and then stays open until `release()`. */
function heldOpen(deps: TestDeps, fn: (t: Stores) => Promise<void>) {
  let release!: () => void;
  let ready!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const inside = new Promise<void>((r) => (ready = r));
  const done = deps.db.tx(async (t) => {
    await fn(t);
    ready();
    await gate;
  });
  return { inside, release, done };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe(`two instances on one store (${TEST_STORE})`, () => {
  it('the same new people met by both instances at once become one subject each', async () => {
    const { a, b } = await twoInstances();
    const emails = Array.from({ length: 20 }, (_, i) => `new${i}@example.com`);
    const res = await Promise.all(
      emails.flatMap((e) => [a.post(grant(e)), b.post(grant(e, 'targeted-ads')), a.post({ ...grant(e), decision: 'withdrawn' }), b.post(grant(e))]),
    );
    expect(res.map((r) => r.status).every((s) => s === 201)).toBe(true);
    for (let i = 0; i < emails.length; i++) {
      const four = res.slice(i * 4, i * 4 + 4).map((r) => r.json.subjectId);
      expect(new Set(four).size, emails[i]).toBe(1);
    }
    expect(await count(a.deps, 'subjects')).toBe(emails.length);
    expect(await count(a.deps, 'subjectIdentifiers')).toBe(emails.length);
    expect(await count(a.deps, 'consentEvents')).toBe(emails.length * 4);
  });

  it('the ordering rule holds whatever instance commits first: the latest effective time is the state, and the feed ends on it', async () => {
    const { a, b } = await twoInstances();
    const now = a.deps.now();
    const at = (ms: number) => new Date(now - ms).toISOString();
    const people = Array.from({ length: 15 }, (_, i) => `order${i}@example.com`);
    // For each person: an older grant and a newer withdrawal, sent at once from both instances,
    // half of them each way round.
    await Promise.all(
      people.flatMap((e, i) => {
        const older = { ...grant(e), occurredAt: at(2000) };
        const newer = { ...grant(e), decision: 'withdrawn', occurredAt: at(1000) };
        return i % 2 ? [a.post(older), b.post(newer)] : [b.post(older), a.post(newer)];
      }),
    );
    const feed = (await call(a.app, 'GET', '/v1/consents/changes?limit=1000', { headers: a.auth })).json.changes as { subject: string; decision: string }[];
    for (const e of people) {
      const s = await a.get(`/v1/subjects/email:${encodeURIComponent(e)}/consents?purpose=newsletter`);
      expect(s.json.consents[0], e).toMatchObject({ state: 'withdrawn', since: at(1000) });
      const last = feed.filter((c) => c.subject === s.json.subjectId).at(-1);
      expect(last?.decision, e).toBe('withdrawn');
    }
  });

  it('a consent recorded while another instance forgets the person never outlives the erasure', async () => {
    const { a, b } = await twoInstances();
    const first = await a.post(grant('victim@example.com'));
    const victim = first.json.subjectId as string;
    const erasure = heldOpen(a.deps, (t) => forgetSubject(systemCtx(a.deps), t, victim));
    await erasure.inside;
    const late = b.post(grant('victim@example.com', 'targeted-ads'));
    await sleep(300); // instance B is at the person's lock (PostgreSQL) or the store's (SQLite)
    erasure.release();
    await erasure.done;
    const r = await late;
    expect(r.status).toBe(201);
    // A new person: nothing was written for the forgotten one.
    expect(r.json.subjectId).not.toBe(victim);
    expect(await count(a.deps, 'consentEvents', (e) => eq(e.subjectId, victim))).toBe(0);
    expect(await count(a.deps, 'consentStates', (s) => eq(s.subjectId, victim))).toBe(0);
    expect(await count(a.deps, 'subjectIdentifiers', (i) => eq(i.subjectId, victim))).toBe(0);
    const s = await a.get('/v1/subjects/email:victim%40example.com/consents');
    expect(s.json.subjectId).toBe(r.json.subjectId);
    expect(s.json.consents.map((c: { state: string }) => c.state)).toEqual(['unknown', 'granted']);
  });

  it('the change feed never skips a change that commits after a later one was written', async () => {
    const { a, b } = await twoInstances();
    await a.post(grant('before@example.com'));
    const page = async (after?: string) =>
      (await call(a.app, 'GET', `/v1/consents/changes${after ? `?after=${encodeURIComponent(after)}` : ''}`, { headers: a.auth })).json;
    const start = await page();
    expect(start.changes).toHaveLength(1);

    // Instance A writes an outbox row and keeps its transaction open; instance B records a
    // change meanwhile. A reader polling in between must not move past A's row.
    const slow = heldOpen(a.deps, (t) =>
      t.outbox.append([{ type: 'consent.updated', payload: '{"subject":"sub_slow","purpose":"newsletter","decision":"granted","occurredAt":"2026-03-01T09:00:00.000Z"}', createdAt: a.deps.now() }]),
    );
    await slow.inside;
    const fast = b.post(grant('after@example.com'));
    await sleep(300);
    const during = await page(start.cursor);
    expect(during.changes).toEqual([]);
    expect(during.cursor).toBe(start.cursor);
    slow.release();
    await slow.done;
    expect((await fast).status).toBe(201);

    const after = await page(during.cursor);
    expect(after.changes.map((c: { subject: string }) => c.subject)).toEqual(['sub_slow', (await fast).json.subjectId]);
  });
});
