/**
 * Runs one benchmark on this tree and on an older commit in the same run, and prints their
 * figures side by side — the "same-run baseline of today's main" the issues ask for.
 *
 *   npx tsx test/bench/compare.ts <bench> [--base <commit>] [--rounds <n>]
 *
 *   <bench>    a test/bench/*.bench.ts file, by the start of its name (`foundation`, `consent-2`)
 *   --base     the commit to compare with (default 5996010: main before issue 8)
 *   --rounds   runs of each side, alternated (base, this, base, this…); each figure is the median
 *
 * The commit is checked out into a temporary git worktree (removed at the end) whose
 * node_modules is a symlink to this tree's, and the bench of the same name runs there with
 * `tsx`, with the same environment (FOUNDATION_ENTRIES and the like pass through). Both outputs
 * are read from the rows the benches print with util.ts's report() (`PASS|MISS metric value
 * baseline … target …`), matched by section title (without its parenthesised details) and
 * metric; a row only one side has shows "—" on the other. The last column is the change of the
 * first number of each value, `+` meaning better: higher for rates (…/s) and percentages, lower
 * for times.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, realpathSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, '../..');

interface Row {
  section: string;
  metric: string;
  value: string;
}

/** The rows of one bench output, keyed `section | metric`. */
export function parseReport(output: string): Map<string, Row> {
  const rows = new Map<string, Row>();
  let section = '';
  for (const line of output.split('\n')) {
    const m = /^ {2}(PASS|MISS) {2}(.*?) {3}baseline /.exec(line);
    if (!m) {
      if (line.trim() && !line.startsWith(' ')) section = line.trim();
      continue;
    }
    // `metric.padEnd(48) value.padStart(14)`: the value is the right-hand part after the metric.
    const body = m[2]!;
    const valueStart = body.length >= 63 && body[48] === ' ' ? 49 : body.search(/ {2,}\S[^ ]*( \S+)*$/);
    const metric = (valueStart > 0 ? body.slice(0, valueStart) : body).trim();
    const value = (valueStart > 0 ? body.slice(valueStart) : '').trim();
    const key = `${section.replace(/\s*\([^)]*\)/g, '').trim()} | ${metric}`;
    rows.set(key, { section, metric, value });
  }
  return rows;
}

const firstNumber = (v: string) => {
  const m = /-?\d[\d,]*(\.\d+)?/.exec(v);
  return m ? Number(m[0].replace(/,/g, '')) : NaN;
};
const higherIsBetter = (v: string) => /\/s\b|%/.test(v);

function change(now: string, then: string): string {
  const [a, b] = [firstNumber(now), firstNumber(then)];
  if (!Number.isFinite(a) || !Number.isFinite(b) || b === 0 || /\/\d|\|/.test(now)) return '';
  const better = higherIsBetter(now) ? (a - b) / b : (b - a) / b;
  return `${better >= 0 ? '+' : ''}${(100 * better).toFixed(1)} %`;
}

function median(values: string[]): string {
  if (values.length <= 1) return values[0] ?? '—';
  const sorted = [...values].sort((x, y) => firstNumber(x) - firstNumber(y));
  return sorted[Math.floor(sorted.length / 2)]!;
}

function runBench(tree: string, file: string): string {
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(tree, 'test', 'bench', file)], {
    cwd: tree,
    env: process.env,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    maxBuffer: 64 * 1024 * 1024,
  });
  if (r.status !== 0) process.stderr.write(`compare: ${file} in ${tree} exited with ${r.status}\n`);
  return r.stdout ?? '';
}

function git(args: string[]): string {
  const r = spawnSync('git', args, { cwd: ROOT, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`git ${args.join(' ')}: ${r.stderr}`);
  return r.stdout.trim();
}

async function main() {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { base: { type: 'string', default: '5996010' }, rounds: { type: 'string', default: '1' } },
  });
  const wanted = positionals[0];
  const rounds = Number(values.rounds);
  if (!wanted || !(rounds >= 1)) {
    process.stderr.write('usage: npx tsx test/bench/compare.ts <bench> [--base <commit>] [--rounds <n>]\n');
    process.exit(2);
  }
  const file = readdirSync(HERE).find((f) => f.endsWith('.bench.ts') && f.startsWith(wanted));
  if (!file) throw new Error(`no test/bench/${wanted}*.bench.ts`);
  const base = git(['rev-parse', '--short', values.base!]);

  const worktree = join(mkdtempSync(join(tmpdir(), 'oubli-compare-')), 'tree');
  git(['worktree', 'add', '--detach', worktree, base]);
  try {
    symlinkSync(realpathSync(join(ROOT, 'node_modules')), join(worktree, 'node_modules'), 'dir');
    if (!existsSync(join(worktree, 'test', 'bench', file))) throw new Error(`${base} has no test/bench/${file}`);
    const then: Map<string, Row>[] = [];
    const now: Map<string, Row>[] = [];
    for (let r = 0; r < rounds; r++) {
      process.stderr.write(`compare: round ${r + 1}/${rounds}: ${file} at ${base}…\n`);
      then.push(parseReport(runBench(worktree, file)));
      process.stderr.write(`compare: round ${r + 1}/${rounds}: ${file} in this tree…\n`);
      now.push(parseReport(runBench(ROOT, file)));
    }
    const keys = [...new Set([...now.flatMap((m) => [...m.keys()]), ...then.flatMap((m) => [...m.keys()])])];
    const thisLabel = 'this tree';
    console.log(`\n${file}: this tree vs ${base}${rounds > 1 ? ` (median of ${rounds} alternated runs each)` : ''}\n`);
    let section = '';
    for (const key of keys) {
      const row = now.find((m) => m.has(key))?.get(key) ?? then.find((m) => m.has(key))!.get(key)!;
      if (row.section !== section) {
        section = row.section;
        console.log(`${section}`);
        console.log(`  ${'metric'.padEnd(52)} ${thisLabel.padStart(16)} ${base.padStart(16)}   change`);
      }
      const a = median(now.map((m) => m.get(key)?.value).filter((v): v is string => v !== undefined));
      const b = median(then.map((m) => m.get(key)?.value).filter((v): v is string => v !== undefined));
      console.log(`  ${row.metric.padEnd(52)} ${a.padStart(16)} ${b.padStart(16)}   ${a === '—' || b === '—' ? '' : change(a, b)}`);
    }
  } finally {
    git(['worktree', 'remove', '--force', worktree]);
    rmSync(dirname(worktree), { recursive: true, force: true });
  }
}

// Runs as a script; importing it (parseReport) runs nothing.
if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) await main();
