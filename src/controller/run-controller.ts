/**
 * The controller: the GitOps half of Conveyor. Every replica takes the repositories' events;
 * only the leader watches the clusters (informers, never a timer on the cluster), polls the
 * repositories as a safety net, reports live-state transitions and judges operations in
 * `verifying`. Losing leadership stops all of that at once.
 *
 * Everything it talks to comes in through `ControllerDeps` (built by src/compose/controller.ts):
 * leadership, the cluster watches, the poll sources and the route that delivers repository events.
 */
import type { AppConfig } from '../config/schema.js';
import { confirmFresh, readEnvStates, syncHost } from '../core/env-state.js';
import type { Operation } from '../core/operation.js';
import type { RuntimeWithEngine } from '../core/operation-engine.js';
import type { ClusterWatch, Leadership, Log } from '../core/ports.js';
import type { JobsFor } from '../verify/jobs.js';
import { announceDevVersion, developmentEnv } from './dev-announcer.js';
import { LiveReconciler } from './live-reconciler.js';
import { applierRef, type ObjectWatch, type RequestReconcile } from './object-watch.js';
import { type PollSource, RepoPoller } from './repo-poller.js';
import { beginSoak, SoakWatcher } from './soak-watch.js';
import { reportTransition } from './transition-report.js';
import { Verifier } from './verification.js';

/** A push to a repository, as a webhook reports it. */
export interface RepoPush {
  /** "owner/repo" */
  repo: string;
  /** Branch name, or null for a tag push. */
  branch: string | null;
  after: string;
  deleted: boolean;
  subject?: string;
  author?: string;
  pusher?: string;
}

/** What a host's webhook route hands the controller. */
export interface RepoEvents {
  push(event: RepoPush): Promise<void>;
  /** Pull requests, reviews and checks: something an operation may be waiting for moved. */
  repoActivity(event: { repo: string }): Promise<void>;
}

export interface ControllerDeps {
  runtime: RuntimeWithEngine;
  log: Log;
  leadership: Leadership;
  /** Clusters the controller can watch; targets on other clusters are not watched. */
  clusters: readonly string[];
  /** A watch of one cluster (started by the leader, stopped when it follows). */
  watchCluster(cluster: string): Promise<ClusterWatch>;
  /** The repositories the poller asks (the safety net under the webhooks). */
  pollSources: PollSource[];
  /** Put the repository-event route in place (every replica serves it). */
  mountEvents?(events: RepoEvents): void;
  /** How often the store is asked for operations in `verifying` (default 5000). */
  verifyCheckMs?: number;
  /** The Jobs of a cluster, for `job` verification checks (src/verify/). */
  jobsFor?: JobsFor;
  /** A watch of the appliers and non-Deployment workloads of one cluster (src/controller/object-watch.ts). */
  watchObjects?(cluster: string): Promise<ObjectWatch>;
  /** Ask an applier to act now, after a Git write to an environment whose applier has `refresh: true`. */
  requestReconcile?: RequestReconcile;
}

export interface RunningController {
  stop(): Promise<void>;
  isLeader(): boolean;
  /** Poll every repository now (tests, and `conveyor` admin tools). */
  pollNow(): Promise<void>;
}

export async function runController(deps: ControllerDeps): Promise<RunningController> {
  const { runtime, log, leadership } = deps;
  let verifier: Verifier | null = null;
  let soaks: SoakWatcher | null = null;
  const reconciler = new LiveReconciler(runtime, {
    leading: () => leadership.isLeader(),
    async afterReconcile(target, live, changed, previous) {
      const verifying = await runtime.store.operations({
        app: target.app,
        env: target.env,
        states: ['verifying'],
        limit: 10,
      });
      // While an operation verifies, its verdict is the one message; the steps are stored only.
      if (verifying.length) return verifier?.evaluate(target, live, verifying);
      if (changed) await reportTransition(runtime, target, live, previous);
    },
  });
  const targets = reconciler.targets.filter((t) => deps.clusters.includes(t.cluster));
  const watched = (op: Operation) => targets.some((t) => t.app === op.app && t.env === op.env);

  runtime.engine.verifyWith((op) => {
    const need = (op.kind === 'promote' || op.kind === 'rollback') && watched(op);
    // The replica that wrote asks the applier to look now (leading or not).
    const t = need ? targets.find((x) => x.app === op.app && x.env === op.env) : undefined;
    if (t?.applier?.refresh && deps.requestReconcile) {
      const ref = applierRef(t.cluster, t.applier);
      void deps.requestReconcile(ref).catch((err: unknown) =>
        log.warn(
          {
            app: op.app,
            env: op.env,
            applier: `${ref.kind} ${ref.namespace}/${ref.name}`,
            err: (err as Error).message,
          },
          'could not ask the applier to refresh; it syncs at its own interval',
        ),
      );
    }
    // The engine moves the operation to `verifying` right after asking: look once it has.
    if (need && leadership.isLeader()) setTimeout(() => void verifier?.check(op.id), 0);
    return need;
  });

  /**
   * The one repo-changed handler (webhook pushes and the poller): refresh the mirror, announce a
   * new development version when there is one, and (leading) what the clusters should run.
   */
  const repoChanged = async (
    app: AppConfig,
    devHead?: { sha: string; details?: { subject?: string; author?: string; pusher?: string } },
  ) => {
    const host = runtime.git.get(app.name);
    if (host) await syncHost(host, 0, { fetch: true }); // background work: the mirror itself, no API read
    if (devHead) await announceDevVersion(runtime, app, devHead.sha, devHead.details);
    if (leadership.isLeader()) {
      await reconciler.refreshDesired(app.name);
      for (const t of targets.filter((x) => x.app === app.name)) await reconciler.reconcile(t.app, t.env);
    }
  };

  const appsByName = new Map(runtime.config.apps.map((a) => [a.name, a]));
  const dev = developmentEnv(runtime);
  /** The poller saw heads: only a head that differs from the mirror's is a change. */
  const onHeads = async (appName: string, heads: Record<string, string>) => {
    const app = appsByName.get(appName);
    const host = runtime.git.get(appName);
    if (!app || !host) return;
    // One read of the mirror's refs for the environment branches: the read `list` makes, kept
    // in memory until the refs change, so the onPolled read after it costs nothing.
    const states = await readEnvStates(host, runtime.config.environments, runtime.config.git.tagFormat).catch(
      () => null,
    );
    const known = new Map(states?.map((s) => [s.env.branch, s.head]) ?? []);
    const headOf = (b: string) => (known.has(b) ? Promise.resolve(known.get(b) ?? null) : host.branchHead(b));
    const before = await headOf(dev.branch);
    const moved = await Promise.all(Object.entries(heads).map(async ([b, sha]) => (await headOf(b)) !== sha));
    if (!moved.some(Boolean)) return;
    const after = heads[dev.branch];
    await repoChanged(app, after && before && after !== before ? { sha: after } : undefined);
  };

  const poller = new RepoPoller({
    sources: deps.pollSources,
    intervalMs: runtime.config.git.pollInterval,
    // A first poll of a plain remote clones, fetches and asks (each within git.networkTimeout).
    pollTimeoutMs: 3 * runtime.config.git.networkTimeout + 10_000,
    onHeads,
    // `list` and `diff` in chat trust a mirror the poller vouches for instead of fetching it
    // and the refs `list` reads are read here, once per change, so its first answer is warm
    onPolled: async (app, nextWithinMs) => {
      const host = runtime.git.get(app);
      if (!host) return;
      confirmFresh(host, nextWithinMs);
      await readEnvStates(host, runtime.config.environments, runtime.config.git.tagFormat).catch(() => undefined);
    },
    onPass({ polled, ms, waitedMs, overran }) {
      runtime.metrics.repoPollPasses.observe(ms / 1000);
      if (!overran) return;
      runtime.metrics.repoPollOverruns.inc();
      log.warn(
        { repos: polled, ms, waitedMs, intervalMs: runtime.config.git.pollInterval },
        'a repository poll pass took longer than git.pollInterval; the next pass waited for it',
      );
    },
    log,
  });

  const appOfRepo = (fullName: string) =>
    runtime.config.apps.find((a) => a.repo.toLowerCase() === fullName.toLowerCase());
  deps.mountEvents?.({
    async push(e) {
      const app = appOfRepo(e.repo);
      if (!app || !e.branch || e.deleted) return;
      const dev = e.branch === developmentEnv(runtime).branch;
      await repoChanged(
        app,
        dev ? { sha: e.after, details: { subject: e.subject, author: e.author, pusher: e.pusher } } : undefined,
      );
    },
    async repoActivity(e) {
      const app = appOfRepo(e.repo);
      if (!app) return;
      await runtime.git.get(app.name)?.sync({ fetch: true });
      const open = await runtime.store.operations({
        app: app.name,
        states: ['awaiting-approval', 'approved', 'applying'],
        limit: 50,
      });
      for (const op of open) await runtime.engine.advance(op.id);
    },
  });

  // ------------------------------------------------------------ leader duties
  let watches: ClusterWatch[] = [];
  let objectWatches: ObjectWatch[] = [];
  let transitions: Promise<void> = Promise.resolve();
  const lead = async () => {
    await reconciler.loadKnown();
    for (const app of new Set(targets.map((t) => t.app))) {
      const host = runtime.git.get(app);
      await host
        ?.sync({ fetch: true })
        .catch((err) => log.warn({ app, err: (err as Error).message }, 'cannot fetch; using the mirror as it is'));
      await reconciler.refreshDesired(app);
    }
    verifier = new Verifier(runtime, reconciler, {
      checkEveryMs: deps.verifyCheckMs,
      jobsFor: deps.jobsFor,
      afterVerified: (op) => beginSoak(runtime, op),
    });
    verifier.start();
    soaks = new SoakWatcher(
      runtime,
      (app, env) => reconciler.targets.find((t) => t.app === app && t.env === env),
      deps.verifyCheckMs,
    );
    soaks.start();
    for (const cluster of new Set(targets.map((t) => t.cluster))) {
      const watch = await deps.watchCluster(cluster);
      watches.push(watch);
      await watch.start(reconciler.workloadTargets(cluster), (s) => reconciler.onStatus(s));
      const refs = reconciler.objectRefs(cluster);
      if (refs.length && deps.watchObjects) {
        const objects = await deps.watchObjects(cluster);
        objectWatches.push(objects);
        await objects.start(refs, (ref, obj) => reconciler.onObject(ref, obj));
      }
    }
    poller.start();
    log.info(
      { clusters: watches.length, repos: deps.pollSources.length },
      'controller leading: watching clusters and repositories',
    );
  };
  const follow = async () => {
    await poller.stop();
    verifier?.stop();
    verifier = null;
    soaks?.stop();
    soaks = null;
    const stopping = watches;
    watches = [];
    const stoppingObjects = objectWatches;
    objectWatches = [];
    await Promise.all([...stopping.map((w) => w.stop()), ...stoppingObjects.map((w) => w.stop())]);
    reconciler.reset();
  };
  await leadership.start((leader) => {
    runtime.metrics.leader.set(leader ? 1 : 0);
    transitions = transitions
      .then(() => (leader ? lead() : follow()))
      .catch((err) => log.error({ err: (err as Error).message }, 'controller leadership change failed'));
  });

  return {
    isLeader: () => leadership.isLeader(),
    pollNow: () => poller.pollAll(),
    async stop() {
      await leadership.stop();
      await transitions;
      await follow();
    },
  };
}
