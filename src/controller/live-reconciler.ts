/**
 * Turns what the clusters report into the live state of each app × environment: the desired
 * images come from the manifests at the environment branch head in the mirror, the live side
 * from the workload informers. The state is stored with `setLiveState`, which only writes on a
 * real change, and only such a change is announced, so a repeat, a re-list after 410 Gone or
 * a second replica never reports a transition twice.
 */
import type { ApplierConfig, WorkloadKindName } from '../config/applier-schema.js';
import { isConveyorError } from '../core/errors.js';
import type { WorkloadStatus, WorkloadTarget } from '../core/ports.js';
import { findApp, findEnv, type Runtime } from '../core/runtime.js';
import { type ApplierState, applierState, workloadState } from './applier-state.js';
import { deriveLiveState, imagesFromManifests, type LiveState, type LiveStateName } from './live-state.js';
import { applierRef, type KubeObject, type ObjectRef, refKey, workloadRef } from './object-watch.js';

export const DEFAULT_MANIFESTS = 'k8s/deployment.yaml';

export interface AppTarget {
  app: string;
  env: string;
  cluster: string;
  namespace: string;
  workloads: string[];
  manifests: string;
  /** The kind of the workloads (Deployment unless configured). */
  kind: WorkloadKindName;
  /** The GitOps applier of this environment, when configured. */
  applier?: ApplierConfig;
}

export interface AggregateLive {
  state: LiveStateName;
  detail: string;
  /** Every workload runs the images Git asks for (true when Git names none). */
  matchesDesired: boolean;
  cluster: string;
  /** The workloads' own state and detail (without the applier's). */
  rollout: LiveStateName;
  rolloutDetail: string;
  /** The applier's object as last seen (null: not found), when the target has one. */
  applierObject?: KubeObject | null;
  /** What the applier says against what Git asks for now, when the target has one. */
  applier?: ApplierState;
}

/** Worst first: the state of an app × env is the worst of its workloads. */
const SEVERITY: LiveStateName[] = ['failed', 'progressing', 'drifted', 'unknown', 'healthy'];

export function targetsOf(runtime: Runtime): AppTarget[] {
  return runtime.config.apps.flatMap((app) =>
    Object.entries(app.targets).map(([env, t]) => ({
      app: app.name,
      env,
      cluster: t.cluster,
      namespace: t.namespace,
      workloads: t.workloads,
      manifests: t.manifests ?? DEFAULT_MANIFESTS,
      kind: t.kind ?? 'Deployment',
      ...(t.applier ? { applier: t.applier } : {}),
    })),
  );
}

export const appEnvKey = (app: string, env: string) => `${app}\u0000${env}`;
const workloadKey = (cluster: string, namespace: string, name: string) => `${cluster}\u0000${namespace}\u0000${name}`;

export function sameImages(a: string[], b: string[]): boolean {
  const [x, y] = [[...a].sort(), [...b].sort()];
  return x.length === y.length && x.every((img, i) => img === y[i]);
}

export interface ReconcilerHooks {
  /** False once this replica stopped leading: nothing is stored or said from then on. */
  leading(): boolean;
  /** After each reconcile of an app × env, with whether its stored state changed. */
  afterReconcile(target: AppTarget, live: AggregateLive, changed: boolean, previous: string | undefined): Promise<void>;
}

export class LiveReconciler {
  private readonly statuses = new Map<string, WorkloadStatus>();
  /** appEnvKey → workload → images Git asks for (undefined: unknown). */
  private readonly desired = new Map<string, Map<string, string[] | undefined>>();
  /** Stored state per appEnvKey, as far as this replica knows. */
  private readonly known = new Map<string, string>();
  private readonly chains = new Map<string, Promise<void>>();
  /** Appliers and non-Deployment workloads by refKey (null: not found). */
  private readonly objects = new Map<string, KubeObject | null>();
  /** appEnvKey → the commit Git asks the applier to sync (branch strategy: the branch head). */
  private readonly desiredRevision = new Map<string, string | undefined>();
  readonly targets: AppTarget[];

  constructor(
    private readonly runtime: Runtime,
    private readonly hooks: ReconcilerHooks,
    targets?: AppTarget[],
  ) {
    this.targets = targets ?? targetsOf(runtime);
  }

  workloadTargets(cluster?: string): WorkloadTarget[] {
    return this.targets
      .filter((t) => (!cluster || t.cluster === cluster) && t.kind === 'Deployment')
      .flatMap((t) => t.workloads.map((name) => ({ cluster: t.cluster, namespace: t.namespace, name })));
  }

  /** Load what the store says now (a new leader starts from there, not from nothing). */
  async loadKnown(): Promise<void> {
    this.known.clear();
    for (const row of await this.runtime.store.liveStates()) this.known.set(appEnvKey(row.app, row.env), row.state);
  }

  /** The appliers and the non-Deployment workloads to watch (src/controller/object-watch.ts). */
  objectRefs(cluster?: string): ObjectRef[] {
    const refs = new Map<string, ObjectRef>();
    for (const t of this.targets.filter((x) => !cluster || x.cluster === cluster)) {
      for (const r of refsOf(t)) refs.set(refKey(r), r);
    }
    return [...refs.values()];
  }

  /** An object watch saw an applier or a workload: reconcile every app × env that uses it. */
  onObject(ref: ObjectRef, obj: KubeObject | null): void {
    const key = refKey(ref);
    this.objects.set(key, obj);
    for (const t of this.targets) {
      if (refsOf(t).some((r) => refKey(r) === key)) void this.reconcile(t.app, t.env);
    }
  }

  reset(): void {
    this.statuses.clear();
    this.objects.clear();
  }

  /** Re-read the desired images of an app's targets from the mirror (no fetch here). */
  async refreshDesired(appName: string): Promise<void> {
    const app = findApp(this.runtime.config, appName);
    const host = this.runtime.git.get(appName);
    if (!app || !host) return;
    for (const t of this.targets.filter((x) => x.app === appName)) {
      const env = findEnv(this.runtime.config, t.env);
      const images = new Map<string, string[] | undefined>();
      try {
        const head = env ? await host.branchHead(env.branch) : null;
        // The applier of a branch app syncs the environment branch: its head is the revision to show.
        if (!app.strategy || app.strategy === 'branch')
          this.desiredRevision.set(appEnvKey(t.app, t.env), head ?? undefined);
        const text = head ? await host.readFile(head, t.manifests) : null;
        for (const w of t.workloads) {
          const found = text ? imagesFromManifests(text, w, t.kind) : [];
          images.set(w, found.length ? found : undefined);
        }
      } catch (err) {
        this.runtime.log.warn(
          { app: t.app, env: t.env, err: isConveyorError(err) ? err.message : String(err) },
          'cannot read the desired images',
        );
      }
      this.desired.set(appEnvKey(t.app, t.env), images);
    }
  }

  /** An informer saw a workload: reconcile every app × env that contains it. */
  onStatus(status: WorkloadStatus): void {
    this.statuses.set(workloadKey(status.cluster, status.namespace, status.name), status);
    for (const t of this.targets) {
      if (t.cluster === status.cluster && t.namespace === status.namespace && t.workloads.includes(status.name)) {
        void this.reconcile(t.app, t.env);
      }
    }
  }

  /** The live state from what is known now; null until every workload has reported. */
  liveOf(appName: string, envName: string): AggregateLive | null {
    const t = this.targets.find((x) => x.app === appName && x.env === envName);
    if (!t) return null;
    const desired = this.desired.get(appEnvKey(t.app, t.env));
    const parts = t.workloads.map((w) => {
      const want = desired?.get(w);
      const ref = workloadRef(t.cluster, t.kind, t.namespace, w);
      if (ref) {
        const obj = this.objects.get(refKey(ref));
        return { w, seen: obj !== undefined, want, ...otherWorkload(ref, obj, want) };
      }
      const status = this.statuses.get(workloadKey(t.cluster, t.namespace, w));
      const images = status?.exists ? status.images : null;
      return { w, seen: status !== undefined, want, images, live: deriveLiveState(status, want) };
    });
    if (parts.some((p) => !p.seen)) return null;
    const rollout = SEVERITY.find((s) => parts.some((p) => p.live.state === s)) ?? 'unknown';
    const shown = parts.filter((p) => p.live.state === rollout);
    let detail = shown.map((p) => (t.workloads.length > 1 ? `${p.w}: ${p.live.detail}` : p.live.detail)).join('; ');
    const matchesDesired = parts.every((p) => !p.want || (p.images !== null && sameImages(p.images, p.want)));
    const rolloutDetail = detail;
    if (!t.applier) return { state: rollout, detail, matchesDesired, cluster: t.cluster, rollout, rolloutDetail };
    const ref = applierRef(t.cluster, t.applier);
    const applierObject = this.objects.get(refKey(ref));
    if (applierObject === undefined) return null;
    const applier: ApplierState = applierObject
      ? applierState(applierObject, this.desiredRevision.get(appEnvKey(t.app, t.env)))
      : {
          state: 'unknown',
          detail: `${ref.kind} ${ref.namespace}/${ref.name} not found`,
          revision: null,
          deployed: false,
        };
    const state = SEVERITY.find((s) => s === rollout || s === applier.state) ?? 'unknown';
    detail = `${applier.detail}; ${detail}`;
    return { state, detail, matchesDesired, cluster: t.cluster, rollout, rolloutDetail, applierObject, applier };
  }

  /** Reconcile one app × env, one at a time per key. */
  reconcile(appName: string, envName: string): Promise<void> {
    const key = appEnvKey(appName, envName);
    const run = (this.chains.get(key) ?? Promise.resolve()).then(() => this.reconcileNow(appName, envName));
    const chained = run.catch((err) => {
      this.runtime.log.warn({ app: appName, env: envName, err: (err as Error).message }, 'reconcile failed');
    });
    this.chains.set(key, chained);
    return chained;
  }

  private async reconcileNow(appName: string, envName: string): Promise<void> {
    const t = this.targets.find((x) => x.app === appName && x.env === envName);
    const live = this.liveOf(appName, envName);
    if (!t || !live || !this.hooks.leading()) return;
    const key = appEnvKey(appName, envName);
    const previous = this.known.get(key);
    const detail = `${live.detail} (cluster ${t.cluster}, ${t.namespace})`;
    const changed = await this.runtime.store.setLiveState(appName, envName, live.state, detail);
    if (changed) this.known.set(key, live.state);
    await this.hooks.afterReconcile(t, live, changed, previous);
  }
}

function refsOf(t: AppTarget): ObjectRef[] {
  const refs = t.workloads.map((w) => workloadRef(t.cluster, t.kind, t.namespace, w)).filter((r) => r !== null);
  if (t.applier) refs.push(applierRef(t.cluster, t.applier));
  return refs;
}

/** A StatefulSet, DaemonSet or Rollout: its rollout, and drift from the images Git asks for. */
function otherWorkload(
  ref: ObjectRef,
  obj: KubeObject | null | undefined,
  want: string[] | undefined,
): { images: string[] | null; live: LiveState } {
  if (!obj)
    return { images: null, live: { state: 'unknown', detail: `${ref.kind} ${ref.namespace}/${ref.name} not found` } };
  const podSpec = obj.spec?.template?.spec;
  const images = [...(podSpec?.initContainers ?? []), ...(podSpec?.containers ?? [])]
    .map((c: { image?: unknown }) => c?.image)
    .filter((i: unknown): i is string => typeof i === 'string');
  const live = workloadState(obj);
  if (live.state === 'healthy' && want?.length && !sameImages(images, want)) {
    return {
      images,
      live: { state: 'drifted', detail: `running ${images.join(', ') || 'no image'}, Git wants ${want.join(', ')}` },
    };
  }
  return { images, live };
}

/** "api in qa (cluster kind-qa)": every message names the cluster. */
export function whereText(t: Pick<AppTarget, 'app' | 'env' | 'cluster' | 'namespace'>): string {
  return `${t.app} in ${t.env} (cluster ${t.cluster}, namespace ${t.namespace})`;
}
