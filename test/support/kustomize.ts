/**
 * A small, strict renderer for the subset of Kustomize that `manifests/` uses, so the tests can
 * render every kustomization without `kubectl`/`kustomize` on the machine.
 *
 * Supported kustomization fields (anything else throws ConfigError, so nothing is silently
 * mis-rendered):
 * - `apiVersion: kustomize.config.k8s.io/v1beta1`, `kind: Kustomization`
 * - `resources`: YAML files inside the kustomization folder, or folders holding a kustomization
 * - `namespace`: set on every namespaced object; (Cluster)RoleBinding subjects named `default`
 *   get it too (kustomize's DefaultSubjectsOnly rule: other subjects keep their namespace)
 * - `labels`: `pairs` on metadata.labels; `includeTemplates` also on pod templates.
 *   `includeSelectors: true` is refused (selectors are immutable: spell them out instead)
 * - `patches`: JSON 6902 only (a YAML list of `add` / `replace` / `remove` ops), inline `patch`
 *   or `path`, `target` by `kind` + `name` (optionally `group`, `version`, `namespace`).
 *   Strategic-merge patches are refused. A patch whose target matches nothing throws.
 * - `configMapGenerator`: `name`, `files` (`key=path` or `path`), `literals`; the name gets
 *   kustomize's content-hash suffix and references from pod specs are rewritten to it
 * - `images`: `name` with `newName`, `newTag`, `digest`
 * Plain scalars that YAML 1.1 and 1.2 read differently (`0555`, `yes`, `no`, `on`, `off`, `y`,
 * `n`) are refused: quote them, or write modes in decimal. The ConfigMap hash matches
 * kustomize's own test vectors.
 * Transformers run in kustomize's order: patches, namespace, labels, images.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join, relative, resolve, sep } from 'node:path';
import { parseAllDocuments, visit } from 'yaml';
import { ConfigError } from '../../src/core/errors.js';

// biome-ignore lint/suspicious/noExplicitAny: rendered manifests are untyped JSON trees
export type K8sObject = Record<string, any>;

const KUSTOMIZATION_FILES = ['kustomization.yaml', 'kustomization.yml', 'Kustomization'];
const SUPPORTED = new Set([
  'apiVersion',
  'kind',
  'resources',
  'namespace',
  'labels',
  'patches',
  'configMapGenerator',
  'images',
]);
const CLUSTER_SCOPED = new Set([
  'Namespace',
  'ClusterRole',
  'ClusterRoleBinding',
  'CustomResourceDefinition',
  'PersistentVolume',
  'StorageClass',
  'PriorityClass',
  'IngressClass',
  'ValidatingWebhookConfiguration',
  'MutatingWebhookConfiguration',
  'APIService',
  'RuntimeClass',
]);
const POD_TEMPLATE_KINDS = new Set(['Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet', 'Job']);

interface Rendered {
  objects: K8sObject[];
  /** Generated ConfigMaps, renamed with their hash suffix once the whole tree is rendered. */
  generated: Set<K8sObject>;
}

function fail(dir: string, message: string): never {
  throw new ConfigError(`kustomize ${dir}: ${message}`);
}

function kustomizationFile(dir: string): string | undefined {
  return KUSTOMIZATION_FILES.map((f) => join(dir, f)).find((f) => existsSync(f));
}

/** Every folder under `root` (inclusive) holding a kustomization, sorted. */
export function findKustomizations(root: string): string[] {
  const found: string[] = [];
  const walk = (dir: string): void => {
    if (kustomizationFile(dir)) found.push(dir);
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.isDirectory()) walk(join(dir, entry.name));
    }
  };
  walk(resolve(root));
  return found.sort();
}

/** Inside `root` (or `root` itself): kustomize's default load restriction for files. */
function insideRoot(root: string, file: string): boolean {
  const rel = relative(root, file);
  return rel !== '' && !rel.startsWith('..') && !rel.startsWith(sep);
}

/** Plain scalars that YAML 1.1 (Kubernetes) and YAML 1.2 read differently: refused, quote them. */
const AMBIGUOUS = /^(0[0-7]+|[yYnN]|yes|Yes|YES|no|No|NO|on|On|ON|off|Off|OFF)$/;

/** Parse every document of `text`, refusing syntax errors and version-dependent scalars. */
function parseYaml(dir: string, text: string, what: string): unknown[] {
  return parseAllDocuments(text).map((doc) => {
    if (doc.errors.length > 0) fail(dir, `${what}: ${doc.errors[0]!.message}`);
    visit(doc, {
      Scalar(_key, node) {
        if (node.type === 'PLAIN' && AMBIGUOUS.test(node.source ?? '')) {
          fail(dir, `${what}: quote "${node.source}", YAML 1.1 and 1.2 read it differently`);
        }
      },
    });
    return doc.toJS() as unknown;
  });
}

function readObjects(dir: string, file: string): K8sObject[] {
  const objects: K8sObject[] = [];
  for (const obj of parseYaml(dir, readFileSync(file, 'utf8'), file) as (K8sObject | null)[]) {
    if (obj === null) continue;
    if (typeof obj.apiVersion !== 'string' || typeof obj.kind !== 'string' || !obj.metadata?.name) {
      fail(dir, `${file}: every object needs apiVersion, kind and metadata.name`);
    }
    objects.push(obj);
  }
  return objects;
}

/** Kustomize's ConfigMap hash: sha256 of Go's json.Marshal of {data, kind, name}, 10 chars. */
export function configMapHash(cm: K8sObject): string {
  const data = Object.fromEntries(
    Object.keys(cm.data ?? {})
      .sort()
      .map((k) => [k, cm.data[k]]),
  );
  const json = JSON.stringify({ data, kind: 'ConfigMap', name: cm.metadata.name })
    // Go's encoder escapes these for HTML safety; the hash must see the same bytes.
    .replace(/</g, '\\u003c')
    .replace(/>/g, '\\u003e')
    .replace(/&/g, '\\u0026')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
  const hex = createHash('sha256').update(json).digest('hex').slice(0, 10);
  const swap: Record<string, string> = { '0': 'g', '1': 'h', '3': 'k', a: 'm', e: 't' };
  return [...hex].map((c) => swap[c] ?? c).join('');
}

function generateConfigMap(dir: string, spec: K8sObject): K8sObject {
  const allowed = new Set(['name', 'files', 'literals']);
  for (const key of Object.keys(spec)) if (!allowed.has(key)) fail(dir, `configMapGenerator.${key} is not supported`);
  if (typeof spec.name !== 'string') fail(dir, 'configMapGenerator entries need a name');
  const data: Record<string, string> = {};
  const put = (key: string, value: string): void => {
    if (key in data) fail(dir, `configMapGenerator ${spec.name}: key ${key} given twice`);
    data[key] = value;
  };
  for (const entry of (spec.files ?? []) as string[]) {
    const at = entry.indexOf('=');
    const [key, path] = at > 0 ? [entry.slice(0, at), entry.slice(at + 1)] : [basename(entry), entry];
    const file = resolve(dir, path);
    if (!insideRoot(dir, file)) fail(dir, `configMapGenerator file ${path} is outside the kustomization`);
    put(key, readFileSync(file, 'utf8'));
  }
  for (const literal of (spec.literals ?? []) as string[]) {
    const at = literal.indexOf('=');
    if (at < 1) fail(dir, `configMapGenerator literal "${literal}" is not key=value`);
    put(literal.slice(0, at), literal.slice(at + 1));
  }
  return { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: spec.name }, data };
}

/** RFC 6901 pointer → path segments. */
function pointer(path: string): string[] {
  if (path === '' || !path.startsWith('/')) throw new Error(`bad JSON pointer "${path}"`);
  return path
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

/** Apply add / replace / remove (RFC 6902) to `doc` in place. */
export function applyJsonPatch(doc: K8sObject, ops: K8sObject[]): void {
  for (const op of ops) {
    const segments = pointer(op.path);
    const last = segments.pop()!;
    let parent: K8sObject = doc;
    for (const s of segments) {
      const next = Array.isArray(parent) ? parent[Number(s)] : parent[s];
      if (next === undefined || next === null || typeof next !== 'object') {
        throw new Error(`${op.op} ${op.path}: parent path does not exist`);
      }
      parent = next;
    }
    const value = structuredClone(op.value);
    if (Array.isArray(parent)) {
      const index = last === '-' ? parent.length : Number(last);
      if (!/^(\d+|-)$/.test(last) || index > parent.length || (op.op !== 'add' && index >= parent.length)) {
        throw new Error(`${op.op} ${op.path}: index out of range`);
      }
      if (op.op === 'add') parent.splice(index, 0, value);
      else if (op.op === 'replace') parent[index] = value;
      else if (op.op === 'remove') parent.splice(index, 1);
      else throw new Error(`JSON patch op "${op.op}" is not supported`);
      continue;
    }
    const exists = Object.hasOwn(parent, last);
    if (op.op === 'add') parent[last] = value;
    else if (op.op === 'replace' && exists) parent[last] = value;
    else if (op.op === 'remove' && exists) delete parent[last];
    else if (op.op === 'replace' || op.op === 'remove') throw new Error(`${op.op} ${op.path}: path does not exist`);
    else throw new Error(`JSON patch op "${op.op}" is not supported`);
  }
}

function applyPatch(dir: string, objects: K8sObject[], spec: K8sObject): void {
  for (const key of Object.keys(spec))
    if (!['patch', 'path', 'target'].includes(key)) fail(dir, `patches[].${key} is not supported`);
  const target = spec.target as K8sObject | undefined;
  if (!target?.kind || !target.name) fail(dir, 'patches need a target with kind and name');
  for (const key of Object.keys(target)) {
    if (!['kind', 'name', 'group', 'version', 'namespace'].includes(key))
      fail(dir, `patches[].target.${key} is not supported`);
  }
  let text = spec.patch as string | undefined;
  if (spec.path !== undefined) {
    const file = resolve(dir, spec.path);
    if (!insideRoot(dir, file)) fail(dir, `patch file ${spec.path} is outside the kustomization`);
    text = readFileSync(file, 'utf8');
  }
  if (typeof text !== 'string') fail(dir, 'patches need `patch` or `path`');
  const [ops] = parseYaml(dir, text, `patch for ${target.kind}/${target.name}`);
  if (!Array.isArray(ops))
    fail(dir, `patch for ${target.kind}/${target.name}: only JSON 6902 patches (a list of ops) are supported`);
  const matches = objects.filter((o) => {
    const [group, version] = o.apiVersion.includes('/') ? o.apiVersion.split('/') : ['', o.apiVersion];
    return (
      o.kind === target.kind &&
      o.metadata.name === target.name &&
      (target.group === undefined || target.group === group) &&
      (target.version === undefined || target.version === version) &&
      (target.namespace === undefined || target.namespace === o.metadata.namespace)
    );
  });
  if (matches.length === 0) fail(dir, `patch target ${target.kind}/${target.name} matches nothing`);
  for (const obj of matches) {
    try {
      applyJsonPatch(obj, ops);
    } catch (err) {
      fail(dir, `patch ${target.kind}/${target.name}: ${(err as Error).message}`);
    }
  }
}

function podSpecs(obj: K8sObject): K8sObject[] {
  if (obj.kind === 'Pod') return [obj.spec ?? {}];
  if (obj.kind === 'CronJob') return [obj.spec?.jobTemplate?.spec?.template?.spec ?? {}];
  return POD_TEMPLATE_KINDS.has(obj.kind) ? [obj.spec?.template?.spec ?? {}] : [];
}

function containersOf(spec: K8sObject): K8sObject[] {
  return [...(spec.initContainers ?? []), ...(spec.containers ?? [])];
}

function applyLabels(dir: string, objects: K8sObject[], entries: K8sObject[]): void {
  for (const entry of entries) {
    for (const key of Object.keys(entry)) {
      if (!['pairs', 'includeTemplates', 'includeSelectors'].includes(key))
        fail(dir, `labels[].${key} is not supported`);
    }
    if (entry.includeSelectors)
      fail(dir, 'labels[].includeSelectors: true is not supported; write selectors explicitly');
    for (const obj of objects) {
      obj.metadata.labels = { ...obj.metadata.labels, ...entry.pairs };
      if (entry.includeTemplates && POD_TEMPLATE_KINDS.has(obj.kind) && obj.spec?.template) {
        obj.spec.template.metadata ??= {};
        obj.spec.template.metadata.labels = { ...obj.spec.template.metadata.labels, ...entry.pairs };
      }
    }
  }
}

function applyImages(dir: string, objects: K8sObject[], images: K8sObject[]): void {
  for (const image of images) {
    for (const key of Object.keys(image)) {
      if (!['name', 'newName', 'newTag', 'digest'].includes(key)) fail(dir, `images[].${key} is not supported`);
    }
    for (const container of objects.flatMap(podSpecs).flatMap(containersOf)) {
      const ref = String(container.image ?? '');
      const match = /^(.*?)(?::([\w][\w.-]{0,127}))?(?:@(sha256:[0-9a-f]{64}))?$/.exec(ref)!;
      const [, name, tag, digest] = match;
      if (name !== image.name) continue;
      const newName = image.newName ?? name;
      if (image.digest) container.image = `${newName}@${image.digest}`;
      else if (image.newTag) container.image = `${newName}:${image.newTag}`;
      else container.image = `${newName}${tag ? `:${tag}` : ''}${digest ? `@${digest}` : ''}`;
    }
  }
}

function build(dir: string, seen: string[]): Rendered {
  if (seen.includes(dir)) fail(dir, `resource cycle: ${[...seen, dir].join(' → ')}`);
  const file = kustomizationFile(dir) ?? fail(dir, 'no kustomization.yaml here');
  const [k = {}] = parseYaml(dir, readFileSync(file, 'utf8'), file) as (K8sObject | null)[];
  if (k === null || typeof k !== 'object') fail(dir, 'the kustomization is not a mapping');
  for (const key of Object.keys(k))
    if (!SUPPORTED.has(key)) fail(dir, `field "${key}" is not supported by this renderer`);
  if (k.kind !== undefined && k.kind !== 'Kustomization') fail(dir, `kind ${k.kind} is not supported`);
  if (k.apiVersion !== undefined && k.apiVersion !== 'kustomize.config.k8s.io/v1beta1')
    fail(dir, `apiVersion ${k.apiVersion}`);

  const out: Rendered = { objects: [], generated: new Set() };
  for (const entry of (k.resources ?? []) as string[]) {
    if (/^[a-z]+:\/\//i.test(entry) || entry.includes('?ref=')) fail(dir, `remote resource ${entry} is not supported`);
    const path = resolve(dir, entry);
    if (!existsSync(path)) fail(dir, `resource ${entry} does not exist`);
    if (statSync(path).isDirectory()) {
      const sub = build(path, [...seen, dir]);
      out.objects.push(...sub.objects);
      for (const g of sub.generated) out.generated.add(g);
    } else {
      if (!insideRoot(dir, path)) fail(dir, `resource file ${entry} is outside the kustomization`);
      out.objects.push(...readObjects(dir, path));
    }
  }
  for (const spec of (k.configMapGenerator ?? []) as K8sObject[]) {
    const cm = generateConfigMap(dir, spec);
    out.objects.push(cm);
    out.generated.add(cm);
  }
  for (const patch of (k.patches ?? []) as K8sObject[]) applyPatch(dir, out.objects, patch);
  if (k.namespace !== undefined) {
    for (const obj of out.objects) {
      if (!CLUSTER_SCOPED.has(obj.kind)) obj.metadata.namespace = k.namespace;
      if (obj.kind === 'RoleBinding' || obj.kind === 'ClusterRoleBinding') {
        for (const subject of obj.subjects ?? []) if (subject.name === 'default') subject.namespace = k.namespace;
      }
    }
  }
  applyLabels(dir, out.objects, (k.labels ?? []) as K8sObject[]);
  applyImages(dir, out.objects, (k.images ?? []) as K8sObject[]);

  const ids = new Set<string>();
  for (const obj of out.objects) {
    const id = `${obj.apiVersion.split('/').slice(0, -1).join('/')}|${obj.kind}|${obj.metadata.namespace ?? ''}|${obj.metadata.name}`;
    if (ids.has(id)) fail(dir, `${obj.kind}/${obj.metadata.name} is defined twice`);
    ids.add(id);
  }
  return out;
}

/** Give generated ConfigMaps their hash suffix and point pod specs at the new names. */
function renameGenerated(rendered: Rendered): void {
  for (const cm of rendered.generated) {
    const from = cm.metadata.name as string;
    const to = `${from}-${configMapHash(cm)}`;
    cm.metadata.name = to;
    for (const obj of rendered.objects) {
      if ((obj.metadata.namespace ?? '') !== (cm.metadata.namespace ?? '')) continue;
      for (const spec of podSpecs(obj)) {
        const refs: K8sObject[] = [];
        for (const v of spec.volumes ?? []) {
          if (v.configMap) refs.push(v.configMap);
          for (const source of v.projected?.sources ?? []) if (source.configMap) refs.push(source.configMap);
        }
        for (const c of containersOf(spec)) {
          for (const e of c.envFrom ?? []) if (e.configMapRef) refs.push(e.configMapRef);
          for (const e of c.env ?? []) if (e.valueFrom?.configMapKeyRef) refs.push(e.valueFrom.configMapKeyRef);
        }
        for (const ref of refs) if (ref.name === from) ref.name = to;
      }
    }
  }
}

/** Render the kustomization in `dir` (like `kustomize build dir`) into plain objects. */
export function renderKustomization(dir: string): K8sObject[] {
  const rendered = build(resolve(dir), []);
  renameGenerated(rendered);
  return rendered.objects;
}
