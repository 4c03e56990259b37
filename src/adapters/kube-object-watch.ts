/**
 * Informers (list + watch) on the objects of src/controller/object-watch.ts: Argo CD
 * Applications, Flux Kustomizations/HelmReleases, Argo Rollouts (CustomObjectsApi), StatefulSets
 * and DaemonSets (AppsV1Api), one informer per (kind, namespace), filtered to the names asked
 * for. Like KubeClusterWatch, an informer that fails is restarted with a capped exponential
 * backoff; a watched object the list does not hold is reported once as null.
 */
import {
  AppsV1Api,
  CustomObjectsApi,
  type Informer,
  type KubeConfig,
  type KubernetesListObject,
  type KubernetesObject,
  makeInformer,
  type ObjectCache,
} from '@kubernetes/client-node';
import type { KubeObject, ObjectRef, ObjectWatch, WatchedKind } from '../controller/object-watch.js';
import { describeKubeError, type KubeLog } from './kube.js';

const RESOURCES: Record<WatchedKind, { group: string; version: string; plural: string }> = {
  Application: { group: 'argoproj.io', version: 'v1alpha1', plural: 'applications' },
  Rollout: { group: 'argoproj.io', version: 'v1alpha1', plural: 'rollouts' },
  Kustomization: { group: 'kustomize.toolkit.fluxcd.io', version: 'v1', plural: 'kustomizations' },
  HelmRelease: { group: 'helm.toolkit.fluxcd.io', version: 'v2', plural: 'helmreleases' },
  StatefulSet: { group: 'apps', version: 'v1', plural: 'statefulsets' },
  DaemonSet: { group: 'apps', version: 'v1', plural: 'daemonsets' },
};

interface Running {
  kind: WatchedKind;
  namespace: string;
  informer: Informer<KubernetesObject> & ObjectCache<KubernetesObject>;
  delayMs: number;
  timer?: NodeJS.Timeout;
  launching?: Promise<void>;
}

export interface KubeObjectWatchOptions {
  cluster: string;
  kubeConfig: KubeConfig;
  log?: KubeLog;
  restartDelayMs?: number;
  maxRestartDelayMs?: number;
}

export class KubeObjectWatch implements ObjectWatch {
  private running: Running[] = [];
  private stopped = false;

  constructor(private readonly options: KubeObjectWatchOptions) {}

  async start(refs: ObjectRef[], onChange: (ref: ObjectRef, obj: KubeObject | null) => void): Promise<void> {
    if (this.running.length) throw new Error('KubeObjectWatch already started');
    this.stopped = false;
    const groups = new Map<string, ObjectRef[]>();
    for (const r of refs.filter((x) => x.cluster === this.options.cluster)) {
      const key = `${r.kind}/${r.namespace}`;
      groups.set(key, [...(groups.get(key) ?? []), r]);
    }
    for (const group of groups.values()) this.running.push(this.makeRunning(group, onChange));
    await Promise.all(this.running.map((r) => this.launch(r)));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    const running = this.running;
    this.running = [];
    for (const r of running) clearTimeout(r.timer);
    await Promise.all(running.map((r) => r.informer.stop()));
    await Promise.race([
      Promise.all(running.map((r) => r.launching)),
      new Promise((resolve) => setTimeout(resolve, 5000).unref()),
    ]);
  }

  private makeRunning(refs: ObjectRef[], onChange: (ref: ObjectRef, obj: KubeObject | null) => void): Running {
    const { kind, namespace } = refs[0]!; // groups are never empty
    const res = RESOURCES[kind];
    const kc = this.options.kubeConfig;
    const custom = kc.makeApiClient(CustomObjectsApi);
    const apps = kc.makeApiClient(AppsV1Api);
    const byName = new Map(refs.map((r) => [r.name, r]));
    const gone = new Set<string>();
    const emit = (obj: KubernetesObject | undefined, name: string, exists: boolean) => {
      const ref = byName.get(name);
      if (this.stopped || !ref) return;
      if (!exists && gone.has(name)) return;
      if (exists) gone.delete(name);
      else gone.add(name);
      onChange(ref, exists && obj ? { kind, apiVersion: `${res.group}/${res.version}`, ...obj } : null);
    };
    const list = async (): Promise<KubernetesListObject<KubernetesObject>> => {
      let result: KubernetesListObject<KubernetesObject>;
      try {
        result = (
          kind === 'StatefulSet'
            ? await apps.listNamespacedStatefulSet({ namespace })
            : kind === 'DaemonSet'
              ? await apps.listNamespacedDaemonSet({ namespace })
              : await custom.listNamespacedCustomObject({ ...res, namespace })
        ) as KubernetesListObject<KubernetesObject>;
      } catch (err) {
        // The kind is not served here (its CRD is not installed): what was asked for is not there.
        if ((err as { code?: number })?.code === 404) for (const name of byName.keys()) emit(undefined, name, false);
        throw err;
      }
      running.delayMs = this.options.restartDelayMs ?? 1000;
      const present = new Set(result.items.map((o) => o.metadata?.name));
      for (const name of byName.keys()) if (!present.has(name)) emit(undefined, name, false);
      return result;
    };
    const path =
      res.group === 'apps'
        ? `/apis/apps/v1/namespaces/${encodeURIComponent(namespace)}/${res.plural}`
        : `/apis/${res.group}/${res.version}/namespaces/${encodeURIComponent(namespace)}/${res.plural}`;
    const informer = makeInformer<KubernetesObject>(kc, path, list);
    const running: Running = { kind, namespace, informer, delayMs: this.options.restartDelayMs ?? 1000 };
    informer.on('add', (o) => emit(o, o.metadata?.name ?? '', true));
    informer.on('update', (o) => emit(o, o.metadata?.name ?? '', true));
    informer.on('delete', (o) => emit(o, o.metadata?.name ?? '', false));
    informer.on('error', (err) => this.restartLater(running, err));
    return running;
  }

  private async launch(r: Running): Promise<void> {
    if (this.stopped) return;
    r.launching = r.informer.start().then(async () => {
      if (this.stopped) await r.informer.stop();
    });
    await r.launching;
  }

  private restartLater(r: Running, err: unknown): void {
    if (this.stopped || !this.running.includes(r)) return;
    const delay = r.delayMs;
    r.delayMs = Math.min(r.delayMs * 2, this.options.maxRestartDelayMs ?? 30_000);
    this.options.log?.warn(
      {
        cluster: this.options.cluster,
        kind: r.kind,
        namespace: r.namespace,
        err: describeKubeError(err),
        retryInMs: delay,
      },
      'kubernetes watch failed; restarting',
    );
    clearTimeout(r.timer);
    r.timer = setTimeout(() => {
      r.timer = undefined;
      if (!this.stopped) void this.launch(r).catch((e) => this.restartLater(r, e));
    }, delay);
  }
}
