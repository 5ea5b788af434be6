/**
 * Tamper-evidence against a database administrator, through the real CLI (`node bin/oubli.js`):
 * the store (the SQLite file, or the data dir's PostgreSQL database) is edited directly, as
 * someone with access to the database but not to the signing keys would. Each attack below passed `oubli audit verify` before checkpoints, key
 * retirement, typ and log-id checks existed.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CompactSign, importJWK, type JWK } from 'jose';
import { describe, expect, it } from 'vitest';
import { nodeHash } from '../../src/audit/verify.js';
import { openNote, parseCheckpoint, parseVerifierKey } from '../../src/audit/note.js';
import { requestReceipt } from '../../src/requests/receipt.js';
import type { DsrRequest } from '../../src/db/schema/requests.js';
import { adminOfDir, oubli, serve, tempDir } from './helpers.js';
import type { AdminSql } from '../helpers/admin-sql.js';
import { checkpointFile, goodLog, inProcess, rebuildNodes, rewrite, tampered, withoutCheckpointFile } from './tamper.js';

const T = 120_000;
const verify = (dir: string, ...args: string[]) => oubli(['audit', 'verify', ...args], { dataDir: dir });

function expectFailure(res: { code: number | null; stdout: string; stderr: string }, message: RegExp, label = '') {
  expect(res.code, `${label} ${res.stdout} ${res.stderr}`).toBe(1);
  expect(res.stderr, label).toMatch(/audit log FAILED verification/);
  expect(res.stderr, label).toMatch(message);
  expect(res.stdout, label).toBe('');
}

/** Deletes entries from `size` on, with their subtree nodes and the heads that covered them. */
async function truncate(db: AdminSql, size: number) {
  await db.run('delete from audit_entries where idx >= ?', size);
  await db.run('delete from audit_nodes where (idx + 1) * (1 << level) > ?', size);
  await db.run('delete from audit_tree_heads where size > ?', size);
}

/** Rewrites entries [from, to) consistently: texts, leaf hashes and every node. */
async function rewriteRange(db: AdminSql, from: number, to: number) {
  for (let i = from; i < to; i++) await rewrite(db, i, (e) => (e.data.note = 'forged'), true);
  await rebuildNodes(db);
}

const payloadOf = (jws: string) => JSON.parse(Buffer.from(jws.split('.')[1]!, 'base64url').toString()) as { log: string; size: number; root: string; timestamp: number };

/** Saves `oubli audit checkpoint` of a data dir into a file, as an auditor would. */
async function saveCheckpoint(dir: string): Promise<string> {
  const res = await oubli(['audit', 'checkpoint'], { dataDir: dir });
  expect(res.code, res.stderr).toBe(0);
  const file = join(tempDir('saved'), 'checkpoint.txt');
  writeFileSync(file, res.stdout);
  return file;
}

describe('audit verify: the attacks of the security review', () => {
  it('the last entries deleted together with their tree heads: caught by the data dir checkpoint and by a saved one', { timeout: T }, async () => {
    const good = await goodLog();
    const dir = await tampered(good, (db) => truncate(db, 30));
    expectFailure(await verify(dir), /entry 30: missing — the log was truncated to 30 entries, but this data dir's latest checkpoint \(audit\/latest-checkpoint\) covers 40/);
    const saved = await saveCheckpoint(good);
    // The database alone cannot tell a truncation from a shorter log; a checkpoint kept elsewhere can.
    withoutCheckpointFile(dir);
    expect((await verify(dir)).code).toBe(0);
    expectFailure(await verify(dir, '--checkpoint', saved), new RegExp(`entry 30: missing — the log was truncated to 30 entries, but ${saved.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} covers 40`));
  });

  it('every entry rewritten and every head deleted: no signed head covers the entries', { timeout: T }, async () => {
    const good = await goodLog();
    const edit = async (db: AdminSql) => {
      await rewriteRange(db, 0, 40);
      await db.exec('delete from audit_tree_heads');
    };
    expectFailure(await verify(await tampered(good, edit)), /entry 0: the log was rewritten — its first 40 entries do not match this data dir's latest checkpoint/);
    const dbOnly = withoutCheckpointFile(await tampered(good, edit));
    expectFailure(await verify(dbOnly), /entry 0: entries 0–39 are covered by no signed tree head/);
  });

  it('a suffix after a kept head rewritten, later heads deleted: an unsigned tail, fatal with --strict or a checkpoint', { timeout: T }, async () => {
    const good = await goodLog();
    const edit = async (db: AdminSql) => {
      await rewriteRange(db, 20, 40);
      await db.exec('delete from audit_tree_heads where size > 20');
    };
    expectFailure(await verify(await tampered(good, edit)), /entry 20: the log was rewritten — its first 40 entries do not match this data dir's latest checkpoint/);
    const saved = await saveCheckpoint(good);
    const dir = withoutCheckpointFile(await tampered(good, edit));
    const lenient = await verify(dir);
    expect(lenient.code).toBe(0);
    expect(lenient.stderr).toMatch(/warning: entries 20–39 come after the newest signed tree head \(size 20\): no signature covers them yet/);
    expectFailure(await verify(dir, '--strict'), /\(--strict\) — entry 20: entries 20–39 come after the newest signed tree head/);
    expectFailure(await verify(dir, '--checkpoint', saved), /entry 20: the log was rewritten — its first 40 entries do not match/);
  });

  it('a head forged with a retired (leaked) key after its retirement is rejected; heads signed before still verify', { timeout: T }, async () => {
    const good = await goodLog();
    const [keyFile] = readdirSync(join(good, 'keys'));
    const leaked = (JSON.parse(readFileSync(join(good, 'keys', keyFile!), 'utf8')) as { jwk: JWK }).jwk;
    expect(leaked.d).toBeTruthy();
    expect((await oubli(['keys', 'rotate'], { dataDir: good })).code).toBe(0);
    const rotatedAt = Date.now();
    const ok = await verify(good);
    expect(ok.code, ok.stderr).toBe(0); // 4 heads by the old key, 1 by the new one
    expect(ok.stdout).toMatch(/^audit log ok: 41 entries, 5 signed tree heads/);

    const db = await adminOfDir(good, { readonly: true });
    const last = payloadOf(await db.value<string>('select jws from audit_tree_heads where size = 41'));
    await db.close();
    const key = await importJWK(leaked, 'EdDSA');
    /** Rewrites the last entry and signs a head over it with the leaked key, dated `timestamp`. */
    const forged = async (timestamp: number) => {
      const dir = await tampered(good, async (db) => {
        await rewriteRange(db, 40, 41);
        await db.exec('delete from audit_tree_heads where size = 41');
        const root = await rootOf(db, 41);
        const payload = { log: last.log, size: 41, root, timestamp };
        const jws = await new CompactSign(new TextEncoder().encode(JSON.stringify(payload)))
          .setProtectedHeader({ alg: 'EdDSA', kid: leaked.kid!, typ: 'oubli-sth+jws' })
          .sign(key);
        await db.run('insert into audit_tree_heads (size, root, timestamp, kid, jws) values (?, ?, ?, ?, ?)', 41, root, timestamp, leaked.kid!, jws);
      });
      return withoutCheckpointFile(dir);
    };
    // Only the key check stands between these forgeries and a pass: the checkpoint file is gone.
    const afterRetirement = await forged(Date.now());
    expectFailure(await verify(afterRetirement), new RegExp(`entry 40: tree head of size 41 is signed by key ${leaked.kid} after that key was retired`));
    // Backdated to before the retirement, it is dated before the head it follows.
    const backdated = await forged(rotatedAt - 3_600_000);
    expectFailure(await verify(backdated), /entry 40: tree head of size 41 is dated .* before the head of size 40/);
    // Rotation destroyed the private half; the public key stays, with notAfter, also in the JWKS.
    const retired = JSON.parse(readFileSync(join(good, 'keys', keyFile!), 'utf8')) as { notAfter: number; jwk: JWK };
    expect(retired.jwk.d).toBeUndefined();
    expect(retired.notAfter).toBeLessThanOrEqual(rotatedAt);
    const { app, close } = await inProcess(good);
    const jwks = (await (await app.request('/.well-known/jwks.json')).json()) as { keys: { kid: string; notAfter?: number }[] };
    await close();
    expect(jwks.keys.find((k) => k.kid === leaked.kid)).toMatchObject({ notAfter: retired.notAfter });
    expect(jwks.keys.filter((k) => k.notAfter === undefined)).toHaveLength(1);
  });

  it('a head JWS of another typ, or of another log, signed by the right key, is rejected', { timeout: T }, async () => {
    const good = await goodLog();
    const { deps, close } = await inProcess(good);
    const head20 = payloadOf((await deps.db.audit.headBySize(20))!.jws);
    const asReceipt = await deps.keys.sign(head20, 'oubli-receipt+jws');
    const otherLog = await deps.keys.sign({ ...head20, log: 'oubli.other.example/audit' }, 'oubli-sth+jws');
    await close();
    const setJws = (jws: string) => (db: AdminSql) => db.run('update audit_tree_heads set jws = ? where size = 20', jws);
    expectFailure(await verify(await tampered(good, setJws(asReceipt))), /entry 19: tree head of size 20 has typ "oubli-receipt\+jws", not oubli-sth\+jws/);
    expectFailure(await verify(await tampered(good, setJws(otherLog))), /entry 19: tree head of size 20 belongs to log "oubli\.other\.example\/audit", not to this log/);
  });
});

/** Root of the first `size` entries from the stored leaf hashes (RFC 9162 MTH). */
async function rootOf(db: AdminSql, size: number): Promise<string> {
  const leaves = (await db.column<Buffer>('select leaf_hash from audit_entries where idx < ? order by idx', size)).map((b) => new Uint8Array(b));
  const mth = (xs: Uint8Array[]): Uint8Array => {
    if (xs.length === 1) return xs[0]!;
    let k = 1;
    while (k * 2 < xs.length) k *= 2;
    return nodeHash(mth(xs.slice(0, k)), mth(xs.slice(k)));
  };
  return Buffer.from(mth(leaves)).toString('hex');
}

describe('audit verify --checkpoint FILE', () => {
  it('accepts a checkpoint note, a tree-head JWS or its JSON, and a request receipt; each catches a later truncation', { timeout: T }, async () => {
    const good = await goodLog();
    const note = await saveCheckpoint(good);
    const { deps, app, close } = await inProcess(good);
    const { createApiKey } = await import('../../src/auth/api-keys.js');
    // a receipt: a finished request's entries, proven against a head (requests/receipt.ts)
    const id = 'req_01testreceipt0000000000000';
    await deps.audit.append(deps.db, { type: 'request.completed', actor: { type: 'system', id: 'test' }, requestId: id });
    const req = { id, type: 'erasure', status: 'completed', receivedAt: deps.now(), dueAt: deps.now(), completedAt: deps.now(), verification: null } as unknown as DsrRequest;
    const receipt = (await requestReceipt({ ...deps, actor: { type: 'system', id: 'test' } }, req)).jws;
    const key = (await createApiKey({ ...deps, actor: { type: 'system', id: 'test' } }, { name: 'auditor', scopes: ['audit:read'] })).key;
    await deps.treeHeads.sign();
    const headJson = await (await app.request('/v1/audit/tree-head', { headers: { authorization: `Bearer ${key}` } })).text();
    await close();
    const files: Record<string, string> = { note, receipt: join(tempDir('saved'), 'receipt.jws'), headJson: join(tempDir('saved'), 'head.json'), headJws: join(tempDir('saved'), 'head.jws') };
    writeFileSync(files.receipt!, receipt);
    writeFileSync(files.headJson!, headJson);
    writeFileSync(files.headJws!, `${JSON.parse(headJson).jws}\n`);
    const all = Object.values(files).flatMap((f) => ['--checkpoint', f]);
    const ok = await verify(good, ...all);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/^audit log ok: 42 entries, 6 signed tree heads, root [0-9a-f]{64}, consistent with 5 saved checkpoints/);

    const truncated = withoutCheckpointFile(await tampered(good, (db) => truncate(db, 35)));
    for (const [kind, file] of Object.entries(files)) {
      const res = await verify(truncated, '--checkpoint', file);
      expectFailure(res, /the log was truncated to 35 entries, but .* covers (40|41|42)/, kind);
    }
  });

  it('a checkpoint of another deployment, a forged one, or garbage is refused, naming the file', { timeout: T }, async () => {
    const good = await goodLog();
    const other = await goodLog();
    const foreign = await saveCheckpoint(other);
    expectFailure(await verify(good, '--checkpoint', foreign), /is not a valid checkpoint of this log: (checkpoint of log|note has no verifiable signatures)/);
    const mine = await saveCheckpoint(good);
    const forged = join(tempDir('saved'), 'forged.txt');
    writeFileSync(forged, readFileSync(mine, 'utf8').replace(/\n40\n/, '\n41\n'));
    expectFailure(await verify(good, '--checkpoint', forged), /forged\.txt is not a valid checkpoint of this log: invalid signature/);
    const garbage = join(tempDir('saved'), 'garbage.txt');
    writeFileSync(garbage, 'hello\n');
    expectFailure(await verify(good, '--checkpoint', garbage), /garbage\.txt holds neither a checkpoint note, nor a tree-head or receipt JWS/);
    const missing = await verify(good, '--checkpoint', join(tempDir('saved'), 'nope.txt'));
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/cannot read --checkpoint/);
  });

  it('the data dir checkpoint file is itself checked: an edited one fails verification', { timeout: T }, async () => {
    const good = await goodLog();
    const file = checkpointFile(good);
    writeFileSync(file, readFileSync(file, 'utf8').replace(/\n40\n/, '\n39\n'));
    expectFailure(await verify(good), /this data dir's checkpoint file \(audit\/latest-checkpoint\) does not verify: invalid signature/);
  });
});

describe('oubli serve: checkpoints over HTTP', () => {
  it('GET /v1/audit/checkpoint needs no credentials and equals `oubli audit checkpoint`; the key at /.well-known/oubli-audit-key verifies it', { timeout: T }, async () => {
    const dir = tempDir('serve');
    const env = { OUBLI_PUBLIC_URL: 'https://dsr.example.com' };
    expect((await oubli(['apikey', 'create', '--name', 'x', '--scopes', 'audit:read'], { dataDir: dir, env })).code).toBe(0);
    const s = await serve({ dataDir: dir, env });
    let note: string;
    let vkey: string;
    try {
      const res = await fetch(`${s.url}/v1/audit/checkpoint`);
      expect(res.status).toBe(200);
      note = await res.text();
      vkey = await (await fetch(`${s.url}/.well-known/oubli-audit-key`)).text();
    } finally {
      expect(await s.stop()).toBe(0);
    }
    const offline = await oubli(['audit', 'checkpoint'], { dataDir: dir, env });
    expect(offline.stdout).toBe(note);
    expect(note).toMatch(/^oubli\.dsr\.example\.com\/audit\n1\n[A-Za-z0-9+/]{43}=\n\n— oubli\.dsr\.example\.com\/audit [A-Za-z0-9+/]+=*\n$/);
    const opened = openNote(note, [parseVerifierKey(vkey)!]);
    expect(parseCheckpoint((opened as { text: string }).text)).toMatchObject({ origin: 'oubli.dsr.example.com/audit', size: 1 });
    // the origin is the log id the database keeps, whatever OUBLI_PUBLIC_URL says later
    const db = await adminOfDir(dir, { readonly: true });
    expect(await db.column('select log_id from audit_logs')).toEqual(['oubli.dsr.example.com/audit']);
    await db.close();
    const later = await oubli(['audit', 'checkpoint'], { dataDir: dir, env: { OUBLI_PUBLIC_URL: 'https://moved.example.org' } });
    expect(later.stdout.split('\n')[0]).toBe('oubli.dsr.example.com/audit');
  });
});
