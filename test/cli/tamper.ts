/**
 * Tampering with an oubli data dir as a database administrator would: the SQLite file edited
 * directly with better-sqlite3, never through oubli. Shared by the CLI suites.
 */
import { cpSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import Database, { type SqliteConnection } from '../../connectors/sql/sqlite-binding.js';
import canonicalize from 'canonicalize';
import { loadConfig } from '../../src/config.js';
import { buildDeps } from '../../src/runtime.js';
import { createApp } from '../../src/app.js';
import { leafHash, nodeHash } from '../../src/audit/verify.js';
import { tempDir } from './helpers.js';

export function inProcess(dataDir: string, env: Record<string, string> = {}) {
  const deps = buildDeps(loadConfig({ OUBLI_DATA_DIR: dataDir, OUBLI_LOG_LEVEL: 'silent', ...env }));
  return { deps, app: createApp(deps), close: () => deps.db.$client.close() };
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
  const { deps, close } = inProcess(dir);
  for (let b = 0; b < 4; b++) {
    deps.audit.appendMany(
      Array.from({ length: 10 }, (_, i) => ({ type: 'test.event', actor: { type: 'system' as const, id: 'test' }, data: { n: b * 10 + i, note: 'ok' } })),
    );
    await deps.treeHeads.sign();
  }
  close();
  return dir;
}

export function tampered(base: string, edit: (db: SqliteConnection) => void): string {
  const dir = tempDir('tampered');
  cpSync(base, dir, { recursive: true });
  const db = new Database(join(dir, 'oubli.db'));
  edit(db);
  db.close();
  return dir;
}

/** Recomputes every stored subtree node from the stored leaf hashes, the way the log does. */
export function rebuildNodes(db: SqliteConnection) {
  db.exec('delete from audit_nodes');
  const insert = db.prepare('insert into audit_nodes (level, idx, hash) values (?, ?, ?)');
  let level = 0;
  let row: Uint8Array[] = (db.prepare('select leaf_hash from audit_entries order by idx').pluck().all() as Buffer[]).map((b) => new Uint8Array(b));
  while (row.length > 1) {
    const next: Uint8Array[] = [];
    for (let i = 0; i + 1 < row.length; i += 2) {
      const h = nodeHash(row[i]!, row[i + 1]!);
      insert.run(level + 1, i / 2, Buffer.from(h));
      next.push(h);
    }
    row = next;
    level++;
  }
}

export function rewrite(db: SqliteConnection, idx: number, change: (e: Record<string, any>) => void, withHash: boolean) {
  const text = db.prepare('select entry from audit_entries where idx = ?').pluck().get(idx) as string;
  const e = JSON.parse(text);
  change(e);
  const next = canonicalize(e)!;
  db.prepare('update audit_entries set entry = ? where idx = ?').run(next, idx);
  if (withHash) db.prepare('update audit_entries set leaf_hash = ? where idx = ?').run(Buffer.from(leafHash(next)), idx);
}

