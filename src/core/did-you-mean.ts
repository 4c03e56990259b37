/** "Did you mean …?" for a mistyped command, app or environment: the closest name within two edits. */
import { distance } from 'fastest-levenshtein';

export function nearest(typed: string, names: readonly string[]): string | null {
  let best: string | null = null;
  let bestDistance = 3;
  for (const name of names) {
    const d = distance(typed.toLowerCase(), name);
    if (d < bestDistance) [best, bestDistance] = [name, d];
  }
  return best;
}

/** ' (did you mean "x"?)' or "". */
export function didYouMean(typed: string, names: readonly string[]): string {
  const near = nearest(typed, names);
  return near ? ` (did you mean "${near}"?)` : '';
}
