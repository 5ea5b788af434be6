/**
 * Tampering with an oubli data dir's store as a database administrator would: rows edited
 * directly with SQL (test/helpers/admin-sql.ts), never through oubli — on the SQLite file, or on
 * the data dir's PostgreSQL database when the suite runs there. Shared by the CLI suites.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import canonicalize from 'canonicalize';
import { loadConfig } from '../../src/config.js';
import { buildDeps } from '../../src/runtime.js';
import { createApp } from '../../src/app.js';
import { leafHash, nodeHash } from '../../src/audit/verify.js';
import type { AdminSql } from '../helpers/admin-sql.js';
import { adminOfDir, copyDataDir, storeEnv, tempDir } from './helpers.js';

/** The service on a data dir, in this process (as a second instance beside the CLI would run). */
export async function inProcess(dataDir: string, env: Record<string, string> = {}) {
  const deps = await buildDeps(loadConfig({ OUBLI_DATA_DIR: dataDir, OUBLI_LOG_LEVEL: 'silent', ...(await storeEnv(dataDir)), ...env }));
  return {
    deps,
    app: createApp(deps),
    close: async () => {
      await deps.treeHeads.releaseLease();
      await deps.db.close();
    },
  };
}

/** The data dir's own copy of its newest checkpoint (outside the database). */
export const checkpointFile = (dir: string) => join(dir, 'audit', 'latest-checkpoint');

/** Removes the data dir's checkpoint file, to see what the database alone can tell. */
export function withoutCheckpointFile(dir: string): string {
  rmSync(checkpointFile(dir), { force: true });
  return dir;
}

/** A data dir with 40 entries and signed heads at sizes 10, 20, 30, 40. */
export async function goodLog(): Promise<string> {
  const dir = tempDir('audit');
  const { deps, close } = await inProcess(dir);
  for (let b = 0; b < 4; b++) {
    await deps.audit.appendMany(
      deps.db,
      Array.from({ length: 10 }, (_, i) => ({ type: 'test.event', actor: { type: 'system' as const, id: 'test' }, data: { n: b * 10 + i, note: 'ok' } })),
    );
    await deps.treeHeads.sign();
  }
  await close();
  return dir;
}

/** A copy of data dir `base` (and its store) edited by `edit`. */
export async function tampered(base: string, edit: (db: AdminSql) => Promise<unknown>): Promise<string> {
  const dir = await copyDataDir(base, 'tampered');
  const db = await adminOfDir(dir);
  try {
    await edit(db);
  } finally {
    await db.close();
  }
  return dir;
}

/** Recomputes every stored subtree node from the stored leaf hashes, the way the log does. */
export async function rebuildNodes(db: AdminSql) {
  await db.exec('delete from audit_nodes');
  let level = 0;
  let row: Uint8Array[] = (await db.column<Buffer>('select leaf_hash from audit_entries order by idx')).map((b) => new Uint8Array(b));
  while (row.length > 1) {
    const next: Uint8Array[] = [];
    for (let i = 0; i + 1 < row.length; i += 2) {
      const h = nodeHash(row[i]!, row[i + 1]!);
      await db.run('insert into audit_nodes (level, idx, hash) values (?, ?, ?)', level + 1, i / 2, Buffer.from(h));
      next.push(h);
    }
    row = next;
    level++;
  }
}

export async function rewrite(db: AdminSql, idx: number, change: (e: Record<string, any>) => void, withHash: boolean) {
  const text = await db.value<string>('select entry from audit_entries where idx = ?', idx);
  const e = JSON.parse(text);
  change(e);
  const next = canonicalize(e)!;
  await db.run('update audit_entries set entry = ? where idx = ?', next, idx);
  if (withHash) await db.run('update audit_entries set leaf_hash = ? where idx = ?', Buffer.from(leafHash(next)), idx);
}
