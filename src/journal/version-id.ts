/**
 * Journal version ids: `<yyyy.mm.dd>-<source cluster>.<sequence>`, e.g. `2026.11.23-dev-modelling.3`.
 * Unique per (day, cluster) by the sequence; sortable with `compareVersions` (day, cluster, then
 * the sequence as a number, so `.10` sorts after `.9`).
 */
import { InputError } from '../core/errors.js';

export const VERSION_ID = /^\d{4}\.\d{2}\.\d{2}-[a-z0-9-]{1,40}\.\d{1,6}$/;
const PARTS = /^(\d{4})\.(\d{2})\.(\d{2})-([a-z0-9-]{1,40})\.(\d{1,6})$/;
/** Cluster names that can appear in a version id. */
export const VERSION_CLUSTER = /^[a-z0-9-]{1,40}$/;
const MAX_SEQUENCE = 999_999;

export interface VersionParts {
  /** `yyyy.mm.dd` (UTC). */
  day: string;
  cluster: string;
  sequence: number;
}

export function isVersionId(value: string): boolean {
  return parseVersion(value, false) !== null;
}

/** Parse and validate a version id; InputError when it is malformed (or null with `strict = false`). */
export function parseVersion(value: string): VersionParts;
export function parseVersion(value: string, strict: false): VersionParts | null;
export function parseVersion(value: string, strict = true): VersionParts | null {
  const m = PARTS.exec(value);
  const month = m ? Number(m[2]) : 0;
  const dayOfMonth = m ? Number(m[3]) : 0;
  if (!m || month < 1 || month > 12 || dayOfMonth < 1 || dayOfMonth > 31) {
    if (!strict) return null;
    throw new InputError(`"${value.slice(0, 80)}" is not a journal version (expected e.g. 2026.11.23-dev-modelling.3)`);
  }
  return { day: `${m[1]}.${m[2]}.${m[3]}`, cluster: m[4]!, sequence: Number(m[5]) }; // PARTS has no optional group
}

export function formatVersion(parts: VersionParts): string {
  const text = `${parts.day}-${parts.cluster}.${parts.sequence}`;
  parseVersion(text);
  return text;
}

/** The UTC day of a date as used in version ids: `yyyy.mm.dd`. */
export function versionDay(date: Date): string {
  const iso = date.toISOString();
  return `${iso.slice(0, 4)}.${iso.slice(5, 7)}.${iso.slice(8, 10)}`;
}

/** Sort order of version ids: by day, then cluster, then sequence number. */
export function compareVersions(a: string, b: string): number {
  const pa = parseVersion(a);
  const pb = parseVersion(b);
  if (pa.day !== pb.day) return pa.day < pb.day ? -1 : 1;
  if (pa.cluster !== pb.cluster) return pa.cluster < pb.cluster ? -1 : 1;
  return pa.sequence - pb.sequence;
}

/**
 * The next version for `cluster` on the UTC day of `date`, one past the highest sequence among
 * `existingForDay` (ids of other days, other clusters or malformed ones are ignored).
 */
export function nextVersion(date: Date, cluster: string, existingForDay: Iterable<string>): string {
  if (!VERSION_CLUSTER.test(cluster)) {
    throw new InputError(`cluster name "${cluster.slice(0, 80)}" cannot be used in a version id`);
  }
  const day = versionDay(date);
  let max = 0;
  for (const id of existingForDay) {
    const p = parseVersion(id, false);
    if (p && p.day === day && p.cluster === cluster && p.sequence > max) max = p.sequence;
  }
  if (max >= MAX_SEQUENCE) throw new InputError(`no version sequence left for ${cluster} on ${day}`);
  return formatVersion({ day, cluster, sequence: max + 1 });
}
