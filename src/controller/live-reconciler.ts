/**
 * Turns what the clusters report into the live state of each app × environment: the desired
 * images come from the manifests at the environment branch head in the mirror, the live side
 * from the workload informers. The state is stored with `setLiveState`, which only writes on a
 * real change, and only such a change is announced, so a repeat, a re-list after 410 Gone or
 * a second replica never reports a transition twice.
 */
import { isConveyorError } from '../core/errors.js';
import type { WorkloadStatus, WorkloadTarget } from '../core/ports.js';
import { findApp, findEnv, type Runtime } from '../core/runtime.js';
import { deriveLiveState, imagesFromManifests, type LiveStateName } from './live-state.js';

export const DEFAULT_MANIFESTS = 'k8s/deployment.yaml';

export interface AppTarget {
  app: string;
  env: string;
  cluster: string;
  namespace: string;
  workloads: string[];
  manifests: string;
}

export interface AggregateLive {
  state: LiveStateName;
  detail: string;
  /** Every workload runs the images Git asks for (true when Git names none). */
  matchesDesired: boolean;
  cluster: string;
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
      .filter((t) => !cluster || t.cluster === cluster)
      .flatMap((t) => t.workloads.map((name) => ({ cluster: t.cluster, namespace: t.namespace, name })));
  }

  /** Load what the store says now (a new leader starts from there, not from nothing). */
  async loadKnown(): Promise<void> {
    this.known.clear();
    for (const row of await this.runtime.store.liveStates()) this.known.set(appEnvKey(row.app, row.env), row.state);
  }

  reset(): void {
    this.statuses.clear();
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
        const text = head ? await host.readFile(head, t.manifests) : null;
        for (const w of t.workloads) {
          const found = text ? imagesFromManifests(text, w) : [];
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
      const status = this.statuses.get(workloadKey(t.cluster, t.namespace, w));
      const want = desired?.get(w);
      return { w, status, want, live: deriveLiveState(status, want) };
    });
    if (parts.some((p) => !p.status)) return null;
    const worst = SEVERITY.find((s) => parts.some((p) => p.live.state === s)) ?? 'unknown';
    const shown = parts.filter((p) => p.live.state === worst);
    const detail = shown.map((p) => (t.workloads.length > 1 ? `${p.w}: ${p.live.detail}` : p.live.detail)).join('; ');
    const matchesDesired = parts.every(
      (p) => !p.want || (p.status?.exists === true && sameImages(p.status.images, p.want)),
    );
    return { state: worst, detail, matchesDesired, cluster: t.cluster };
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

/** "api in qa (cluster kind-qa)": every message names the cluster. */
export function whereText(t: Pick<AppTarget, 'app' | 'env' | 'cluster' | 'namespace'>): string {
  return `${t.app} in ${t.env} (cluster ${t.cluster}, namespace ${t.namespace})`;
}
