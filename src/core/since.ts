/** Reading a starting point in time for the audit view and export. */

/** The longest duration back from now `since` takes: 100 years. */
const MAX_BACK_MS = 36_500 * 86_400_000;

/**
 * `since` as the export and the board take it: an ISO time with a zone (2026-11-25T08:00:00Z,
 * …+01:00), a date (yyyy-mm-dd, midnight UTC), or a duration back from now ("90m", "24h", "7d",
 * at most 100 years). A day that does not exist (2026-02-31) and a time before 1970 are none of
 * these. Null when it is none of these.
 */
export function parseSince(value: string, now: Date): string | null {
  const back = /^(\d{1,6})(m|h|d)$/.exec(value);
  if (back) {
    const ms = Number(back[1]) * { m: 60_000, h: 3_600_000, d: 86_400_000 }[back[2] as 'm' | 'h' | 'd'];
    return ms <= MAX_BACK_MS ? new Date(now.getTime() - ms).toISOString() : null;
  }
  const date = /^(\d{4}-\d{2}-\d{2})(T[\d:.]+(?:Z|[+-]\d{2}:\d{2}))?$/.exec(value);
  if (!date) return null;
  const t = Date.parse(date[2] ? value : `${value}T00:00:00Z`);
  if (!Number.isFinite(t) || t < 0) return null;
  // Date.parse rolls 2026-02-31 over into March; a day that does not exist is refused instead.
  const [y, m, d] = date[1]!.split('-').map(Number) as [number, number, number];
  const day = new Date(Date.UTC(y, m - 1, d));
  if (day.getUTCFullYear() !== y || day.getUTCMonth() !== m - 1 || day.getUTCDate() !== d) return null;
  return new Date(t).toISOString();
}

/** How `since` may be written, for the one-line refusals. */
export const SINCE_FORMS =
  'an ISO time (2026-11-25T08:00:00Z), a date (2026-11-25) or a duration back from now (90m, 24h, 7d; at most 36500d), from 1970 on';
