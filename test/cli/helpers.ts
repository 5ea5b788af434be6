/** Runs the real `oubli` CLI (node bin/oubli.js) as a child process on a temp data dir. */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { registerDataDir } from '../helpers/audit-pii.js';

export const ROOT = resolve(import.meta.dirname, '../..');
export const BIN = join(ROOT, 'bin/oubli.js');

/** A fresh temp dir; its oubli.db, if a test makes one there, gets the audit personal-data scan. */
export function tempDir(label = 'cli'): string {
  const dir = mkdtempSync(join(tmpdir(), `oubli-${label}-`));
  registerDataDir(dir);
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

export function oubli(args: string[], opts: { dataDir: string; env?: Record<string, string | undefined>; input?: string; cwd?: string }): Promise<CliResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd: opts.cwd ?? ROOT,
      env: cleanEnv({ OUBLI_DATA_DIR: opts.dataDir, ...opts.env }),
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
export function serve(opts: { dataDir: string; env?: Record<string, string | undefined>; cwd?: string; command?: string }): Promise<Served> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [BIN, opts.command ?? 'serve'], {
      cwd: opts.cwd ?? ROOT,
      env: cleanEnv({ OUBLI_DATA_DIR: opts.dataDir, PORT: '0', ...opts.env }),
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
