/**
 * The access / portability archive, built by streaming the spooled access results (never the
 * whole person in memory). Files at the ZIP root:
 * - data.json      everything, by connector and collection;
 * - <connector>-<collection>.csv, one per collection;
 * - index.html     a readable summary in the request's language;
 * - manifest.json  {files: {path: sha256 hex}, jws}: `jws` is a compact JWS (audit key) whose
 *                  payload is that same files map.
 * Portability keeps only the portable collections (data the person provided, Art. 20). Only
 * records of identities held for the person go in (never one reached through an identity the
 * DPO excluded or that is under review).
 */
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream, existsSync } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import yazl from 'yazl';
import type { Deps } from '../deps.js';
import type { DsrRequest } from '../db/schema/requests.js';
import type { Task } from '../db/schema/tasks.js';
import { latestDone } from './plan.js';
import { exportName, exportsDir, readSpool, spoolFile, storedExportPath, type SpoolLine } from './spool.js';

/** A write stream that hashes what it writes and respects backpressure. */
class HashedFile {
  private readonly out;
  private readonly hash = createHash('sha256');
  private buf = '';
  bytes = 0;
  constructor(readonly path: string) {
    this.out = createWriteStream(path, { highWaterMark: 1 << 16 });
  }
  async write(s: string): Promise<void> {
    this.buf += s;
    if (this.buf.length >= 1 << 16) await this.flush();
  }
  private async flush(): Promise<void> {
    if (!this.buf) return;
    const chunk = Buffer.from(this.buf, 'utf8');
    this.buf = '';
    this.hash.update(chunk);
    this.bytes += chunk.length;
    if (!this.out.write(chunk)) await new Promise<void>((r) => this.out.once('drain', () => r()));
  }
  async close(): Promise<string> {
    await this.flush();
    await new Promise<void>((resolve, reject) => {
      this.out.once('error', reject);
      this.out.end(resolve);
    });
    return this.hash.digest('hex');
  }
}

const TEXT = {
  en: {
    title: 'Your personal data',
    intro: 'This archive holds the personal data we keep about you, as of',
    request: 'Request',
    type: { access: 'access (GDPR Art. 15)', portability: 'portability (GDPR Art. 20)', erasure: 'erasure' },
    records: (n: number) => (n === 1 ? 'record' : 'records'),
    none: 'We found no personal data about you.',
    more: 'Only the first rows are shown here; every row is in',
    files: 'The same data, machine-readable: data.json and one CSV file per collection. manifest.json lists every file with its SHA-256 and a signature.',
  },
  fr: {
    title: 'Vos données personnelles',
    intro: 'Cette archive contient les données personnelles que nous détenons sur vous, au',
    request: 'Demande',
    type: { access: 'accès (RGPD art. 15)', portability: 'portabilité (RGPD art. 20)', erasure: 'effacement' },
    records: (n: number) => (n <= 1 ? 'enregistrement' : 'enregistrements'),
    none: "Nous n'avons trouvé aucune donnée personnelle vous concernant.",
    more: 'Seules les premières lignes sont affichées ici ; toutes figurent dans',
    files: 'Les mêmes données, lisibles par une machine : data.json et un fichier CSV par collection. manifest.json liste chaque fichier avec son empreinte SHA-256 et une signature.',
  },
} as const;

const HTML_ROWS = 200;

function esc(v: unknown): string {
  const s = typeof v === 'string' ? v : v === null || v === undefined ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v);
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** A cell a spreadsheet would read as a formula (OWASP CSV injection), blanks before it included. */
const FORMULA_START = /^[\s\u00a0\u3000]*[=+\-@\t\r\uff1d\uff0b\uff0d\uff20]/;

export function csvCell(v: unknown): string {
  let s = v === null || v === undefined ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v);
  // Numbers are digits and a sign, never a formula; text starting like one is quoted with a
  // leading apostrophe so that a spreadsheet shows it instead of running it.
  if (typeof v !== 'number' && typeof v !== 'bigint' && FORMULA_START.test(s)) s = `'${s}`;
  return /[",\r\n;]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

function safeName(s: string): string {
  return s.replace(/[^A-Za-z0-9_.-]/g, '_').slice(0, 80);
}

export interface BuiltExport {
  /** As stored in the request (relative to the data dir: see spool.ts). */
  path: string;
  /** Where it is on this instance. */
  file: string;
  files: Record<string, string>;
  bytes: number;
}

/**
 * Which spooled records belong in the archive: those an identity held for the person led to.
 * A record whose connector did not say (no `o`) is kept only when every identity its call
 * searched by is still held.
 */
function recordFilter(task: Task, included: ReadonlySet<number>, portableOnly: boolean): (line: SpoolLine) => boolean {
  const searched = task.result?.searched;
  const callHeld = !searched || searched.every((id) => included.has(id));
  return (line) => (!portableOnly || line.p) && (line.o ? line.o.some((id) => included.has(id)) : callHeld);
}

/**
 * `included`: ids of the request's identities held for the person (see ./review.ts). Each build
 * writes its own file (a name of its own): two instances building the same export after a lost
 * lease never write over each other, and the loser deletes its own.
 */
export async function buildExport(deps: Deps, req: DsrRequest, tasks: readonly Task[], included: ReadonlySet<number>): Promise<BuiltExport> {
  const portableOnly = req.type === 'portability';
  const t = TEXT[req.locale] ?? TEXT.en;
  const sources = [...latestDone(tasks, 'access').values()]
    .map((task) => ({ connector: task.connectorId, file: spoolFile(deps.config.dataDir, req.id, task.id), wanted: recordFilter(task, included, portableOnly) }))
    .filter((s) => existsSync(s.file))
    .sort((a, b) => a.connector.localeCompare(b.connector));
  const work = join(exportsDir(deps.config.dataDir), `.build-${req.id}-${randomBytes(4).toString('hex')}`);
  await mkdir(work, { recursive: true });
  try {
    const files: Record<string, string> = {};
    // Pass 1: data.json, and the columns of every collection.
    const columns = new Map<string, Set<string>>();
    const counts = new Map<string, number>();
    const data = new HashedFile(join(work, 'data.json'));
    await data.write(`{"request":${JSON.stringify({ id: req.id, type: req.type, generatedAt: new Date(deps.now()).toISOString() })},"connectors":{`);
    let firstConnector = true;
    for (const s of sources) {
      await data.write(`${firstConnector ? '' : ','}${JSON.stringify(s.connector)}:{`);
      firstConnector = false;
      let current: string | null = null;
      let first = true;
      for await (const line of readSpool(s.file)) {
        if (!s.wanted(line)) continue;
        if (line.c !== current) {
          await data.write(`${current === null ? '' : '],'}${JSON.stringify(line.c)}:[`);
          current = line.c;
          first = true;
        }
        await data.write(`${first ? '' : ','}${JSON.stringify(line.r)}`);
        first = false;
        const key = `${s.connector}\u0000${line.c}`;
        let cols = columns.get(key);
        if (!cols) columns.set(key, (cols = new Set()));
        for (const k of Object.keys(line.r)) cols.add(k);
        counts.set(key, (counts.get(key) ?? 0) + 1);
      }
      await data.write(current === null ? '}' : ']}');
    }
    await data.write('}}');
    files['data.json'] = await data.close();

    // Pass 2: one CSV per collection, and the readable page.
    const html = new HashedFile(join(work, 'index.html'));
    const when = new Date(deps.now()).toISOString().slice(0, 10);
    await html.write(
      `<!doctype html><html lang="${req.locale}"><head><meta charset="utf-8"><title>${esc(t.title)}</title>` +
        '<style>body{font-family:system-ui,sans-serif;margin:2rem;max-width:70rem}table{border-collapse:collapse;margin:.5rem 0 1.5rem}' +
        'td,th{border:1px solid #ccc;padding:.25rem .5rem;text-align:left;vertical-align:top}th{background:#f3f3f3}</style></head><body>' +
        `<h1>${esc(t.title)}</h1><p>${esc(t.intro)} ${when}.</p><p>${esc(t.request)} ${esc(req.id)} — ${esc(t.type[req.type])}</p><p>${esc(t.files)}</p>`,
    );
    if (counts.size === 0) await html.write(`<p>${esc(t.none)}</p>`);
    let bytes = 0;
    for (const s of sources) {
      let csv: HashedFile | null = null;
      let csvName = '';
      let cols: string[] = [];
      let current: string | null = null;
      let shown = 0;
      const closeCollection = async () => {
        if (!csv) return;
        files[csvName] = await csv.close();
        bytes += csv.bytes;
        const total = counts.get(`${s.connector}\u0000${current}`) ?? 0;
        await html.write(`</tbody></table>${total > shown ? `<p>${esc(t.more)} ${esc(csvName)}.</p>` : ''}`);
        csv = null;
      };
      for await (const line of readSpool(s.file)) {
        if (!s.wanted(line)) continue;
        if (line.c !== current) {
          await closeCollection();
          current = line.c;
          cols = [...(columns.get(`${s.connector}\u0000${line.c}`) ?? [])];
          csvName = `${safeName(s.connector)}-${safeName(line.c)}.csv`;
          csv = new HashedFile(join(work, csvName));
          await csv.write(`${cols.map(csvCell).join(',')}\r\n`);
          shown = 0;
          const total = counts.get(`${s.connector}\u0000${line.c}`) ?? 0;
          await html.write(
            `<h2>${esc(s.connector)} — ${esc(line.c)} (${total} ${esc(t.records(total))})</h2><table><thead><tr>${cols.map((c) => `<th>${esc(c)}</th>`).join('')}</tr></thead><tbody>`,
          );
        }
        await csv!.write(`${cols.map((c) => csvCell(line.r[c])).join(',')}\r\n`);
        if (shown < HTML_ROWS) {
          await html.write(`<tr>${cols.map((c) => `<td>${esc(line.r[c])}</td>`).join('')}</tr>`);
          shown++;
        }
      }
      await closeCollection();
    }
    await html.write('</body></html>\n');
    files['index.html'] = await html.close();
    bytes += data.bytes + html.bytes;

    const jws = await deps.keys.sign(files, 'oubli-manifest+jws');
    const manifest = JSON.stringify({ files, jws }, null, 2);

    const name = exportName(req.id, randomBytes(4).toString('hex'));
    const target = join(exportsDir(deps.config.dataDir), name);
    const tmp = `${join(exportsDir(deps.config.dataDir), req.id)}.zip.${randomBytes(4).toString('hex')}.tmp`;
    const zip = new yazl.ZipFile();
    for (const name of Object.keys(files)) zip.addFile(join(work, name), name);
    zip.addBuffer(Buffer.from(manifest), 'manifest.json');
    zip.end();
    await new Promise<void>((resolve, reject) => {
      const out = createWriteStream(tmp);
      out.once('error', reject);
      out.once('close', resolve);
      zip.outputStream.once('error', reject);
      zip.outputStream.pipe(out);
    });
    await rename(tmp, target);
    return { path: storedExportPath(name), file: target, files, bytes: (await stat(target)).size };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
