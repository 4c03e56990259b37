/**
 * The Kubernetes fake's applier objects, in every state the tests play (test/support/applier-play.ts),
 * and the objects as Conveyor's refresh patches leave them, checked with ajv against the
 * published CRD schemas vendored in test/fixtures/crds/ (sources named in SOURCES.md there).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kubeConfigFor } from '../../src/adapters/kube.js';
import { KubeApplierReader } from '../../src/adapters/kube-appliers.js';
import { ArgoCdPlayer, argoApplication, FluxPlayer, fluxKustomization } from '../support/applier-play.js';
import { crdProblems } from '../support/crd-schemas.js';
import { KubeFake } from '../support/kube-fake.js';

const OURS = 'a'.repeat(40);
const BEFORE = 'b'.repeat(40);

const helmRelease = {
  apiVersion: 'helm.toolkit.fluxcd.io/v2',
  kind: 'HelmRelease',
  metadata: { name: 'api-prod' },
  spec: {
    interval: '10m',
    chart: {
      spec: { chart: './charts/api', reconcileStrategy: 'Revision', sourceRef: { kind: 'GitRepository', name: 'app' } },
    },
  },
};

describe('applier objects against the published CRD schemas (ajv)', () => {
  let kube: KubeFake;
  beforeAll(async () => {
    kube = await KubeFake.start();
  });
  afterAll(async () => kube?.close());

  it('the schemas refuse what the API server would refuse', () => {
    const noProject = argoApplication('x', 'https://git.example.com/a.git', 'k8s', 'qa');
    delete noProject.spec.project;
    expect(crdProblems(noProject)).toContain("/spec must have required property 'project'");
    const k = fluxKustomization('x', './k8s');
    k.status = { conditions: [{ type: 'Ready', status: 'True', reason: 'ReconciliationSucceeded', message: 'ok' }] };
    expect(crdProblems(k)).toContain("/status/conditions/0 must have required property 'lastTransitionTime'");
    const bad = structuredClone(helmRelease) as Record<string, unknown> & { spec: Record<string, unknown> };
    bad.spec.interval = 'every ten minutes';
    expect(crdProblems(bad)).toEqual([expect.stringMatching(/^\/spec\/interval must match pattern/)]);
  });

  it('every Argo CD Application status the tests play is one the CRD takes', () => {
    kube.appliers.put('argocd', argoApplication('api-qa', 'https://git.example.com/api.git', 'k8s', 'qa'));
    const argo = new ArgoCdPlayer(kube.appliers, 'argocd', 'api-qa');
    const seen = () => crdProblems(kube.appliers.get('Application', 'argocd', 'api-qa')!);
    expect(seen()).toEqual([]);
    for (const play of [
      () => argo.synced(BEFORE),
      () => argo.outOfSync(OURS),
      () => argo.syncing(OURS),
      () => argo.synced(OURS, 'Progressing'),
      () => argo.synced(OURS),
      () => argo.degraded(OURS, 'Deployment "api" exceeded its progress deadline'),
    ]) {
      play();
      expect(seen()).toEqual([]);
    }
  });

  it('every Flux Kustomization status the tests play is one the CRD takes, and a HelmRelease', () => {
    kube.appliers.put('flux-system', fluxKustomization('api-staging', './k8s'));
    const flux = new FluxPlayer(kube.appliers, 'flux-system', 'api-staging', 'staging');
    const seen = () => crdProblems(kube.appliers.get('Kustomization', 'flux-system', 'api-staging')!);
    expect(seen()).toEqual([]);
    for (const play of [
      () => flux.ready(BEFORE),
      () => flux.reconciling(OURS, BEFORE),
      () => flux.ready(OURS, true),
      () => flux.failed(OURS, BEFORE, 'health check failed after 5m0s'),
    ]) {
      play();
      expect(seen()).toEqual([]);
    }
    kube.appliers.put('flux-system', helmRelease);
    expect(crdProblems(kube.appliers.get('HelmRelease', 'flux-system', 'api-prod')!)).toEqual([]);
  });

  it("Conveyor's refresh patches touch only metadata.annotations and leave objects the CRD takes", async () => {
    const reader = new KubeApplierReader(kubeConfigFor({ server: kube.url }), 'eu');
    await reader.requestReconcile({ kind: 'Application', namespace: 'argocd', name: 'api-qa' });
    await reader.requestReconcile({ kind: 'Kustomization', namespace: 'flux-system', name: 'api-staging' });
    await reader.requestReconcile({ kind: 'HelmRelease', namespace: 'flux-system', name: 'api-prod' });
    expect(kube.appliers.patches.map((p) => [p.plural, Object.keys(p.annotations)])).toEqual([
      ['applications', ['argocd.argoproj.io/refresh']],
      ['kustomizations', ['reconcile.fluxcd.io/requestedAt']],
      ['helmreleases', ['reconcile.fluxcd.io/requestedAt']],
    ]);
    for (const [kind, ns, name] of [
      ['Application', 'argocd', 'api-qa'],
      ['Kustomization', 'flux-system', 'api-staging'],
      ['HelmRelease', 'flux-system', 'api-prod'],
    ] as const) {
      const obj = kube.appliers.get(kind, ns, name)!;
      expect(Object.keys(obj.metadata.annotations ?? {})).toHaveLength(1);
      expect(crdProblems(obj)).toEqual([]);
    }
  });
});
