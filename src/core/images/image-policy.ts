/**
 * Which tags of a repository an app deploys, and which is newest: a semver range (newest by
 * semver), or a tag regex (newest by semver, or by push time — the image's `created`).
 */
import { InputError } from '../errors.js';
import { compareSemver, parseRange, parseSemver, satisfies } from './semver.js';

export type ImagePolicy = { semver: string } | { tagRegex: string; sort: 'semver' | 'pushed' };

export interface TagCandidate {
  tag: string;
  /** ISO 8601, needed only for `sort: pushed`. */
  created?: string;
}

/** A predicate for the policy's tags; InputError when the range or regex is not valid. */
export function tagFilter(policy: ImagePolicy): (tag: string) => boolean {
  if ('semver' in policy) {
    const range = parseRange(policy.semver);
    if (!range) throw new InputError(`"${policy.semver}" is not a semver range`);
    return (tag) => {
      const v = parseSemver(tag);
      return v !== null && satisfies(v, range);
    };
  }
  let re: RegExp;
  try {
    re = new RegExp(policy.tagRegex);
  } catch {
    throw new InputError(`"${policy.tagRegex}" is not a regular expression`);
  }
  return (tag) => tag.length <= 128 && re.test(tag);
}

/** Whether the policy needs each tag's push time (so the caller reads the image configs). */
export function needsPushTime(policy: ImagePolicy): boolean {
  return 'tagRegex' in policy && policy.sort === 'pushed';
}

/** The matching tags, newest first. */
export function rankTags(candidates: TagCandidate[], policy: ImagePolicy): TagCandidate[] {
  const keep = tagFilter(policy);
  const matching = candidates.filter((c) => keep(c.tag));
  if (needsPushTime(policy)) {
    const at = (c: TagCandidate) => (c.created ? Date.parse(c.created) || 0 : 0);
    return matching.sort((a, b) => at(b) - at(a) || (a.tag < b.tag ? 1 : -1));
  }
  return matching
    .flatMap((c) => {
      const v = parseSemver(c.tag);
      return v ? [{ c, v }] : [];
    })
    .sort((a, b) => compareSemver(b.v, a.v) || (a.c.tag < b.c.tag ? 1 : -1))
    .map((x) => x.c);
}
