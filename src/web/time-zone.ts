/**
 * The person's time zone: the portal shows its dates (due dates, when a request was received or
 * a consent given) in the zone the browser reports — through the `tz` cookie that tz.js below
 * sets — else in config.timeZone, the zone the deadlines are computed in.
 *
 * Invariants:
 * - the cookie is the person's to write, so it is only a hint: a zone is used only if it is at
 *   most 64 characters of [A-Za-z0-9_+-/] and Intl knows it (no `../`, no markup); anything else
 *   falls back to config.timeZone. It only changes how dates are shown, never a deadline;
 * - tz.js reloads a page at most once: only when it just changed the cookie, the cookie took
 *   (cookies refused: no reload, hence no loop), the page showed dates in another zone, and the
 *   page was a GET (a reload re-sends no form). Once the cookie holds the zone, it does nothing.
 */
import type { Lang, T } from './i18n.js';

export const TZ_COOKIE = 'tz';
export const TZ_SCRIPT_PATH = '/privacy/assets/tz.js';

const ZONE_NAME = /^[A-Za-z0-9_+\-/]+$/;

/** `v` is a zone name Intl knows, in the shape the cookie may hold. */
export function isTimeZone(v: string | undefined): v is string {
  if (v === undefined || v.length > 64 || !ZONE_NAME.test(v)) return false;
  try {
    new Intl.DateTimeFormat('en', { timeZone: v });
    return true;
  } catch {
    return false;
  }
}

/** The zone the person's dates are shown in: the cookie's when valid, else `fallback`. */
export const personTimeZone = (cookie: string | undefined, fallback: string): string => (isTimeZone(cookie) ? cookie : fallback);

/** A page's dates, in the person's zone and the page's language. */
export interface PortalDates {
  /** The zone the dates are shown in. */
  zone: string;
  /** A day: "1 avril 2026". */
  date(ms: number): string;
  /** A day and time: "1 avril 2026 à 09:00". */
  dateTime(ms: number): string;
  /**
   * A deadline (the last instant of its day in config.timeZone), the zone named. In that zone
   * the day says it all; in another the day ends at another hour, so the time is shown too.
   */
  due(ms: number): string;
  /** For tz.js: the zone the dates are in when a reload is harmless (a GET page), else undefined. */
  reloadableIn: string | undefined;
}

export function portalDates(input: { cookie: string | undefined; deploymentZone: string; lang: Lang; t: T; get: boolean }): PortalDates {
  const zone = personTimeZone(input.cookie, input.deploymentZone);
  const day = new Intl.DateTimeFormat(input.lang, { dateStyle: 'long', timeZone: zone });
  const dayTime = new Intl.DateTimeFormat(input.lang, { dateStyle: 'long', timeStyle: 'short', timeZone: zone });
  const dueFmt = zone === input.deploymentZone ? day : dayTime;
  return {
    zone,
    date: (ms) => day.format(ms),
    dateTime: (ms) => dayTime.format(ms),
    due: (ms) => input.t('dates.inZone', { date: dueFmt.format(ms), zone }),
    reloadableIn: input.get ? zone : undefined,
  };
}

/**
 * tz.js, served as a file (the CSP allows no inline script). Included in every portal page
 * with `defer`; the page's `data-zone` is PortalDates.reloadableIn (absent: never reload).
 */
export const TZ_SCRIPT = `(function () {
  var zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  if (!zone || zone.length > 64 || !/^[A-Za-z0-9_+\\-/]+$/.test(zone)) return;
  var read = function () {
    var m = /(?:^|;\\s*)${TZ_COOKIE}=([^;]*)/.exec(document.cookie);
    return m ? m[1] : undefined;
  };
  if (read() === zone) return;
  document.cookie = '${TZ_COOKIE}=' + zone + '; Path=/privacy; Max-Age=31536000; SameSite=Lax' + (location.protocol === 'https:' ? '; Secure' : '');
  var script = document.currentScript;
  var shownIn = script && script.getAttribute('data-zone');
  if (shownIn && shownIn !== zone && read() === zone) location.reload();
})();
`;
