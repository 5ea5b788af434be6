/**
 * Access results spooled to disk as they arrive (NDJSON, one record a line), so a person with
 * 100,000 records does not stay in the service's memory: the export is built by streaming
 * these files. Layout: `<dataDir>/exports/<requestId>/<taskId>.ndjson`, each line
 * `{"c": collection, "p": portable, "o": [identity ids], "r": record}`, records of a collection
 * contiguous; `o` (the identities that led to the record) is absent when the connector did not
 * say. Written to `<file>.tmp` and renamed when complete: a `.tmp` left behind is a crash's.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
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
