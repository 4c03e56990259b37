/**
 * Semantic versions (semver.org 2.0, with an optional leading "v") and npm-style ranges:
 * comparators `>=1.2.0 <2`, `1.2.x`, `^1.2.0`, `~1.2.0`, `*`, hyphen ranges `1.0.0 - 2.0.0`,
 * alternatives joined by `||`. As npm: a prerelease satisfies a range only when a comparator of
 * the same major.minor.patch names a prerelease.
 */
export interface SemVer {
  major: number;
  minor: number;
  patch: number;
  pre: (string | number)[];
}

const VERSION =
  /^v?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?(?:\+[0-9A-Za-z.-]+)?$/;

export function parseSemver(text: string): SemVer | null {
  const m = VERSION.exec(text.trim());
  if (!m) return null;
  return {
    major: Number(m[1]),
    minor: Number(m[2]),
    patch: Number(m[3]),
    pre: m[4] ? m[4].split('.').map((p) => (/^\d+$/.test(p) ? Number(p) : p)) : [],
  };
}

export function compareSemver(a: SemVer, b: SemVer): number {
  const core = a.major - b.major || a.minor - b.minor || a.patch - b.patch;
  if (core) return Math.sign(core);
  if (!a.pre.length || !b.pre.length) return Math.sign(b.pre.length - a.pre.length);
  for (let i = 0; i < Math.max(a.pre.length, b.pre.length); i++) {
    const x = a.pre[i];
    const y = b.pre[i];
    if (x === undefined) return -1;
    if (y === undefined) return 1;
    if (x === y) continue;
    if (typeof x === 'number' && typeof y === 'number') return Math.sign(x - y);
    if (typeof x === 'number') return -1;
    if (typeof y === 'number') return 1;
    return x < y ? -1 : 1;
  }
  return 0;
}

type Op = '<' | '<=' | '>' | '>=' | '=';
interface Comparator {
  op: Op;
  v: SemVer;
}

/** A partial version `1`, `1.2`, `1.2.x`, `*` → the numbers given (null for wildcards). */
function partial(
  text: string,
): { major: number | null; minor: number | null; patch: number | null; pre: (string | number)[] } | null {
  const t = text.replace(/^v/, '');
  if (t === '' || t === '*' || t === 'x' || t === 'X') return { major: null, minor: null, patch: null, pre: [] };
  const full = parseSemver(t);
  if (full) return full;
  const m = /^(\d+|[xX*])(?:\.(\d+|[xX*]))?(?:\.(\d+|[xX*]))?$/.exec(t);
  if (!m) return null;
  const num = (s: string | undefined) => (s === undefined || /^[xX*]$/.test(s) ? null : Number(s));
  const major = num(m[1]);
  const minor = major === null ? null : num(m[2]);
  const patch = minor === null ? null : num(m[3]);
  return { major, minor, patch, pre: [] };
}

const v = (major: number, minor: number, patch: number, pre: (string | number)[] = []): SemVer => ({
  major,
  minor,
  patch,
  pre,
});

/** One comparator token into the comparators it means; null when it does not parse. */
function expand(token: string): Comparator[] | null {
  const m = /^(\^|~|>=|<=|>|<|=)?(.*)$/.exec(token);
  const op = m?.[1] ?? '';
  const p = partial(m?.[2] ?? '');
  if (!p) return null;
  const { major, minor, patch, pre } = p;
  if (major === null) return op === '<' || op === '>' ? [{ op: '<', v: v(0, 0, 0, [0]) }] : [];
  if (op === '^') {
    const lo = v(major, minor ?? 0, patch ?? 0, pre);
    const hi =
      major > 0 || minor === null
        ? v(major + 1, 0, 0, [0])
        : minor > 0 || patch === null
          ? v(0, minor + 1, 0, [0])
          : v(0, 0, patch + 1, [0]);
    return [
      { op: '>=', v: lo },
      { op: '<', v: hi },
    ];
  }
  if (op === '~') {
    const lo = v(major, minor ?? 0, patch ?? 0, pre);
    const hi = minor === null ? v(major + 1, 0, 0, [0]) : v(major, minor + 1, 0, [0]);
    return [
      { op: '>=', v: lo },
      { op: '<', v: hi },
    ];
  }
  if (minor === null || patch === null) {
    // A partial: a range over what it leaves open.
    const lo = v(major, minor ?? 0, 0);
    const hi = minor === null ? v(major + 1, 0, 0, [0]) : v(major, minor + 1, 0, [0]);
    if (op === '' || op === '=') {
      return [
        { op: '>=', v: lo },
        { op: '<', v: hi },
      ];
    }
    if (op === '>') return [{ op: '>=', v: hi }];
    if (op === '>=') return [{ op: '>=', v: lo }];
    if (op === '<') return [{ op: '<', v: v(lo.major, lo.minor, 0, [0]) }];
    return [{ op: '<', v: hi }];
  }
  return [{ op: (op || '=') as Op, v: v(major, minor, patch, pre) }];
}

export interface SemverRange {
  sets: Comparator[][];
}

/** An npm-style range, or null when it does not parse. */
export function parseRange(text: string): SemverRange | null {
  const sets: Comparator[][] = [];
  for (const alt of text.split('||')) {
    let s = alt.trim().replace(/(\^|~|>=|<=|>|<|=)\s+/g, '$1');
    const hyphen = /^(\S+)\s+-\s+(\S+)$/.exec(s);
    if (hyphen) s = `>=${hyphen[1]} <=${hyphen[2]}`;
    const set: Comparator[] = [];
    for (const token of s.split(/\s+/).filter(Boolean)) {
      const cs = expand(token);
      if (!cs) return null;
      set.push(...cs);
    }
    sets.push(set);
  }
  return sets.length ? { sets } : null;
}

function test(c: Comparator, ver: SemVer): boolean {
  const d = compareSemver(ver, c.v);
  switch (c.op) {
    case '<':
      return d < 0;
    case '<=':
      return d <= 0;
    case '>':
      return d > 0;
    case '>=':
      return d >= 0;
    case '=':
      return d === 0;
  }
}

export function satisfies(version: SemVer, range: SemverRange): boolean {
  return range.sets.some((set) => {
    if (!set.every((c) => test(c, version))) return false;
    if (!version.pre.length) return true;
    // A prerelease only where a comparator of the same version names a prerelease.
    return set.some(
      (c) =>
        c.v.pre.length > 0 &&
        c.v.pre[0] !== 0 &&
        c.v.major === version.major &&
        c.v.minor === version.minor &&
        c.v.patch === version.patch,
    );
  });
}
