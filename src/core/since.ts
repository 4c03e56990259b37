/** Reading a starting point in time for the audit view and export. */

/**
 * `since` as the export and the board take it: an ISO time, a date (yyyy-mm-dd, midnight UTC),
 * or a duration back from now ("90m", "24h", "7d"). Null when it is none of these.
 */
export function parseSince(value: string, now: Date): string | null {
  const back = /^(\d{1,6})(m|h|d)$/.exec(value);
  if (back) {
    const ms = Number(back[1]) * { m: 60_000, h: 3_600_000, d: 86_400_000 }[back[2] as 'm' | 'h' | 'd'];
    return new Date(now.getTime() - ms).toISOString();
  }
  if (/^\d{4}-\d{2}-\d{2}$/.test(value)) {
    const t = Date.parse(`${value}T00:00:00Z`);
    return Number.isFinite(t) ? new Date(t).toISOString() : null;
  }
  if (/^\d{4}-\d{2}-\d{2}T[\d:.]+(Z|[+-]\d{2}:\d{2})$/.test(value)) {
    const t = Date.parse(value);
    return Number.isFinite(t) ? new Date(t).toISOString() : null;
  }
  return null;
}
