/**
 * The lines of a consent batch, from a JSON array or NDJSON, each validated by the ConsentInput
 * schema on its own: a bad line is reported with its (1-based) number, never thrown, so the
 * batch verb can list every bad line at once.
 */
import type { z } from '../http/openapi.js';
import type { BatchLine } from './record.js';
import { ConsentInput } from './schemas.js';

function lineError(line: number, error: z.ZodError): BatchLine {
  const fields = error.issues.map((i) => ({ path: i.path.join('.') || '(root)', message: i.message }));
  return {
    line,
    ok: false,
    error: { code: 'VALIDATION_FAILED', message: `invalid event: ${fields.map((f) => f.path).join(', ')}`, fields },
  };
}

/** Lines of a JSON array (line n = the n-th element), or of NDJSON rows at `lineNumbers`. */
export function batchLines(items: unknown[], lineNumbers?: number[]): BatchLine[] {
  const out = new Array<BatchLine>(items.length);
  for (let i = 0; i < items.length; i++) {
    const line = lineNumbers ? lineNumbers[i]! : i + 1;
    const r = ConsentInput.safeParse(items[i]);
    out[i] = r.success ? { line, ok: true, value: r.data } : lineError(line, r.error);
  }
  return out;
}

/** NDJSON: one event per line, blank lines skipped; a line that is not JSON is a bad line. */
export function ndjsonLines(text: string): BatchLine[] {
  const items: unknown[] = [];
  const numbers: number[] = [];
  const bad: BatchLine[] = [];
  const rows = text.split('\n');
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i]!.trim();
    if (row === '') continue;
    try {
      items.push(JSON.parse(row));
      numbers.push(i + 1);
    } catch {
      bad.push({ line: i + 1, ok: false, error: { code: 'INVALID_JSON', message: 'line is not valid JSON' } });
    }
  }
  return [...batchLines(items, numbers), ...bad].sort((a, b) => a.line - b.line);
}
