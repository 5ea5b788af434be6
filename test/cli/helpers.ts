/**
 * Runs the real `oubli` CLI (node bin/oubli.js) as a child process on a temp data dir. When the
 * suite runs on PostgreSQL (OUBLI_TEST_DATABASE_URL), each data dir gets a fresh database of its
 * own, given to every process spawned on it as OUBLI_DATABASE_URL, as a deployment would.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { cpSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { registerDataDir, registerDataDirDatabase } from '../helpers/audit-pii.js';
import { adminAt, type AdminSql } from '../helpers/admin-sql.js';
import { copyPostgresDatabase, createPostgresDatabase, TEST_STORE } from '../helpers/db.js';

export const ROOT = resolve(import.meta.dirname, '../..');
export const BIN = join(ROOT, 'bin/oubli.js');

/** A fresh temp dir; its oubli.db, if a test makes one there, gets the audit personal-data scan. */
export function tempDir(label = 'cli'): string {
  const dir = mkdtempSync(join(tmpdir(), `oubli-${label}-`));
  registerDataDir(dir);
  return dir;
}

/** Data dir → its PostgreSQL database (PostgreSQL runs only). */
const databases = new Map<string, Promise<string>>();

/** The store env of the processes run on `dir`: `{}` on SQLite, its own OUBLI_DATABASE_URL on PostgreSQL. */
export async function storeEnv(dir: string): Promise<Record<string, string>> {
  if (TEST_STORE === 'sqlite') return {};
  let url = databases.get(dir);
  if (!url) {
    url = createPostgresDatabase();
    databases.set(dir, url);
    registerDataDirDatabase(dir, await url);
  }
  return { OUBLI_DATABASE_URL: await url };
}

/** Raw SQL on the store of data dir `dir`, as its database administrator (close it after use). */
export async function adminOfDir(dir: string, opts: { readonly?: boolean } = {}): Promise<AdminSql> {
  if (TEST_STORE === 'sqlite') return adminAt({ file: join(dir, 'oubli.db') }, opts);
  return adminAt({ url: (await storeEnv(dir)).OUBLI_DATABASE_URL! });
}

/** A copy of data dir `from` and of its store, in a fresh temp dir (nothing may have the store open). */
export async function copyDataDir(from: string, label = 'copy'): Promise<string> {
  const dir = tempDir(label);
  cpSync(from, dir, { recursive: true });
  if (TEST_STORE === 'postgres') {
    const url = copyPostgresDatabase((await storeEnv(from)).OUBLI_DATABASE_URL!);
    databases.set(dir, url);
    registerDataDirDatabase(dir, await url);
  }
  return dir;
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function cleanEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, OUBLI_LOG_LEVEL: 'silent' };
  for (const k of Object.keys(env)) if (k.startsWith('OUBLI_') && k !== 'OUBLI_LOG_LEVEL') delete env[k];
  delete env.PORT;
  delete env.HOST;
  for (const [k, v] of Object.entries(extra)) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  return env;
}

export async function oubli(args: string[], opts: { dataDir: string; env?: Record<string, string | undefined>; input?: string; cwd?: string }): Promise<CliResult> {
  const store = await storeEnv(opts.dataDir);
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd: opts.cwd ?? ROOT,
      env: cleanEnv({ OUBLI_DATA_DIR: opts.dataDir, ...store, ...opts.env }),
      stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d) => (stdout += d));
    child.stderr!.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolvePromise({ code, stdout, stderr }));
    if (opts.input !== undefined) child.stdin!.end(opts.input);
  });
}

export interface Served {
  url: string;
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  stop(): Promise<number | null>;
}

/** Starts `oubli serve` (or demo) on an ephemeral port and resolves once it prints its URL. */
export async function serve(opts: { dataDir: string; env?: Record<string, string | undefined>; cwd?: string; command?: string }): Promise<Served> {
  const store = await storeEnv(opts.dataDir);
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [BIN, opts.command ?? 'serve'], {
      cwd: opts.cwd ?? ROOT,
      env: cleanEnv({ OUBLI_DATA_DIR: opts.dataDir, PORT: '0', ...store, ...opts.env }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    const timer = setTimeout(() => reject(new Error(`serve did not start: ${out} ${err}`)), 20_000);
    child.stderr!.on('data', (d) => (err += d));
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`serve exited (${code}): ${out} ${err}`));
    });
    child.stdout!.on('data', (d) => {
      out += d;
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolvePromise({
          url: m[1]!,
          child,
          stdout: () => out,
          stderr: () => err,
          stop: () =>
            new Promise((r) => {
              if (child.exitCode !== null) return r(child.exitCode);
              child.removeAllListeners('exit');
              child.once('exit', (code) => r(code));
              child.kill('SIGTERM');
            }),
        });
      }
    });
  });
}
