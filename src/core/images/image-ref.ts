/**
 * Image references: `[registry[:port]/]name[:tag][@sha256:…]`. The version of an environment under
 * the image strategy is the tag and digest its GitOps path names (`1.4.2@sha256:…`).
 */
import { InputError } from '../errors.js';

export interface ImageVersion {
  tag?: string;
  digest?: string;
}

export interface ImageReference extends ImageVersion {
  /** Everything before the tag and digest: `registry.example.com:5000/team/web`. */
  name: string;
}

export const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
export const DIGEST = /^sha256:[0-9a-f]{64}$/;

/** `name[:tag][@digest]` into its parts; InputError on anything else. */
export function parseImageReference(text: string): ImageReference {
  const s = text.trim();
  const at = s.indexOf('@');
  const digest = at >= 0 ? s.slice(at + 1) : undefined;
  const rest = at >= 0 ? s.slice(0, at) : s;
  const slash = rest.lastIndexOf('/');
  const colon = rest.lastIndexOf(':');
  const tag = colon > slash ? rest.slice(colon + 1) : undefined;
  const name = colon > slash ? rest.slice(0, colon) : rest;
  if (!name || (tag !== undefined && !TAG.test(tag)) || (digest !== undefined && !DIGEST.test(digest))) {
    throw new InputError(`"${s.slice(0, 120)}" is not an image reference (name:tag@sha256:…)`);
  }
  const out: ImageReference = { name };
  if (tag !== undefined) out.tag = tag;
  if (digest !== undefined) out.digest = digest;
  return out;
}

/** `tag@digest`, `tag`, or `@digest`. */
export function formatVersion(v: ImageVersion): string {
  if (v.tag && v.digest) return `${v.tag}@${v.digest}`;
  return v.tag ?? (v.digest ? `@${v.digest}` : '');
}

/** `tag@digest`, `tag`, `@digest` or a bare digest, as a user or a deploy tag writes it. */
export function parseVersion(text: string): ImageVersion {
  const s = text.trim();
  if (DIGEST.test(s)) return { digest: s };
  const at = s.indexOf('@');
  const tag = at >= 0 ? s.slice(0, at) : s;
  const digest = at >= 0 ? s.slice(at + 1) : undefined;
  if ((tag !== '' && !TAG.test(tag)) || (digest !== undefined && !DIGEST.test(digest)) || (!tag && !digest)) {
    throw new InputError(`"${s.slice(0, 120)}" is not an image version (tag, tag@sha256:… or sha256:…)`);
  }
  const out: ImageVersion = {};
  if (tag) out.tag = tag;
  if (digest) out.digest = digest;
  return out;
}

export function formatReference(ref: ImageReference): string {
  return `${ref.name}${ref.tag ? `:${ref.tag}` : ''}${ref.digest ? `@${ref.digest}` : ''}`;
}

/** Same image: the digests agree when both have one, else the tags do. */
export function sameVersion(a: ImageVersion, b: ImageVersion): boolean {
  if (a.digest && b.digest) return a.digest === b.digest;
  return a.tag === b.tag && a.digest === b.digest;
}
