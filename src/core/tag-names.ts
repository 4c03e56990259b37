/**
 * Deploy tag names as people see and type them. A host whose tags carry a prefix in the
 * repository (`tagNamespace`, e.g. `worker/` for apps sharing a GitOps repository) shows the
 * whole name (`worker/qa/2026.11.26.1`, what `git tag` lists), and takes it back with or
 * without the prefix.
 */
import type { GitHost } from './ports.js';

type Named = Pick<GitHost, 'tagNamespace'> | undefined;

/** The name shown for an engine-side tag name. */
export function shownTag(host: Named, name: string): string {
  return `${host?.tagNamespace ?? ''}${name}`;
}

export function shownTagOrNull(host: Named, name: string | null | undefined): string | null {
  return name ? shownTag(host, name) : null;
}

/** The engine-side name of a tag a person typed (the namespace, when given, taken off). */
export function typedTag(host: Named, ref: string): string {
  const ns = host?.tagNamespace;
  return ns && ref.startsWith(ns) ? ref.slice(ns.length) : ref;
}
