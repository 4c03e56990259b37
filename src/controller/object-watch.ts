/**
 * The controller's port onto Kubernetes objects other than Deployments: the GitOps appliers
 * (Argo CD Applications, Flux Kustomizations/HelmReleases) and the workload kinds StatefulSet,
 * DaemonSet and Argo Rollouts Rollout. Implemented by src/adapters/kube-object-watch.ts with
 * informers (list + watch), built by the composition root.
 */
import type { ApplierConfig, WorkloadKindName } from '../config/applier-schema.js';

export type WatchedKind = 'Application' | 'Kustomization' | 'HelmRelease' | 'StatefulSet' | 'DaemonSet' | 'Rollout';

export interface ObjectRef {
  cluster: string;
  kind: WatchedKind;
  namespace: string;
  name: string;
}

// biome-ignore lint/suspicious/noExplicitAny: Kubernetes JSON as served
export type KubeObject = Record<string, any>;

export interface ObjectWatch {
  /** Watch these objects; `onChange` gets each one as it is now, or null when it is not there. */
  start(refs: ObjectRef[], onChange: (ref: ObjectRef, obj: KubeObject | null) => void): Promise<void>;
  stop(): Promise<void>;
}

/** Ask an applier to look at Git now (Argo CD refresh, Flux requestedAt). */
export type RequestReconcile = (ref: ObjectRef) => Promise<void>;

const APPLIER_KIND: Record<ApplierConfig['kind'], WatchedKind> = {
  'argocd-application': 'Application',
  'flux-kustomization': 'Kustomization',
  'flux-helmrelease': 'HelmRelease',
};

export function applierRef(cluster: string, applier: ApplierConfig): ObjectRef {
  return { cluster, kind: APPLIER_KIND[applier.kind], namespace: applier.namespace, name: applier.name };
}

/** A workload of a kind the Deployment informers do not cover; null for a Deployment. */
export function workloadRef(
  cluster: string,
  kind: WorkloadKindName,
  namespace: string,
  name: string,
): ObjectRef | null {
  return kind === 'Deployment' ? null : { cluster, kind, namespace, name };
}

export const refKey = (r: ObjectRef) => `${r.cluster}\u0000${r.kind}\u0000${r.namespace}\u0000${r.name}`;
