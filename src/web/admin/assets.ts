/**
 * The dashboard's scripts, bundled from our own TypeScript with esbuild when first asked for
 * and kept in memory: the receipt check runs src/audit/verify.ts itself, not a second copy.
 * No CDN, nothing inline (the pages' CSP allows script-src 'self' only).
 */
import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const here = dirname(fileURLToPath(import.meta.url));
let receiptCheck: Promise<string> | undefined;

/** The in-page receipt check (./browser/receipt-check.ts), minified. */
export function receiptCheckScript(): Promise<string> {
  receiptCheck ??= build({
    entryPoints: [join(here, 'browser', 'receipt-check.ts')],
    bundle: true,
    write: false,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    minify: true,
    legalComments: 'none',
    alias: { 'node:crypto': join(here, 'browser', 'node-crypto.ts') },
    logLevel: 'silent',
  })
    .then((r) => r.outputFiles[0]!.text)
    .catch((err: unknown) => {
      receiptCheck = undefined; // tried again on the next request
      throw err;
    });
  return receiptCheck;
}
