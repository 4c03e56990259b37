/**
 * Reads GitOps appliers and the workload kinds beyond Deployments from a cluster, with
 * @kubernetes/client-node: an Argo CD `Application`, a Flux `Kustomization` / `HelmRelease`
 * (CustomObjectsApi), a `StatefulSet` / `DaemonSet` (AppsV1Api) or an Argo Rollouts `Rollout`;
 * and asks an applier to act now (Argo CD's refresh annotation, Flux's
 * `reconcile.fluxcd.io/requestedAt`) with a merge patch of its annotations. The states are
 * derived by src/controller/applier-state.ts.
 */
import { AppsV1Api, CustomObjectsApi, type KubeConfig, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { NotFoundError, UpstreamError } from '../core/errors.js';
import { describeKubeError } from './kube.js';

export type ReadableKind = 'Application' | 'Kustomization' | 'HelmRelease' | 'Rollout' | 'StatefulSet' | 'DaemonSet';

const CUSTOM: Record<string, { group: string; version: string; plural: string }> = {
  Application: { group: 'argoproj.io', version: 'v1alpha1', plural: 'applications' },
  Rollout: { group: 'argoproj.io', version: 'v1alpha1', plural: 'rollouts' },
  Kustomization: { group: 'kustomize.toolkit.fluxcd.io', version: 'v1', plural: 'kustomizations' },
  HelmRelease: { group: 'helm.toolkit.fluxcd.io', version: 'v2', plural: 'helmreleases' },
};

export interface ObjectRef {
  kind: ReadableKind;
  namespace: string;
  name: string;
}

// biome-ignore lint/suspicious/noExplicitAny: Kubernetes JSON as served
type Obj = Record<string, any>;

function isNotFound(err: unknown): boolean {
  return (err as { code?: number })?.code === 404;
}

export class KubeApplierReader {
  private readonly custom: CustomObjectsApi;
  private readonly apps: AppsV1Api;

  constructor(
    kubeConfig: KubeConfig,
    private readonly cluster: string,
    private readonly now: () => Date = () => new Date(),
  ) {
    this.custom = kubeConfig.makeApiClient(CustomObjectsApi);
    this.apps = kubeConfig.makeApiClient(AppsV1Api);
  }

  /** The object as served, with its kind and apiVersion; NotFoundError when it is not there. */
  async read(ref: ObjectRef): Promise<Obj> {
    try {
      if (ref.kind === 'StatefulSet') {
        const o = await this.apps.readNamespacedStatefulSet({ name: ref.name, namespace: ref.namespace });
        return { kind: 'StatefulSet', apiVersion: 'apps/v1', ...o };
      }
      if (ref.kind === 'DaemonSet') {
        const o = await this.apps.readNamespacedDaemonSet({ name: ref.name, namespace: ref.namespace });
        return { kind: 'DaemonSet', apiVersion: 'apps/v1', ...o };
      }
      const c = CUSTOM[ref.kind]!; // every other ReadableKind is in CUSTOM
      const o = (await this.custom.getNamespacedCustomObject({
        ...c,
        namespace: ref.namespace,
        name: ref.name,
      })) as Obj;
      return { kind: ref.kind, apiVersion: `${c.group}/${c.version}`, ...o };
    } catch (err) {
      if (isNotFound(err))
        throw new NotFoundError(`${ref.kind} ${ref.namespace}/${ref.name} not found in ${this.cluster}`);
      throw new UpstreamError(
        'kubernetes',
        `${this.cluster}: cannot read ${ref.kind} ${ref.namespace}/${ref.name}: ${describeKubeError(err)}`,
      );
    }
  }

  /**
   * Ask the applier to look at its source now, right after a Git write: Argo CD's
   * `argocd.argoproj.io/refresh: normal`, Flux's `reconcile.fluxcd.io/requestedAt: <now>`.
   */
  async requestReconcile(ref: ObjectRef): Promise<void> {
    const c = CUSTOM[ref.kind];
    if (!c || (ref.kind !== 'Application' && ref.kind !== 'Kustomization' && ref.kind !== 'HelmRelease')) return;
    const annotations =
      ref.kind === 'Application'
        ? { 'argocd.argoproj.io/refresh': 'normal' }
        : { 'reconcile.fluxcd.io/requestedAt': this.now().toISOString() };
    try {
      await this.custom.patchNamespacedCustomObject(
        { ...c, namespace: ref.namespace, name: ref.name, body: { metadata: { annotations } } },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      );
    } catch (err) {
      if (isNotFound(err))
        throw new NotFoundError(`${ref.kind} ${ref.namespace}/${ref.name} not found in ${this.cluster}`);
      throw new UpstreamError(
        'kubernetes',
        `${this.cluster}: cannot annotate ${ref.kind} ${ref.namespace}/${ref.name}: ${describeKubeError(err)}`,
      );
    }
  }
}
