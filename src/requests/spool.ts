/**
 * Where a request's files live, under `<dataDir>/exports/` — on storage every instance shares
 * when several run (README: several instances), so that any of them can build an export from
 * results another spooled, and serve an archive another built.
 *
 * Access results are spooled to disk as they arrive (NDJSON, one record a line), so a person with
 * 100,000 records does not stay in the service's memory: the export is built by streaming
 * these files. Layout: `<dataDir>/exports/<requestId>/<taskId>.ndjson`, each line
 * `{"c": collection, "p": portable, "o": [identity ids], "r": record}`, records of a collection
 * contiguous; `o` (the identities that led to the record) is absent when the connector did not
 * say. Written to `<file>.tmp` and renamed when complete: a `.tmp` left behind is a crash's.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { createInterface } from 'node:readline';
import type { AccessCollection } from '../../connectors/types.js';

export function exportsDir(dataDir: string): string {
  return join(dataDir, 'exports');
}

export function spoolDir(dataDir: string, requestId: string): string {
  return join(exportsDir(dataDir), requestId);
}

export function spoolFile(dataDir: string, requestId: string, taskId: string): string {
  return join(spoolDir(dataDir, requestId), `${taskId}.ndjson`);
}

/** File name of one build of a request's archive: `<requestId>-<build>.zip`. */
export function exportName(requestId: string, build: string): string {
  return `${requestId}-${build}.zip`;
}

/** The archive's path as the request row keeps it: relative to the data dir (mounted anywhere). */
export function storedExportPath(name: string): string {
  return `exports/${name}`;
}

/** Archive names of this request: this version's, and `<requestId>.zip` of earlier ones. */
export function isExportOf(requestId: string, name: string): boolean {
  return name === `${requestId}.zip` || (name.startsWith(`${requestId}-`) && /^-[0-9a-f]{8}\.zip$/.test(name.slice(requestId.length)));
}

/**
 * Where the request's archive is on this instance, or null. Only the file name of the stored
 * path counts, and only when it names an archive of this very request inside the exports
 * folder: a row edited to point anywhere else (another request's archive, a key file) serves
 * nothing. Earlier versions stored absolute paths: their file name still resolves.
 */
export function exportFileOf(dataDir: string, req: { id: string; exportPath: string | null }): string | null {
  if (!req.exportPath) return null;
  const name = basename(req.exportPath);
  return isExportOf(req.id, name) ? join(exportsDir(dataDir), name) : null;
}

/** Writes the collections (written to a temp name, renamed when complete); `origins` parallel to their records. */
export async function writeSpool(file: string, collections: AccessCollection[], origins: (number[] | null)[][] = []): Promise<void> {
  await mkdir(join(file, '..'), { recursive: true });
  const tmp = `${file}.tmp`;
  const out = createWriteStream(tmp, { flags: 'w', highWaterMark: 1 << 16 });
  const done = new Promise<void>((resolve, reject) => {
    out.once('finish', resolve);
    out.once('error', reject);
  });
  let buf = '';
  for (const [i, c] of collections.entries()) {
    const head = `{"c":${JSON.stringify(c.name)},"p":${c.portable ? 'true' : 'false'},`;
    for (const [j, r] of c.records.entries()) {
      const o = origins[i]?.[j];
      buf += `${head}${o ? `"o":${JSON.stringify(o)},` : ''}"r":${JSON.stringify(r)}}\n`;
      if (buf.length > 1 << 16) {
        if (!out.write(buf)) await new Promise<void>((r2) => out.once('drain', () => r2()));
        buf = '';
      }
    }
  }
  out.end(buf);
  await done;
  await rename(tmp, file);
}

export interface SpoolLine {
  c: string;
  p: boolean;
  o?: number[];
  r: Record<string, unknown>;
}

export async function* readSpool(file: string): AsyncGenerator<SpoolLine> {
  const rl = createInterface({ input: createReadStream(file, { highWaterMark: 1 << 16 }), crlfDelay: Infinity });
  for await (const line of rl) {
    if (line) yield JSON.parse(line) as SpoolLine;
  }
}

export async function removeSpool(dataDir: string, requestId: string): Promise<void> {
  await rm(spoolDir(dataDir, requestId), { recursive: true, force: true });
}
