/** `$.a.b[0].c` over parsed JSON: the value, or undefined when the path does not lead anywhere. */
export function readJsonPath(doc: unknown, path: string): unknown {
  let here: unknown = doc;
  for (const m of path.slice(1).matchAll(/\.([A-Za-z_][A-Za-z0-9_-]*)|\[(\d+)\]/g)) {
    if (here === null || typeof here !== 'object') return undefined;
    if (m[1] !== undefined) here = Object.hasOwn(here, m[1]) ? (here as Record<string, unknown>)[m[1]] : undefined;
    else here = Array.isArray(here) ? here[Number(m[2])] : undefined;
  }
  return here;
}
