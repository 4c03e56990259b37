import { describe, expect, it } from 'vitest';
import { InputError, NotFoundError } from '../../../src/core/errors.js';
import { readImageField, writeImageField } from '../../../src/core/images/image-field.js';

const D1 = `sha256:${'1'.repeat(64)}`;
const D2 = `sha256:${'2'.repeat(64)}`;

const KUSTOMIZATION = `# Staging overlay: owned by the platform team.
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization

resources:
  - ../../base   # the shared Deployment and Service

namespace: web-staging

images:
  # the sidecar is pinned by hand, Conveyor must not touch it
  - name: envoy
    newTag: "1.29.1"
  - name: registry.example.com/team/web   # written by Conveyor
    newTag: "1.4.0"   # keep quoted: 1.10 is not 1.1
    digest: ${D1}

patches:
  - path: replicas.yaml
`;

/** The lines that differ between two texts, as [before, after] pairs, in order. */
function changedLines(before: string, after: string): [string | undefined, string | undefined][] {
  const a = before.split('\n');
  const b = after.split('\n');
  const out: [string | undefined, string | undefined][] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    if (a[i] === b[j]) {
      i++;
      j++;
    } else if (b[j + 1] !== undefined && a[i] === b[j + 1]) {
      out.push([undefined, b[j]]);
      j++;
    } else if (a[i + 1] !== undefined && a[i + 1] === b[j]) {
      out.push([a[i], undefined]);
      i++;
    } else {
      out.push([a[i], b[j]]);
      i++;
      j++;
    }
  }
  return out;
}

describe('kustomize images entry', () => {
  const spec = { format: 'kustomize', image: 'registry.example.com/team/web' } as const;

  it('reads the tag and digest of the named entry (not another image)', () => {
    expect(readImageField(KUSTOMIZATION, spec)).toEqual({ tag: '1.4.0', digest: D1 });
    expect(readImageField(KUSTOMIZATION, { format: 'kustomize', image: 'envoy' })).toEqual({ tag: '1.29.1' });
  });

  it('changes only newTag and digest, keeping comments, quotes and every other byte', () => {
    const out = writeImageField(KUSTOMIZATION, spec, { tag: '1.10.0', digest: D2 });
    expect(changedLines(KUSTOMIZATION, out)).toEqual([
      ['    newTag: "1.4.0"   # keep quoted: 1.10 is not 1.1', '    newTag: "1.10.0"   # keep quoted: 1.10 is not 1.1'],
      [`    digest: ${D1}`, `    digest: ${D2}`],
    ]);
    expect(readImageField(out, spec)).toEqual({ tag: '1.10.0', digest: D2 });
  });

  it('adds a missing digest under the entry at its indentation, and removes it when the version has none', () => {
    const noDigest = KUSTOMIZATION.replace(`    digest: ${D1}\n`, '');
    const added = writeImageField(noDigest, spec, { tag: '1.5.0', digest: D2 });
    expect(changedLines(noDigest, added)).toEqual([
      ['    newTag: "1.4.0"   # keep quoted: 1.10 is not 1.1', '    newTag: "1.5.0"   # keep quoted: 1.10 is not 1.1'],
      [undefined, `    digest: ${D2}`],
    ]);
    const removed = writeImageField(KUSTOMIZATION, spec, { tag: '1.4.0' });
    expect(changedLines(KUSTOMIZATION, removed)).toEqual([[`    digest: ${D1}`, undefined]]);
  });

  it('quotes a plain tag that YAML would read as a number', () => {
    const plain = 'images:\n- name: web\n  newTag: v1\n';
    expect(writeImageField(plain, { format: 'kustomize', image: 'web' }, { tag: '1.10' })).toBe(
      'images:\n- name: web\n  newTag: "1.10"\n',
    );
    expect(writeImageField(plain, { format: 'kustomize', image: 'web' }, { tag: 'v2' })).toBe(
      'images:\n- name: web\n  newTag: v2\n',
    );
  });

  it('says which entry is missing instead of adding one', () => {
    expect(() =>
      writeImageField(KUSTOMIZATION, { format: 'kustomize', image: 'api' }, { tag: '1' }, 'overlays/dev'),
    ).toThrow(new NotFoundError('overlays/dev: no images entry named "api"'));
    expect(() => readImageField('resources: [a]\n', spec, 'k.yaml')).toThrow('k.yaml: no images: list');
  });

  it('refuses a file that is not YAML with one line', () => {
    expect(() => readImageField('images: [\n', spec, 'k.yaml')).toThrow(InputError);
    expect(() => readImageField('images: [\n', spec, 'k.yaml')).toThrow(/^k\.yaml: not valid YAML \(/);
  });
});

describe('helm values', () => {
  const VALUES = `# Default values for web.
replicaCount: 2

image:
  repository: registry.example.com/team/web
  # Overrides the image tag whose default is the chart appVersion.
  tag: 1.4.0
  pullPolicy: IfNotPresent

service:
  type: ClusterIP
  port: 80
`;

  it('reads and writes tag@digest in one field when no digest path is set', () => {
    const spec = { format: 'helm-values', tagPath: 'image.tag' } as const;
    expect(readImageField(VALUES, spec)).toEqual({ tag: '1.4.0' });
    const out = writeImageField(VALUES, spec, { tag: '1.5.0', digest: D2 });
    expect(changedLines(VALUES, out)).toEqual([['  tag: 1.4.0', `  tag: 1.5.0@${D2}`]]);
    expect(readImageField(out, spec)).toEqual({ tag: '1.5.0', digest: D2 });
  });

  it('writes the digest to its own path, adding the key after the last one of the mapping', () => {
    const spec = { format: 'helm-values', tagPath: 'image.tag', digestPath: 'image.digest' } as const;
    const out = writeImageField(VALUES, spec, { tag: '1.5.0', digest: D2 });
    expect(changedLines(VALUES, out)).toEqual([
      ['  tag: 1.4.0', '  tag: 1.5.0'],
      [undefined, `  digest: ${D2}`],
    ]);
    expect(out.split('\n').slice(6, 9)).toEqual(['  tag: 1.5.0', '  pullPolicy: IfNotPresent', `  digest: ${D2}`]);
  });

  it('names the path that is missing', () => {
    expect(() => readImageField(VALUES, { format: 'helm-values', tagPath: 'web.image.tag' }, 'values.yaml')).toThrow(
      'values.yaml: nothing at web.image.tag',
    );
  });
});

describe('yaml path', () => {
  const DEPLOYMENT = `---
apiVersion: v1
kind: Service
metadata:
  name: web
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  template:
    spec:
      containers:
        - name: proxy
          image: envoyproxy/envoy:v1.29.1
        - name: web
          image: 'registry.example.com:5000/team/web:1.4.0' # bumped by Conveyor
          ports:
            - containerPort: 8080
`;
  const spec = { format: 'yaml-path', path: 'spec.template.spec.containers[name=web].image' } as const;

  it('finds the container by name in the second document and keeps the registry port and quotes', () => {
    expect(readImageField(DEPLOYMENT, spec)).toEqual({ tag: '1.4.0' });
    const out = writeImageField(DEPLOYMENT, spec, { tag: '1.5.0', digest: D1 });
    expect(changedLines(DEPLOYMENT, out)).toEqual([
      [
        "          image: 'registry.example.com:5000/team/web:1.4.0' # bumped by Conveyor",
        `          image: 'registry.example.com:5000/team/web:1.5.0@${D1}' # bumped by Conveyor`,
      ],
    ]);
  });

  it('takes indexes and refuses a malformed path', () => {
    const byIndex = { format: 'yaml-path', path: 'spec.template.spec.containers[0].image' } as const;
    expect(readImageField(DEPLOYMENT, byIndex)).toEqual({ tag: 'v1.29.1' });
    expect(() => readImageField(DEPLOYMENT, { format: 'yaml-path', path: 'spec..x[' })).toThrow(/is not a YAML path/);
  });
});
