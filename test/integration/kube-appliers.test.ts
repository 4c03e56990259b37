/**
 * Appliers and workload kinds beyond Deployments as live state: the Kubernetes fake serves Argo
 * CD Applications, Flux Kustomizations/HelmReleases, StatefulSets, DaemonSets and Rollouts (each
 * object checked against the projects' CRD schemas by @kubernetes-models validate()), the adapter
 * reads them with @kubernetes/client-node, and the derived state says when our commit is synced
 * and healthy.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kubeConfigFor } from '../../src/adapters/kube.js';
import { KubeApplierReader } from '../../src/adapters/kube-appliers.js';
import { applierState, workloadState } from '../../src/controller/applier-state.js';
import { NotFoundError } from '../../src/core/errors.js';
import { KubeFake } from '../support/kube-fake.js';

const OURS = 'a'.repeat(40);
const BEFORE = 'b'.repeat(40);
const TOKEN = 'kube-token';

function application(name: string): Record<string, unknown> {
  return {
    apiVersion: 'argoproj.io/v1alpha1',
    kind: 'Application',
    metadata: { name },
    spec: {
      project: 'default',
      source: { repoURL: 'https://git.example.com/acme/gitops.git', path: 'overlays/qa', targetRevision: 'main' },
      destination: { server: 'https://kubernetes.default.svc', namespace: 'worker-qa' },
      syncPolicy: { automated: { prune: true, selfHeal: true } },
    },
  };
}

function kustomization(name: string): Record<string, unknown> {
  return {
    apiVersion: 'kustomize.toolkit.fluxcd.io/v1',
    kind: 'Kustomization',
    metadata: { name },
    spec: {
      interval: '5m',
      path: './overlays/qa',
      prune: true,
      sourceRef: { kind: 'GitRepository', name: 'gitops' },
    },
  };
}

const ready = (status: 'True' | 'False' | 'Unknown', reason: string, message: string) => ({
  type: 'Ready',
  status,
  reason,
  message,
  lastTransitionTime: '2026-11-26T00:00:00Z',
});

describe('appliers as live state (Kubernetes fake)', () => {
  let kube: KubeFake;
  let reader: KubeApplierReader;

  beforeAll(async () => {
    kube = await KubeFake.start({ token: TOKEN });
    reader = new KubeApplierReader(
      kubeConfigFor({ server: kube.url, token: TOKEN }),
      'qa-cluster',
      () => new Date('2026-11-26T01:00:00Z'),
    );
  });
  afterAll(async () => kube?.close());

  it('refuses an Application the CRD schema refuses (the fake holds only real shapes)', () => {
    const bad = application('broken');
    delete (bad.spec as Record<string, unknown>).project;
    expect(() => kube.appliers.put('argocd', bad)).toThrow(/project/);
  });

  it('an Argo CD Application: deployed only when our revision is synced and healthy', async () => {
    kube.appliers.put('argocd', application('worker-qa'));
    const ref = { kind: 'Application', namespace: 'argocd', name: 'worker-qa' } as const;
    expect(applierState(await reader.read(ref), OURS)).toMatchObject({ state: 'unknown', deployed: false });

    kube.appliers.setStatus('Application', 'argocd', 'worker-qa', {
      sync: { status: 'Synced', revision: BEFORE },
      health: { status: 'Healthy' },
    });
    expect(applierState(await reader.read(ref), OURS)).toEqual({
      state: 'progressing',
      detail: 'Argo CD argocd/worker-qa: synced bbbbbbbb so far, waiting for aaaaaaaa',
      revision: BEFORE,
      deployed: false,
    });

    kube.appliers.setStatus('Application', 'argocd', 'worker-qa', {
      sync: { status: 'Synced', revision: OURS },
      health: { status: 'Progressing', message: 'Waiting for rollout to finish' },
    });
    expect(applierState(await reader.read(ref), OURS)).toMatchObject({ state: 'progressing', deployed: false });

    kube.appliers.setStatus('Application', 'argocd', 'worker-qa', {
      sync: { status: 'Synced', revision: OURS },
      health: { status: 'Healthy' },
      operationState: {
        phase: 'Succeeded',
        operation: { sync: { revision: OURS } },
        startedAt: '2026-11-26T00:59:00Z',
      },
    });
    expect(applierState(await reader.read(ref), OURS)).toEqual({
      state: 'healthy',
      detail: 'Argo CD argocd/worker-qa: synced aaaaaaaa and healthy',
      revision: OURS,
      deployed: true,
    });

    kube.appliers.setStatus('Application', 'argocd', 'worker-qa', {
      sync: { status: 'Synced', revision: OURS },
      health: { status: 'Degraded', message: 'Deployment "worker" exceeded its progress deadline' },
    });
    expect(applierState(await reader.read(ref), OURS)).toMatchObject({
      state: 'failed',
      detail: 'Argo CD argocd/worker-qa: degraded: Deployment "worker" exceeded its progress deadline',
    });
  });

  it('a Flux Kustomization: Ready and our lastAppliedRevision, or the failure reason', async () => {
    kube.appliers.put('flux-system', kustomization('worker-qa'));
    const ref = { kind: 'Kustomization', namespace: 'flux-system', name: 'worker-qa' } as const;
    kube.appliers.setStatus('Kustomization', 'flux-system', 'worker-qa', {
      observedGeneration: 1,
      lastAppliedRevision: `main@sha1:${OURS}`,
      conditions: [ready('True', 'ReconciliationSucceeded', `Applied revision: main@sha1:${OURS}`)],
    });
    expect(applierState(await reader.read(ref), OURS)).toEqual({
      state: 'healthy',
      detail: 'Flux Kustomization flux-system/worker-qa: ready, applied aaaaaaaa',
      revision: OURS,
      deployed: true,
    });
    kube.appliers.setStatus('Kustomization', 'flux-system', 'worker-qa', {
      observedGeneration: 1,
      lastAppliedRevision: `main@sha1:${BEFORE}`,
      conditions: [
        ready(
          'False',
          'HealthCheckFailed',
          "health check failed after 5m0s: timeout waiting for: [Deployment/worker-qa/worker status: 'InProgress']",
        ),
      ],
    });
    const failed = applierState(await reader.read(ref), OURS);
    expect(failed.state).toBe('failed');
    expect(failed.detail).toContain('HealthCheckFailed: health check failed after 5m0s');
    expect(failed.revision).toBe(BEFORE);
  });

  it('asks the applier to act now with its own annotation', async () => {
    await reader.requestReconcile({ kind: 'Application', namespace: 'argocd', name: 'worker-qa' });
    await reader.requestReconcile({ kind: 'Kustomization', namespace: 'flux-system', name: 'worker-qa' });
    expect(kube.appliers.patches).toEqual([
      {
        plural: 'applications',
        namespace: 'argocd',
        name: 'worker-qa',
        annotations: { 'argocd.argoproj.io/refresh': 'normal' },
      },
      {
        plural: 'kustomizations',
        namespace: 'flux-system',
        name: 'worker-qa',
        annotations: { 'reconcile.fluxcd.io/requestedAt': '2026-11-26T01:00:00.000Z' },
      },
    ]);
    expect(kube.appliers.get('Application', 'argocd', 'worker-qa')?.metadata.annotations).toEqual({
      'argocd.argoproj.io/refresh': 'normal',
    });
  });

  it('StatefulSets, DaemonSets and Rollouts roll out by their own rules', async () => {
    const template = {
      metadata: { labels: { app: 'w' } },
      spec: { containers: [{ name: 'w', image: 'registry.example.com/w:1.2.0' }] },
    };
    kube.appliers.put('worker-qa', {
      apiVersion: 'apps/v1',
      kind: 'StatefulSet',
      metadata: { name: 'db' },
      spec: { serviceName: 'db', replicas: 3, selector: { matchLabels: { app: 'w' } }, template },
    });
    kube.appliers.setStatus('StatefulSet', 'worker-qa', 'db', {
      observedGeneration: 1,
      replicas: 3,
      readyReplicas: 3,
      updatedReplicas: 1,
      currentRevision: 'db-7f',
      updateRevision: 'db-8a',
    });
    const sts = { kind: 'StatefulSet', namespace: 'worker-qa', name: 'db' } as const;
    expect(workloadState(await reader.read(sts))).toEqual({
      state: 'progressing',
      detail: 'StatefulSet worker-qa/db: 1 of 3 pods updated',
    });
    kube.appliers.setStatus('StatefulSet', 'worker-qa', 'db', {
      observedGeneration: 1,
      replicas: 3,
      readyReplicas: 3,
      updatedReplicas: 3,
      currentRevision: 'db-8a',
      updateRevision: 'db-8a',
    });
    expect(workloadState(await reader.read(sts)).state).toBe('healthy');

    kube.appliers.put('worker-qa', {
      apiVersion: 'apps/v1',
      kind: 'DaemonSet',
      metadata: { name: 'agent' },
      spec: { selector: { matchLabels: { app: 'w' } }, template },
    });
    kube.appliers.setStatus('DaemonSet', 'worker-qa', 'agent', {
      observedGeneration: 1,
      currentNumberScheduled: 4,
      desiredNumberScheduled: 4,
      numberMisscheduled: 0,
      numberReady: 3,
      updatedNumberScheduled: 4,
      numberAvailable: 3,
    });
    expect(workloadState(await reader.read({ kind: 'DaemonSet', namespace: 'worker-qa', name: 'agent' }))).toEqual({
      state: 'progressing',
      detail: 'DaemonSet worker-qa/agent: 3 of 4 pods available',
    });

    kube.appliers.put('worker-qa', {
      apiVersion: 'argoproj.io/v1alpha1',
      kind: 'Rollout',
      metadata: { name: 'worker' },
      spec: {
        replicas: 2,
        selector: { matchLabels: { app: 'w' } },
        template,
        strategy: { canary: { steps: [{ setWeight: 20 }, { pause: {} }] } },
      },
    });
    kube.appliers.setStatus('Rollout', 'worker-qa', 'worker', {
      observedGeneration: '1',
      phase: 'Paused',
      message: 'CanaryPauseStep',
    });
    expect(workloadState(await reader.read({ kind: 'Rollout', namespace: 'worker-qa', name: 'worker' }))).toEqual({
      state: 'progressing',
      detail: 'Rollout worker-qa/worker: paused: CanaryPauseStep',
    });
    kube.appliers.setStatus('Rollout', 'worker-qa', 'worker', {
      observedGeneration: '1',
      phase: 'Degraded',
      message: 'RolloutAborted',
    });
    expect(workloadState(await reader.read({ kind: 'Rollout', namespace: 'worker-qa', name: 'worker' })).state).toBe(
      'failed',
    );
  });

  it('names what is missing', async () => {
    await expect(reader.read({ kind: 'Application', namespace: 'argocd', name: 'nope' })).rejects.toThrow(
      new NotFoundError('Application argocd/nope not found in qa-cluster'),
    );
  });
});
