import { describe, expect, it } from 'vitest';
import { rankTags, tagFilter } from '../../../src/core/images/image-policy.js';
import { parseRange, parseSemver, satisfies } from '../../../src/core/images/semver.js';

const TAGS = [
  'latest',
  '0.9.0',
  '1.0.0',
  '1.2.0',
  'v1.10.0',
  '1.10.0-rc.1',
  '2.0.0-rc.1',
  '2.0.0',
  'main-3f1c2a9',
  'main-aa00bb1',
];

function matching(range: string): string[] {
  const r = parseRange(range);
  if (!r) throw new Error(`bad range ${range}`);
  return TAGS.filter((t) => {
    const v = parseSemver(t);
    return v !== null && satisfies(v, r);
  });
}

describe('semver ranges (npm semantics)', () => {
  it('reads comparators, carets, tildes, x-ranges, hyphens and alternatives', () => {
    expect(matching('>=1.0.0')).toEqual(['1.0.0', '1.2.0', 'v1.10.0', '2.0.0']);
    expect(matching('^1.2.0')).toEqual(['1.2.0', 'v1.10.0']);
    expect(matching('~1.2.0')).toEqual(['1.2.0']);
    expect(matching('1.x')).toEqual(['1.0.0', '1.2.0', 'v1.10.0']);
    expect(matching('1.0.0 - 1.2.0')).toEqual(['1.0.0', '1.2.0']);
    expect(matching('<1.0.0 || >=2.0.0')).toEqual(['0.9.0', '2.0.0']);
    expect(matching('*')).toEqual(['0.9.0', '1.0.0', '1.2.0', 'v1.10.0', '2.0.0']);
  });

  it('lets a prerelease in only when the range names one of the same version', () => {
    expect(matching('>=2.0.0-rc.0')).toEqual(['2.0.0-rc.1', '2.0.0']);
    expect(matching('>=1.10.0-rc.0 <2.0.0')).toEqual(['v1.10.0', '1.10.0-rc.1']);
  });

  it('refuses what is not a range', () => {
    expect(parseRange('not a range')).toBeNull();
    expect(parseRange('>=1.0.0.0')).toBeNull();
  });
});

describe('image policies', () => {
  it('ranks semver tags newest first, 1.10 above 1.2, ignoring tags that are not versions', () => {
    const ranked = rankTags(
      TAGS.map((tag) => ({ tag })),
      { semver: '>=1.0.0 <2.0.0' },
    );
    expect(ranked.map((c) => c.tag)).toEqual(['v1.10.0', '1.2.0', '1.0.0']);
  });

  it('ranks regex-matched tags by push time when asked', () => {
    const ranked = rankTags(
      [
        { tag: 'main-3f1c2a9', created: '2026-11-02T10:00:00Z' },
        { tag: 'main-aa00bb1', created: '2026-11-01T10:00:00Z' },
        { tag: 'latest', created: '2026-11-03T10:00:00Z' },
      ],
      { tagRegex: '^main-[0-9a-f]{7}$', sort: 'pushed' },
    );
    expect(ranked.map((c) => c.tag)).toEqual(['main-3f1c2a9', 'main-aa00bb1']);
    expect(tagFilter({ tagRegex: '^v', sort: 'semver' })('v1.0.0')).toBe(true);
    expect(() => tagFilter({ tagRegex: '(', sort: 'semver' })).toThrow('"(" is not a regular expression');
  });
});
