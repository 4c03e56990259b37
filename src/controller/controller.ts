/**
 * The controller: the GitOps half of Conveyor. Every replica serves the GitHub webhook route;
 * only the leader watches the clusters (informers, never a timer on the cluster), polls the
 * repositories as a safety net, reports live-state transitions and judges operations in
 * `verifying`. Losing leadership stops all of that at once.
 */
import { existsSync } from 'node:fs';
import { hostname } from 'node:os';
import type { KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { type BranchPoll, GitHubHost } from '../adapters/github.js';
import { PlainGitHost } from '../adapters/git-plain.js';
import type { KubeClusterWatch } from '../adapters/kube.js';
import type { Secrets } from '../config/secrets.js';
import { confirmFresh, readEnvStates, syncHost } from '../core/env-state.js';
import { isConveyorError } from '../core/errors.js';
import type { Operation } from '../core/operation.js';
import type { Runtime } from '../core/runtime.js';
import { mountGitHubWebhooks } from '../server/github-webhooks.js';
import type { HttpServer } from '../server/http-server.js';
import { announceDevVersion, developmentEnv } from './dev-announcer.js';
import { buildLeadership, type Leadership } from './leadership-choice.js';
import { LiveReconciler } from './live-reconciler.js';
import { reportTransition } from './transition-report.js';
import { lsRemoteSource, type PollSource, RepoPoller } from './repo-poller.js';
import { Verifier } from './verification.js';

export interface ControllerInput {
  runtime: Runtime;
  http: HttpServer;
  secrets: Secrets;
  log: Logger;
  /** Unique per replica (pod name); default host:pid. */
  identity?: string;
  /** Cluster name → KubeConfig; default: built from `kubernetes.clusters`. */
  kubeConfigs?: Record<string, KubeConfig>;
  leadership?: Leadership;
  /** How often the store is asked for operations in `verifying` (default 5000). */
  verifyCheckMs?: number;
}

export interface RunningController {
  stop(): Promise<void>;
  isLeader(): boolean;
  /** Poll every repository now (tests, and `conveyor` admin tools). */
  pollNow(): Promise<void>;
}

/** The Kubernetes client (a second of start-up to load) only when clusters are configured. */
async function buildKubeConfigs(runtime: Runtime, log: Logger): Promise<Record<string, KubeConfig>> {
  const out: Record<string, KubeConfig> = {};
  const clusters = Object.entries(runtime.config.kubernetes?.clusters ?? {});
  if (!clusters.length) return out;
  const { kubeConfigFor } = await import('../adapters/kube.js');
  for (const [name, c] of clusters) {
    try {
      out[name] = kubeConfigFor({ server: c.server, context: c.context, kubeconfigPath: c.kubeconfig, inCluster: c.inCluster });
    } catch (err) {
      log.error({ cluster: name, err: isConveyorError(err) ? err.message : 'cannot load' }, 'cluster not watched');
    }
  }
  return out;
}

function pollSourceFor(app: string, host: unknown): PollSource | null {
  if (host instanceof GitHubHost) return { app, poll: (etag): Promise<BranchPoll> => host.pollBranches(etag) };
  if (host instanceof PlainGitHost) {
    return lsRemoteSource(app, async () => {
      if (!existsSync(host.mirror.dir)) await host.mirror.sync(); // ls-remote runs in the mirror
      return host.mirror.raw(['ls-remote', '--heads', 'origin']);
    });
  }
  return null;
}

export async function startController(input: ControllerInput): Promise<RunningController> {
  const { runtime, log } = input;
  const kubeConfigs = input.kubeConfigs ?? (await buildKubeConfigs(runtime, log));
  let verifier: Verifier | null = null;
  const reconciler = new LiveReconciler(runtime, {
    leading: () => leadership.isLeader(),
    async afterReconcile(target, live, changed, previous) {
      const verifying = await runtime.store.operations({ app: target.app, env: target.env, states: ['verifying'], limit: 10 });
      // While an operation verifies, its verdict is the one message; the steps are stored only.
      if (verifying.length) return verifier?.evaluate(target, live, verifying);
      if (changed) await reportTransition(runtime, target, live, previous);
    },
  });
  const targets = reconciler.targets.filter((t) => kubeConfigs[t.cluster]);
  const watched = (op: Operation) => targets.some((t) => t.app === op.app && t.env === op.env);

  runtime.engine.needsVerification = (op) => {
    const need = (op.kind === 'promote' || op.kind === 'rollback') && watched(op);
    // The engine moves the operation to `verifying` right after asking: look once it has.
    if (need && leadership.isLeader()) setTimeout(() => void verifier?.check(op.id), 0);
    return need;
  };

  /** Git moved for an app: refresh the mirror and what the clusters should run. */
  const onRepoChanged = async (appName: string, heads: Record<string, string>) => {
    const app = runtime.config.apps.find((a) => a.name === appName);
    const host = runtime.git.get(appName);
    if (!app || !host) return;
    const dev = developmentEnv(runtime);
    const before = await host.branchHead(dev.branch);
    const moved = await Promise.all(Object.entries(heads).map(async ([b, sha]) => (await host.branchHead(b)) !== sha));
    if (!moved.some(Boolean)) return;
    await syncHost(host, 0);
    const after = heads[dev.branch];
    if (after && before && after !== before) await announceDevVersion(runtime, app, after);
    if (leadership.isLeader()) {
      await reconciler.refreshDesired(app.name);
      for (const t of targets.filter((x) => x.app === app.name)) await reconciler.reconcile(t.app, t.env);
    }
  };

  const sources = runtime.config.apps.map((a) => pollSourceFor(a.name, runtime.git.get(a.name))).filter((s): s is PollSource => !!s);
  const poller = new RepoPoller({
    sources,
    intervalMs: runtime.config.git.pollInterval,
    onHeads: onRepoChanged,
    // `list` and `diff` in chat trust a mirror the poller vouches for instead of fetching it
    // and the refs `list` reads are read here, once per change, so its first answer is warm
    onPolled: async (app, nextWithinMs) => {
      const host = runtime.git.get(app);
      if (!host) return;
      confirmFresh(host, nextWithinMs);
      await readEnvStates(host, runtime.config.environments, runtime.config.git.tagFormat).catch(() => undefined);
    },
    log,
  });

  const appOfRepo = (fullName: string) => runtime.config.apps.find((a) => a.repo.toLowerCase() === fullName.toLowerCase());
  mountGitHubWebhooks(input.http, {
    secret: input.secrets.GITHUB_WEBHOOK_SECRET,
    store: runtime.store,
    log,
    sink: {
      async push(e) {
        const app = appOfRepo(e.repo);
        if (!app || !e.branch || e.deleted) return;
        const host = runtime.git.get(app.name);
        if (host) await syncHost(host, 0);
        if (e.branch === developmentEnv(runtime).branch) {
          await announceDevVersion(runtime, app, e.after, { subject: e.subject, author: e.author, pusher: e.pusher });
        }
        if (leadership.isLeader()) {
          await reconciler.refreshDesired(app.name);
          for (const t of targets.filter((x) => x.app === app.name)) await reconciler.reconcile(t.app, t.env);
        }
      },
      async repoActivity(e) {
        const app = appOfRepo(e.repo);
        if (!app) return;
        await runtime.git.get(app.name)?.sync();
        const open = await runtime.store.operations({ app: app.name, states: ['awaiting-approval', 'approved', 'applying'], limit: 50 });
        for (const op of open) await runtime.engine.advance(op.id);
      },
    },
  });

  // ------------------------------------------------------------ leader duties
  let watches: KubeClusterWatch[] = [];
  let transitions: Promise<void> = Promise.resolve();
  const lead = async () => {
    await reconciler.loadKnown();
    for (const app of new Set(targets.map((t) => t.app))) {
      const host = runtime.git.get(app);
      await host?.sync().catch((err) => log.warn({ app, err: (err as Error).message }, 'cannot fetch; using the mirror as it is'));
      await reconciler.refreshDesired(app);
    }
    verifier = new Verifier(runtime, reconciler, { checkEveryMs: input.verifyCheckMs });
    verifier.start();
    const clusters = [...new Set(targets.map((t) => t.cluster))];
    if (clusters.length) {
      const { KubeClusterWatch } = await import('../adapters/kube.js');
      for (const cluster of clusters) {
        const watch = new KubeClusterWatch({ kubeConfigs: { [cluster]: kubeConfigs[cluster]! }, log });
        watches.push(watch);
        await watch.start(reconciler.workloadTargets(cluster), (s) => reconciler.onStatus(s));
      }
    }
    poller.start();
    log.info({ clusters: watches.length, repos: sources.length }, 'controller leading: watching clusters and repositories');
  };
  const follow = async () => {
    await poller.stop();
    verifier?.stop();
    verifier = null;
    const stopping = watches;
    watches = [];
    await Promise.all(stopping.map((w) => w.stop()));
    reconciler.reset();
  };
  const leadership = input.leadership ?? (await buildLeadership(runtime, input.secrets, input.identity ?? input.secrets.POD_NAME ?? `${hostname()}:${process.pid}`, log));
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
