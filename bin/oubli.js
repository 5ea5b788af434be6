#!/usr/bin/env node
// Runs the TypeScript sources with no build step, so `npx oubli …` works right after `npm ci`.
//
// Fast path: the sources (src/, connectors/) are bundled once by esbuild (a dependency of tsx)
// into a cache file keyed by every source file's path, size and mtime, and later starts import
// that one file — about a second faster than compiling ~80 modules through tsx's loader hooks
// at every start. npm packages stay external (loaded by Node as usual), and each module keeps its
// own `import.meta.url`, so paths like the migrations folder resolve as in the sources.
// Any problem with the fast path (no esbuild, read-only tree, build error) falls back to tsx.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const entry = join(root, 'src', 'main.ts');

function sourceKey() {
  const h = createHash('sha256');
  const walk = (dir) => {
    for (const e of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const p = join(dir, e.name);
      if (e.isDirectory()) {
        if (e.name !== 'node_modules' && !e.name.startsWith('.')) walk(p);
      } else if (/\.(ts|tsx|mts|js|mjs|json|sql)$/.test(e.name)) {
        const s = statSync(p);
        h.update(`${p}\0${s.size}\0${s.mtimeMs}\n`);
      }
    }
  };
  walk(join(root, 'src'));
  if (existsSync(join(root, 'connectors'))) walk(join(root, 'connectors'));
  h.update(readFileSync(fileURLToPath(import.meta.url)));
  return h.digest('hex').slice(0, 24);
}

async function build(outdir) {
  const esbuild = await import('esbuild');
  const tmp = `${outdir}.${process.pid}.${Date.now()}`;
  await esbuild.build({
    entryPoints: { main: entry },
    bundle: true,
    // Dynamic imports (the demo's data generator, say) stay separate chunks, loaded on use.
    splitting: true,
    outExtension: { '.js': '.mjs' },
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    sourcemap: 'linked',
    outdir: tmp,
    logLevel: 'silent',
    plugins: [
      {
        name: 'keep-import-meta',
        setup(b) {
          b.onLoad({ filter: /\.[cm]?ts$/ }, (args) => {
            const url = pathToFileURL(args.path).href;
            const contents = readFileSync(args.path, 'utf8')
              .replace(/\bimport\.meta\.url\b/g, JSON.stringify(url))
              .replace(/\bimport\.meta\.dirname\b/g, JSON.stringify(dirname(args.path)))
              .replace(/\bimport\.meta\.filename\b/g, JSON.stringify(args.path));
            return { contents, loader: 'ts' };
          });
        },
      },
    ],
  });
  // Built in a temporary directory then renamed: two first starts at once never see half a build.
  try {
    renameSync(tmp, outdir);
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    if (!existsSync(join(outdir, 'main.mjs'))) throw err;
  }
}

/** Drops builds of older sources, once nothing can still be loading them (an hour on). */
function prune(dir, keep) {
  try {
    for (const name of readdirSync(dir)) {
      const p = join(dir, name);
      if (name !== keep && Date.now() - statSync(p).mtimeMs > 3600_000) rmSync(p, { recursive: true, force: true });
    }
  } catch {
    // best effort
  }
}

async function fastPath() {
  if (process.env.OUBLI_NO_BUNDLE === '1') return false;
  const key = sourceKey();
  for (const dir of [join(root, 'node_modules', '.cache', 'oubli'), join(tmpdir(), 'oubli-cache')]) {
    const outdir = join(dir, key);
    const outfile = join(outdir, 'main.mjs');
    try {
      if (!existsSync(outfile)) {
        mkdirSync(dir, { recursive: true });
        await build(outdir);
        prune(dir, key);
      }
    } catch {
      continue;
    }
    process.setSourceMapsEnabled?.(true);
    await import(pathToFileURL(outfile).href);
    return true;
  }
  return false;
}

if (!(await fastPath())) {
  const { register } = await import('tsx/esm/api');
  register();
  await import(pathToFileURL(entry).href);
}
