/** Test fixtures vendored in the repository (test/fixtures/), read relative to this file. */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const FIXTURES = new URL('../fixtures/', import.meta.url);

/** Parses test/fixtures/<path> as JSON. */
export function readJsonFixture<T>(path: string): T {
  return JSON.parse(readFileSync(fileURLToPath(new URL(path, FIXTURES)), 'utf8')) as T;
}
