/**
 * manifests/examples: the Argo CD Applications and Flux GitRepository/Kustomization pairs that
 * apply Conveyor's environment branches are valid against the projects' CRD schemas
 * (@kubernetes-models/argo-cd, flux-cd) and agree with the example configuration
 * (manifests/base/conveyor.yaml): one per environment, on that environment's branch of the
 * app's repository, into the namespace Conveyor watches for it.
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Application } from '@kubernetes-models/argo-cd/argoproj.io/v1alpha1';
import { Kustomization } from '@kubernetes-models/flux-cd/kustomize.toolkit.fluxcd.io/v1';
import { GitRepository } from '@kubernetes-models/flux-cd/source.toolkit.fluxcd.io/v1';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { parseConfig } from '../../src/config/load.js';

const MANIFESTS = resolve(import.meta.dirname, '../../manifests');
// biome-ignore lint/suspicious/noExplicitAny: rendered manifests are untyped JSON trees
type Obj = Record<string, any>;
const load = (file: string): Obj[] =>
  parseAllDocuments(readFileSync(join(MANIFESTS, 'examples', file), 'utf8')).map((d) => d.toJS() as Obj);
const config = parseConfig(readFileSync(join(MANIFESTS, 'base', 'conveyor.yaml'), 'utf8'));
const app = config.apps.find((a) => a.name === 'billing')!;
const repoUrl = `https://github.com/${app.repo}.git`;

describe('GitOps examples: what applies each environment branch', () => {
  it('Argo CD: one valid Application per environment, on its branch, into its namespace', () => {
    const apps = load('argocd-applications.yaml');
    for (const a of apps) expect(() => new Application(a as never).validate(), a.metadata.name).not.toThrow();
    expect(apps.map((a) => [a.spec.source.targetRevision, a.spec.destination.namespace])).toEqual(
      config.environments.map((e) => [e.branch, app.targets[e.name]!.namespace]),
    );
    for (const a of apps) {
      expect(a.spec.source.repoURL).toBe(repoUrl);
      expect(a.spec.syncPolicy.automated).toMatchObject({ prune: true, selfHeal: true });
    }
  });

  it('Flux: one valid GitRepository and Kustomization per environment, on its branch, into its namespace', () => {
    const objects = load('flux-kustomizations.yaml');
    const sources = objects.filter((o) => o.kind === 'GitRepository');
    const kustomizations = objects.filter((o) => o.kind === 'Kustomization');
    for (const s of sources) expect(() => new GitRepository(s as never).validate(), s.metadata.name).not.toThrow();
    for (const k of kustomizations)
      expect(() => new Kustomization(k as never).validate(), k.metadata.name).not.toThrow();
    expect(
      kustomizations.map((k) => {
        const source = sources.find((s) => s.metadata.name === k.spec.sourceRef.name)!;
        expect(source.spec.url).toBe(repoUrl);
        return [source.spec.ref.branch, k.spec.targetNamespace];
      }),
    ).toEqual(config.environments.map((e) => [e.branch, app.targets[e.name]!.namespace]));
  });
});
