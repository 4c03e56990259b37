/**
 * "Did you mean …?" for a mistyped command, subcommand, app or environment (chat and the CLI):
 * the known word that is a unique prefix of it, or the one closest to it by edit distance when
 * that is close enough to be a typo and no other word is as close.
 */
import { distance } from 'fastest-levenshtein';

/** Two adjacent letters swapped ("rnu" for "run"): one slip of the fingers, not two edits. */
function swapped(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  const diff = [...a].flatMap((c, i) => (c === b[i] ? [] : [i]));
  return diff.length === 2 && diff[1] === diff[0]! + 1 && a[diff[0]!] === b[diff[1]!] && a[diff[1]!] === b[diff[0]!];
}

export function nearest(word: string, known: readonly string[]): string | null {
  const w = word.toLowerCase();
  const prefixed = known.filter((k) => w.length >= 3 && k.startsWith(w));
  if (prefixed.length === 1) return prefixed[0]!;
  const scored = known.map((k) => ({ k, d: swapped(w, k) ? 1 : distance(w, k) })).sort((x, y) => x.d - y.d);
  const best = scored[0];
  if (!best || best.d > Math.max(1, Math.floor(best.k.length / 3))) return null;
  return scored[1]?.d === best.d ? null : best.k;
}

/** ' (did you mean "x"?)' or "". */
export function didYouMean(typed: string, names: readonly string[]): string {
  const near = nearest(typed, names);
  return near ? ` (did you mean "${near}"?)` : '';
}
