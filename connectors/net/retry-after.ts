/**
 * `Retry-After` (RFC 9110 §10.2.3): a number of seconds or an HTTP date. Shared by the REST
 * connector (429, 503) and webhook deliveries (429, 502, 503, 504).
 */

/** The delay it asks for, in ms from `now` (never negative), or null when absent or unreadable. */
export function retryAfterMs(value: string | undefined, now: number = Date.now()): number | null {
  if (value === undefined) return null;
  const v = value.trim();
  if (/^\d{1,10}$/.test(v)) return Number(v) * 1000;
  // An HTTP date; Date.parse also reads other forms, so insist on the IMF-fixdate shape's pieces.
  if (!/^[A-Za-z]{3}, \d{2} [A-Za-z]{3} \d{4} \d{2}:\d{2}:\d{2} GMT$/.test(v)) return null;
  const at = Date.parse(v);
  return Number.isNaN(at) ? null : Math.max(0, at - now);
}
