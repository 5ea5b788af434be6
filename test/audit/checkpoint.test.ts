/**
 * Checkpoints and the log's identity in process: GET /v1/audit/checkpoint (public) is a C2SP
 * tlog-checkpoint whose note verifies with the key of /.well-known/oubli-audit-key; the log id is
 * per deployment, stored in the database and the same in heads and checkpoints; the signer refuses
 * a log that no longer extends its last head; receipts are checked offline, retired keys included.
 */
import { describe, expect, it } from 'vitest';
import { CompactSign, importJWK, type JWK } from 'jose';
import { createTestApp, createTestDeps, systemCtx } from '../helpers/deps.js';
import { bearer, call } from '../helpers/http.js';
import { openNote, parseCheckpoint, parseVerifierKey, verifyCheckpoint } from '../../src/audit/note.js';
import { checkReceipt, checkTreeHead, verifyReceipt, verifyTreeHead } from '../../src/audit/verify.js';
import { newLogId } from '../../src/audit/log-id.js';
import { AuditLog } from '../../src/audit/log.js';
import { adminOf } from '../helpers/admin-sql.js';
import { SigningKeys } from '../../src/audit/keys.js';
import { requestReceipt } from '../../src/requests/receipt.js';
import type { DsrRequest } from '../../src/db/schema/requests.js';
import type { TestDeps } from '../helpers/deps.js';

const actor = { type: 'system' as const, id: 't' };
const append = (deps: TestDeps, n: number) => deps.audit.appendMany(deps.db, Array.from({ length: n }, (_, i) => ({ type: 'test.event', actor, data: { i } })));

describe('GET /v1/audit/checkpoint and /.well-known/oubli-audit-key', () => {
  it('are public; the checkpoint is the latest head as a signed note that verifies with the published key', async () => {
    const { app, deps } = await createTestApp({ env: { OUBLI_PUBLIC_URL: 'https://dsr.example.com/privacy' } });
    await append(deps, 9);
    const res = await call(app, 'GET', '/v1/audit/checkpoint');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/plain; charset=utf-8');
    const key = await call(app, 'GET', '/.well-known/oubli-audit-key');
    expect(key.status).toBe(200);
    expect(key.text).toMatch(/^oubli\.dsr\.example\.com\/audit\+[0-9a-f]{8}\+[A-Za-z0-9+/]{44}$/);
    const verifier = parseVerifierKey(key.text)!;
    const opened = openNote(res.text, [verifier]);
    expect('error' in opened).toBe(false);
    const c = parseCheckpoint((opened as { text: string }).text)!;
    expect(c).toEqual({ origin: 'oubli.dsr.example.com/audit', size: 9, root: await deps.audit.root(9) });
    expect(res.text).toBe(`oubli.dsr.example.com/audit\n9\n${Buffer.from(await deps.audit.root(9)).toString('base64')}\n\n— oubli.dsr.example.com/audit ${res.text.split(' ').at(-1)}`);
    // the same head, signed as JWS, names the same log
    const head = (await call(app, 'GET', '/v1/audit/tree-head', { headers: { authorization: (await bearer(deps, ['audit:read'])).authorization } })).json;
    expect(head.size).toBeGreaterThanOrEqual(9);
    expect(await verifyTreeHead(head.jws, deps.keys.jwks(), 'oubli.dsr.example.com/audit')).toMatchObject({ log: 'oubli.dsr.example.com/audit' });
    // the key verifies every checkpoint until a rotation; after one, the new key is served
    deps.keys.rotate();
    deps.clock.advance(2000);
    await append(deps, 1);
    const after = await call(app, 'GET', '/v1/audit/checkpoint');
    const newKey = (await call(app, 'GET', '/.well-known/oubli-audit-key')).text;
    expect(newKey).not.toBe(key.text);
    expect(verifyCheckpoint(after.text, [parseVerifierKey(newKey)!], 'oubli.dsr.example.com/audit')).toMatchObject({ origin: 'oubli.dsr.example.com/audit', size: await deps.audit.size() });
    expect(openNote(after.text, [verifier])).toEqual({ error: 'note has no verifiable signatures' });
  });

  it('a stored head row whose root was edited cannot make oubli sign a checkpoint of it', async () => {
    const { app, deps } = await createTestApp();
    await append(deps, 3);
    await deps.treeHeads.sign();
    const sql = adminOf(deps.db);
    await sql.run('update audit_tree_heads set root = ?', '00'.repeat(32));
    const good = await call(app, 'GET', '/v1/audit/checkpoint');
    expect(good.status).toBe(200); // size and root come from the signed JWS, not the row
    expect(parseCheckpoint(good.text.split('\n\n')[0]! + '\n')!.root).toEqual(await deps.audit.root(3));
    const jws = await sql.value<string>('select jws from audit_tree_heads');
    await sql.run('update audit_tree_heads set jws = ?', jws.slice(0, -4) + 'AAAA');
    const bad = await call(app, 'GET', '/v1/audit/checkpoint');
    expect(bad.status).toBe(500);
    expect(bad.json.error.code).toBe('AUDIT_LOG_TAMPERED');
  });
});

describe('the log id', () => {
  it('is oubli.<host>/audit with a public URL, random otherwise, stored once in the database', async () => {
    expect(newLogId('https://DSR.Example.com:8443/x')).toBe('oubli.dsr.example.com/audit');
    const a = newLogId(undefined);
    expect(a).toMatch(/^oubli\.[0-9a-f]{16}\/audit$/);
    expect(newLogId(undefined)).not.toBe(a);
    const deps = await createTestDeps();
    const id = deps.treeHeads.logId;
    expect(await adminOf(deps.db).column('select log_id from audit_logs')).toEqual([id]);
    // a later start (another instance, another public URL) keeps the stored id
    expect(await new AuditLog(deps.db, deps.now).open('oubli.elsewhere.example/audit')).toBe(id);
  });

  it('a log made before ids were stored keeps the id its heads carry', async () => {
    const deps = await createTestDeps();
    await append(deps, 2);
    const root = Buffer.from(await deps.audit.root(2)).toString('hex');
    const jws = await deps.keys.sign({ log: 'oubli', size: 2, root, timestamp: deps.now() }, 'oubli-sth+jws');
    const sql = adminOf(deps.db);
    await sql.run('insert into audit_tree_heads (size, root, timestamp, kid, jws) values (2, ?, ?, ?, ?)', root, deps.now(), deps.keys.activeKid(), jws);
    await sql.exec('delete from audit_logs');
    expect(await new AuditLog(deps.db, deps.now).open('oubli.new.example/audit')).toBe('oubli');
    // the sequencer was rebuilt from the stored nodes: the log goes on from size 2
    expect(await new AuditLog(deps.db, deps.now).size()).toBe(2);
  });
});

describe('the signer refuses a log that does not extend its last head', () => {
  it('old entries rewritten with their nodes, or the last entries deleted with their heads', async () => {
    const deps = await createTestDeps();
    await append(deps, 10);
    await deps.treeHeads.sign();
    await append(deps, 1);
    const db = adminOf(deps.db);
    // rewrite entry 3 and every node above it consistently (as a DB admin with the code would)
    await db.run('update audit_entries set leaf_hash = ? where idx = 3', Buffer.alloc(32));
    await db.exec('delete from audit_nodes');
    const leaves = (await db.column<Buffer>('select leaf_hash from audit_entries order by idx')).map((b) => new Uint8Array(b));
    const { nodeHash } = await import('../../src/audit/verify.js');
    let row: Uint8Array[] = leaves;
    for (let level = 1; row.length > 1; level++) {
      const next: Uint8Array[] = [];
      for (let i = 0; i + 1 < row.length; i += 2) {
        next.push(nodeHash(row[i]!, row[i + 1]!));
        await db.run('insert into audit_nodes (level, idx, hash) values (?, ?, ?)', level, i / 2, Buffer.from(next.at(-1)!));
      }
      row = next;
    }
    await expect(deps.treeHeads.sign()).rejects.toThrow(/refusing to sign a tree head of size 11: the log does not extend the signed tree head of size 10/);

    const other = await createTestDeps();
    await append(other, 10);
    await other.treeHeads.sign();
    // …and rewinds the log's sequencer to match (8 leaves: one perfect subtree, node 3/0)
    await adminOf(other.db).exec(
      'delete from audit_entries where idx >= 8; delete from audit_nodes where (idx + 1) * (1 << level) > 8; ' +
        'update audit_logs set size = 8, frontier = (select hash from audit_nodes where level = 3 and idx = 0), root = (select hash from audit_nodes where level = 3 and idx = 0)',
    );
    // the head row is still there: the log has fewer entries than it covers
    await expect(other.treeHeads.sign()).rejects.toThrow(/the log has 8 entries but the signed tree head of size 10 covers 10/);
  });
});

describe('receipts offline (verify.ts)', () => {
  async function finished(deps: TestDeps) {
    const id = 'req_01testreceipt0000000000000';
    await deps.audit.append(deps.db, { type: 'request.received', actor, requestId: id });
    await deps.audit.append(deps.db, { type: 'request.completed', actor, requestId: id });
    const req = { id, type: 'erasure', status: 'completed', receivedAt: deps.now(), dueAt: deps.now(), completedAt: deps.now(), verification: null } as unknown as DsrRequest;
    return (await requestReceipt(systemCtx(deps), req)).jws;
  }

  it('a good receipt verifies: typ, head, log id, inclusion proofs', async () => {
    const deps = await createTestDeps();
    await append(deps, 5);
    const jws = await finished(deps);
    const r = await checkReceipt(jws, deps.keys.jwks(), deps.treeHeads.logId);
    expect(r).toMatchObject({ ok: true, head: { log: deps.treeHeads.logId, size: 7 } });
    expect((r as { value: { entries: unknown[] } }).value.entries).toHaveLength(2);
    expect(await verifyReceipt(jws, deps.keys.jwks(), 'oubli.other.example/audit')).toBe(false);
    // a tree head is not a receipt, nor a receipt a tree head
    const head = await deps.treeHeads.current();
    expect(await checkReceipt(head.jws, deps.keys.jwks(), deps.treeHeads.logId)).toMatchObject({ ok: false, reason: expect.stringMatching(/typ "oubli-sth\+jws", not oubli-receipt\+jws/) });
    expect(await checkTreeHead(jws, deps.keys.jwks(), deps.treeHeads.logId)).toMatchObject({ ok: false, reason: expect.stringMatching(/typ "oubli-receipt\+jws"/) });
  });

  it('a receipt or head signed with a leaked key after its retirement is rejected; those signed before still verify', async () => {
    const deps = await createTestDeps();
    await append(deps, 3);
    const before = await finished(deps);
    const headBefore = await deps.treeHeads.current();
    // the attacker kept the private key before the rotation
    const leakedKid = deps.keys.activeKid();
    const leaked = await exportActive(deps.keys);
    deps.clock.advance(60_000);
    deps.keys.rotate();
    deps.clock.advance(60_000);
    const jwks = deps.keys.jwks();
    expect(jwks.keys.find((k) => k.kid === leakedKid)).toMatchObject({ notAfter: deps.now() - 60_000 });
    expect(await verifyReceipt(before, jwks, deps.treeHeads.logId)).toBeTruthy();
    expect(await verifyTreeHead(headBefore.jws, jwks, deps.treeHeads.logId)).toBeTruthy();

    const sign = async (payload: unknown, typ: string) =>
      new CompactSign(new TextEncoder().encode(JSON.stringify(payload))).setProtectedHeader({ alg: 'EdDSA', kid: leakedKid, typ }).sign(await importJWK(leaked, 'EdDSA'));
    const lateHead = await sign({ ...headBefore, jws: undefined, timestamp: deps.now() }, 'oubli-sth+jws');
    expect(await checkTreeHead(lateHead, jwks, deps.treeHeads.logId)).toMatchObject({ ok: false, reason: expect.stringMatching(/after that key was retired/) });
    const payload = JSON.parse(Buffer.from(before.split('.')[1]!, 'base64url').toString());
    const lateReceipt = await sign({ ...payload, issuedAt: deps.now() }, 'oubli-receipt+jws');
    expect(await checkReceipt(lateReceipt, jwks, deps.treeHeads.logId)).toMatchObject({ ok: false, reason: expect.stringMatching(/after that key was retired/) });
    // an old-style receipt without issuedAt is judged by its head's time (here: before retirement)
    expect(await verifyReceipt(await sign({ ...payload, issuedAt: undefined }, 'oubli-receipt+jws'), jwks, deps.treeHeads.logId)).toBeTruthy();
  });
});

/** The active private JWK of in-memory keys, as a thief who copied the key file would hold it. */
async function exportActive(keys: SigningKeys): Promise<JWK> {
  return (keys as unknown as { keys: { privateJwk?: JWK }[] }).keys.filter((k) => k.privateJwk).at(-1)!.privateJwk!;
}
