/**
 * Reads and writes the image field of a GitOps file without re-serialising it: the YAML is parsed
 * (`parseAllDocuments`) only to find where the field's scalar sits in the text, and the edit is a
 * splice of those bytes. Everything else — comments, order, quoting, blank lines, other documents —
 * stays byte for byte. A written file is parsed again and read back before it is returned.
 *
 * Formats:
 * - `kustomize`: the `images:` entry whose `name` is the image's name; `newTag` and `digest`.
 * - `helm-values`: a tag at a dotted path (`image.tag`) and optionally a digest at another
 *   (`image.digest`); without a digest path the tag holds `tag@digest`.
 * - `yaml-path`: a full reference `name:tag@digest` at a path such as
 *   `spec.template.spec.containers[name=web].image` (`[0]` indexes, `[key=value]` selects).
 */
import {
  isMap,
  isScalar,
  isSeq,
  type Node,
  type Pair,
  parse,
  parseAllDocuments,
  type Scalar,
  type YAMLMap,
} from 'yaml';
import { InputError, NotFoundError } from '../errors.js';
import { formatReference, type ImageVersion, parseImageReference, parseVersion } from './image-ref.js';

export type ImageFieldSpec =
  | { format: 'kustomize'; image: string }
  | { format: 'helm-values'; tagPath: string; digestPath?: string }
  | { format: 'yaml-path'; path: string };

type Segment = { key: string } | { index: number } | { match: [string, string] };

interface Edit {
  start: number;
  end: number;
  text: string;
}

/** The image version the file names; NotFoundError when the field is not there. */
export function readImageField(text: string, spec: ImageFieldSpec, file = 'the file'): ImageVersion {
  const root = rootOf(text, file);
  switch (spec.format) {
    case 'kustomize': {
      const entry = kustomizeEntry(root, spec.image, file);
      const out: ImageVersion = {};
      const tag = scalarText(text, entry.get('newTag', true));
      const digest = scalarText(text, entry.get('digest', true));
      if (tag) out.tag = tag;
      if (digest) out.digest = digest;
      if (!tag && !digest) throw new NotFoundError(`${file}: the images entry "${spec.image}" has no newTag or digest`);
      return out;
    }
    case 'helm-values': {
      const tag = scalarText(text, resolve(root, parsePath(spec.tagPath)));
      const digest = spec.digestPath ? scalarText(text, resolve(root, parsePath(spec.digestPath))) : undefined;
      if (!tag && !digest) throw new NotFoundError(`${file}: nothing at ${spec.tagPath}`);
      const v = tag ? parseVersion(tag) : {};
      if (digest) v.digest = digest;
      return v;
    }
    case 'yaml-path': {
      const value = scalarText(text, findInDocuments(text, parsePath(spec.path)));
      if (!value) throw new NotFoundError(`${file}: nothing at ${spec.path}`);
      const { name: _name, ...version } = parseImageReference(value);
      return version;
    }
  }
}

/** The file with only the image field changed to `version`. */
export function writeImageField(text: string, spec: ImageFieldSpec, version: ImageVersion, file = 'the file'): string {
  const root = rootOf(text, file);
  const edits: Edit[] = [];
  switch (spec.format) {
    case 'kustomize': {
      const entry = kustomizeEntry(root, spec.image, file);
      setPair(text, entry, 'newTag', version.tag, edits, file);
      setPair(text, entry, 'digest', version.digest, edits, file);
      break;
    }
    case 'helm-values': {
      const tagValue = spec.digestPath ? version.tag : joinVersion(version);
      setAtPath(text, root, parsePath(spec.tagPath), tagValue, edits, file);
      if (spec.digestPath) setAtPath(text, root, parsePath(spec.digestPath), version.digest, edits, file);
      break;
    }
    case 'yaml-path': {
      const node = findInDocuments(text, parsePath(spec.path));
      const current = scalarText(text, node);
      if (!isScalar(node) || !current) throw new NotFoundError(`${file}: nothing at ${spec.path}`);
      const { name } = parseImageReference(current);
      edits.push(replaceScalar(node, formatReference({ name, ...version })));
      break;
    }
  }
  const out = applyEdits(text, edits);
  const back = readImageField(out, spec, file);
  if (back.tag !== version.tag || back.digest !== version.digest) {
    throw new InputError(`${file}: the edited image field does not read back as written`);
  }
  return out;
}

function joinVersion(v: ImageVersion): string | undefined {
  if (v.tag && v.digest) return `${v.tag}@${v.digest}`;
  return v.tag ?? v.digest;
}

function rootOf(text: string, file: string): Node | null {
  const docs = parseAllDocuments(text);
  if (!Array.isArray(docs)) return null;
  const first = docs[0];
  const error = docs.flatMap((d) => d.errors)[0];
  if (error) throw new InputError(`${file}: not valid YAML (${error.message.split('\n')[0]})`);
  return (first?.contents as Node | null | undefined) ?? null;
}

function kustomizeEntry(root: Node | null, image: string, file: string): YAMLMap {
  const images = isMap(root) ? root.get('images', true) : undefined;
  if (!isSeq(images)) throw new NotFoundError(`${file}: no images: list`);
  for (const item of images.items) {
    if (isMap(item) && String((item.get('name', true) as Scalar | undefined)?.value ?? '') === image) {
      if (item.flow)
        throw new InputError(`${file}: the images entry "${image}" is a flow mapping; write it in block style`);
      return item;
    }
  }
  throw new NotFoundError(`${file}: no images entry named "${image}"`);
}

/** The path's segments: `a.b[0].c[name=web]`. */
export function parsePath(path: string): Segment[] {
  const out: Segment[] = [];
  for (const part of path.split('.')) {
    const m = /^([^[\]]*)((?:\[[^\]]+\])*)$/.exec(part);
    if (!m || (!m[1] && !m[2])) throw new InputError(`"${path}" is not a YAML path (a.b[0].c[name=web])`);
    if (m[1]) out.push({ key: m[1] });
    for (const sel of (m[2] ?? '').matchAll(/\[([^\]]+)\]/g)) {
      const s = sel[1] ?? '';
      if (/^\d+$/.test(s)) out.push({ index: Number(s) });
      else {
        const eq = s.indexOf('=');
        if (eq <= 0) throw new InputError(`"${path}" is not a YAML path ([0] or [key=value])`);
        out.push({ match: [s.slice(0, eq), s.slice(eq + 1)] });
      }
    }
  }
  return out;
}

function resolve(root: Node | null, path: Segment[]): Node | null {
  let node: unknown = root;
  for (const seg of path) {
    if ('key' in seg) node = isMap(node) ? node.get(seg.key, true) : undefined;
    else if ('index' in seg) node = isSeq(node) ? node.items[seg.index] : undefined;
    else {
      const [k, v] = seg.match;
      node = isSeq(node)
        ? node.items.find((i) => isMap(i) && String((i.get(k, true) as Scalar | undefined)?.value ?? '') === v)
        : undefined;
    }
    if (node === undefined || node === null) return null;
  }
  return node as Node;
}

function findInDocuments(text: string, path: Segment[]): Node | null {
  const docs = parseAllDocuments(text);
  if (!Array.isArray(docs)) return null;
  for (const doc of docs) {
    const found = resolve(doc.contents as Node | null, path);
    if (found) return found;
  }
  return null;
}

/** A scalar's value as written (a plain `1.10` stays "1.10", not the number 1.1). */
function scalarText(text: string, node: unknown): string | undefined {
  if (!isScalar(node) || node.value === null || node.value === undefined) return undefined;
  if (node.type === 'PLAIN' && node.range) return text.slice(node.range[0], node.range[1]);
  return String(node.value);
}

/** The scalar text for `value`, in the original's quoting when that keeps it a string. */
function render(value: string, type?: Scalar.Type | null): string {
  if (type === 'QUOTE_SINGLE') return `'${value.replace(/'/g, "''")}'`;
  if (type === 'QUOTE_DOUBLE') return JSON.stringify(value);
  let plainOk = false;
  try {
    plainOk = parse(value) === value && !/[#:]\s|\s$|^\s/.test(value);
  } catch {
    plainOk = false;
  }
  return plainOk ? value : JSON.stringify(value);
}

function replaceScalar(node: Scalar, value: string): Edit {
  if (!node.range) throw new InputError('the image field has no position in the file');
  return { start: node.range[0], end: node.range[1], text: render(value, node.type) };
}

function setAtPath(
  text: string,
  root: Node | null,
  path: Segment[],
  value: string | undefined,
  edits: Edit[],
  file: string,
): void {
  const last = path[path.length - 1];
  const parent = resolve(root, path.slice(0, -1));
  if (!last || !('key' in last) || !isMap(parent)) throw new NotFoundError(`${file}: nothing at ${describe(path)}`);
  if (parent.flow)
    throw new InputError(`${file}: ${describe(path.slice(0, -1))} is a flow mapping; write it in block style`);
  setPair(text, parent, last.key, value, edits, file);
}

function describe(path: Segment[]): string {
  return path
    .map((s) => ('key' in s ? s.key : 'index' in s ? `[${s.index}]` : `[${s.match[0]}=${s.match[1]}]`))
    .join('.')
    .replace(/\.\[/g, '[');
}

/** Replace, insert (after the mapping's last pair, at its indentation) or remove one key. */
function setPair(
  text: string,
  map: YAMLMap,
  key: string,
  value: string | undefined,
  edits: Edit[],
  file: string,
): void {
  const pairs = map.items as Pair<Scalar, Node | null>[];
  const pair = pairs.find((p) => isScalar(p.key) && String(p.key.value) === key);
  if (pair) {
    if (value === undefined) {
      edits.push(removeLine(text, pair, pairs, file));
      return;
    }
    if (!isScalar(pair.value)) throw new InputError(`${file}: ${key} is not a plain value`);
    if (scalarText(text, pair.value) === value) return;
    edits.push(replaceScalar(pair.value, value));
    return;
  }
  if (value === undefined) return;
  const first = pairs[0];
  const tail = pairs[pairs.length - 1];
  const keyStart = (first?.key as Scalar | undefined)?.range?.[0];
  const tailEnd = (tail?.value as Node | null | undefined)?.range?.[1] ?? (tail?.key as Scalar | undefined)?.range?.[1];
  if (keyStart === undefined || tailEnd === undefined) throw new NotFoundError(`${file}: cannot place ${key}`);
  const indent = keyStart - (text.lastIndexOf('\n', keyStart - 1) + 1);
  const newline = text.indexOf('\n', tailEnd);
  const line = `${' '.repeat(indent)}${key}: ${render(value)}`;
  if (newline < 0) edits.push({ start: text.length, end: text.length, text: `\n${line}` });
  else edits.push({ start: newline + 1, end: newline + 1, text: `${line}\n` });
}

function removeLine(
  text: string,
  pair: Pair<Scalar, Node | null>,
  pairs: Pair<Scalar, Node | null>[],
  file: string,
): Edit {
  const keyStart = pair.key.range?.[0];
  const valueEnd = pair.value?.range?.[1] ?? pair.key.range?.[1];
  if (keyStart === undefined || valueEnd === undefined || pairs[0] === pair) {
    throw new InputError(`${file}: cannot remove ${String(pair.key.value)} from its line`);
  }
  const lineStart = text.lastIndexOf('\n', keyStart - 1) + 1;
  if (text.slice(lineStart, keyStart).trim() !== '')
    throw new InputError(`${file}: ${String(pair.key.value)} shares its line`);
  const newline = text.indexOf('\n', valueEnd);
  return { start: lineStart, end: newline < 0 ? text.length : newline + 1, text: '' };
}

function applyEdits(text: string, edits: Edit[]): string {
  let out = text;
  // From the end backwards; of two insertions at one place, the later one first so they keep their order.
  const ordered = edits.map((e, i) => ({ e, i })).sort((a, b) => b.e.start - a.e.start || b.i - a.i);
  for (const { e } of ordered) out = out.slice(0, e.start) + e.text + out.slice(e.end);
  return out;
}
