/**
 * Plays Argo CD's application controller and Flux's kustomize-controller on the Kubernetes fake:
 * the status each writes at each stage of a sync, shaped as they write it (Argo CD's
 * `status.sync`, `status.health`, `status.operationState` with its `syncResult`, `reconciledAt`;
 * Flux's Ready / Reconciling conditions with reason, message, observedGeneration and
 * lastTransitionTime, `lastAttemptedRevision` / `lastAppliedRevision` in `<branch>@sha1:<sha>`).
 * Every status is validated against the CRD by the fake.
 */
import type { ApplierObjects } from './kube-fake-appliers.js';

// biome-ignore lint/suspicious/noExplicitAny: Kubernetes JSON, like the wire
type Obj = Record<string, any>;

const at = () => new Date().toISOString().replace(/\.\d+Z$/, 'Z');

export function argoApplication(name: string, repoURL: string, path: string, branch: string): Obj {
  return {
    apiVersion: 'argoproj.io/v1alpha1',
    kind: 'Application',
    metadata: { name },
    spec: {
      project: 'default',
      source: { repoURL, path, targetRevision: branch },
      destination: { server: 'https://kubernetes.default.svc', namespace: name },
      syncPolicy: { automated: { prune: true, selfHeal: true } },
    },
  };
}

export function fluxKustomization(name: string, path: string): Obj {
  return {
    apiVersion: 'kustomize.toolkit.fluxcd.io/v1',
    kind: 'Kustomization',
    metadata: { name },
    spec: { interval: '10m', path, prune: true, wait: true, sourceRef: { kind: 'GitRepository', name: 'app' } },
  };
}

export class ArgoCdPlayer {
  constructor(
    private readonly objects: ApplierObjects,
    private readonly namespace: string,
    private readonly name: string,
  ) {}

  private set(status: Obj): void {
    this.objects.setStatus('Application', this.namespace, this.name, { reconciledAt: at(), ...status });
  }

  private source(): Obj {
    return this.objects.get('Application', this.namespace, this.name)!.spec.source;
  }

  /** Synced to `revision` and healthy (where it settles after a sync). */
  synced(revision: string, health: 'Healthy' | 'Progressing' = 'Healthy'): void {
    this.set({
      sync: { status: 'Synced', revision, comparedTo: { source: this.source(), destination: {} } },
      health:
        health === 'Healthy'
          ? { status: 'Healthy' }
          : {
              status: 'Progressing',
              message: 'Waiting for rollout to finish: 1 of 2 updated replicas are available...',
            },
      operationState: {
        operation: { sync: { revision }, initiatedBy: { automated: true } },
        phase: 'Succeeded',
        message: 'successfully synced (all tasks run)',
        startedAt: at(),
        finishedAt: at(),
        syncResult: { revision, source: this.source(), resources: [] },
      },
    });
  }

  /** A refresh compared the cluster with `revision` (the branch head in Git): OutOfSync, still Healthy. */
  outOfSync(revision: string): void {
    this.set({
      sync: { status: 'OutOfSync', revision, comparedTo: { source: this.source(), destination: {} } },
      health: { status: 'Healthy' },
    });
  }

  /** The automated sync of `revision` runs: OutOfSync until it is done, health Progressing. */
  syncing(revision: string): void {
    this.set({
      sync: { status: 'OutOfSync', revision, comparedTo: { source: this.source(), destination: {} } },
      health: {
        status: 'Progressing',
        message: 'Waiting for rollout to finish: 0 of 2 updated replicas are available...',
      },
      operationState: {
        operation: { sync: { revision }, initiatedBy: { automated: true } },
        phase: 'Running',
        message: 'waiting for healthy state of apps/Deployment/api',
        startedAt: at(),
      },
    });
  }

  /** Synced `revision`, but what it deployed is Degraded. */
  degraded(revision: string, message: string): void {
    this.set({
      sync: { status: 'Synced', revision },
      health: { status: 'Degraded', message },
      conditions: [{ type: 'SyncError', message, lastTransitionTime: at() }],
      operationState: {
        operation: { sync: { revision }, initiatedBy: { automated: true } },
        phase: 'Succeeded',
        message: 'successfully synced (all tasks run)',
        startedAt: at(),
        finishedAt: at(),
        syncResult: { revision, resources: [] },
      },
    });
  }
}

export class FluxPlayer {
  constructor(
    private readonly objects: ApplierObjects,
    private readonly namespace: string,
    private readonly name: string,
    private readonly branch: string,
  ) {}

  private generation(): number {
    return this.objects.get('Kustomization', this.namespace, this.name)!.metadata.generation;
  }

  private condition(type: string, status: string, reason: string, message: string): Obj {
    return { type, status, reason, message, observedGeneration: this.generation(), lastTransitionTime: at() };
  }

  /** `revision` in the `<branch>@sha1:<sha>` form (or the plain sha older objects carry). */
  rev(sha: string, plain = false): string {
    return plain ? sha : `${this.branch}@sha1:${sha}`;
  }

  ready(applied: string, plain = false): void {
    const r = this.rev(applied, plain);
    this.objects.setStatus('Kustomization', this.namespace, this.name, {
      observedGeneration: this.generation(),
      lastAttemptedRevision: r,
      lastAppliedRevision: r,
      lastHandledReconcileAt: at(),
      conditions: [this.condition('Ready', 'True', 'ReconciliationSucceeded', `Applied revision: ${r}`)],
    });
  }

  /** Applying `attempt` (health checks running) while `applied` is what last succeeded. */
  reconciling(attempt: string, applied: string): void {
    this.objects.setStatus('Kustomization', this.namespace, this.name, {
      observedGeneration: this.generation(),
      lastAttemptedRevision: this.rev(attempt),
      lastAppliedRevision: this.rev(applied),
      conditions: [
        this.condition(
          'Reconciling',
          'True',
          'ProgressingWithRetry',
          `Detecting drift for revision ${this.rev(attempt)} with a timeout of 5m0s`,
        ),
        this.condition('Ready', 'Unknown', 'Progressing', 'Reconciliation in progress'),
      ],
    });
  }

  /** The health checks of `attempt` failed. */
  failed(attempt: string, applied: string, message: string): void {
    this.objects.setStatus('Kustomization', this.namespace, this.name, {
      observedGeneration: this.generation(),
      lastAttemptedRevision: this.rev(attempt),
      lastAppliedRevision: this.rev(applied),
      conditions: [this.condition('Ready', 'False', 'HealthCheckFailed', message)],
    });
  }
}
