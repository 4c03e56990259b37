/**
 * "Did you mean …?" for a mistyped command, subcommand, app or environment (chat and the CLI):
 * the known word that is a unique prefix of it, or the one closest to it by edit distance when
 * that is close enough to be a typo and no other word is as close.
 */
import { distance } from 'fastest-levenshtein';

export function nearest(word: string, known: readonly string[]): string | null {
  const w = word.toLowerCase();
  const prefixed = known.filter((k) => w.length >= 3 && k.startsWith(w));
  if (prefixed.length === 1) return prefixed[0]!;
  const scored = known.map((k) => ({ k, d: distance(w, k) })).sort((x, y) => x.d - y.d);
  const best = scored[0];
  if (!best || best.d > Math.max(1, Math.floor(best.k.length / 3))) return null;
  return scored[1]?.d === best.d ? null : best.k;
}

/** ' (did you mean "x"?)' or "". */
export function didYouMean(typed: string, names: readonly string[]): string {
  const near = nearest(typed, names);
  return near ? ` (did you mean "${near}"?)` : '';
}
