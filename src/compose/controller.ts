/**
 * The controller, composed: its cluster clients (KubeConfig per configured cluster, built only
 * when clusters are configured), the cluster watches, the leadership, the Git hosts' poll
 * sources and webhook routes. The controller itself (src/controller/run-controller.ts) sees
 * only ports.
 */

import { hostname } from 'node:os';
import type { KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { Secrets } from '../config/secrets.js';
import { type RunningController, runController } from '../controller/run-controller.js';
import { isConveyorError } from '../core/errors.js';
import type { RuntimeWithEngine } from '../core/operation-engine.js';
import type { Leadership } from '../core/ports.js';
import type { Runtime } from '../core/runtime.js';
import type { IssueCommentHandler } from '../server/github-webhooks.js';
import type { HttpServer } from '../server/http-server.js';
import { mountGitHostWebhooks, pollSourcesOf } from './git-hosts/index.js';
import { buildImageDiscovery } from './image-discovery.js';
import { buildLeadership } from './leadership.js';

export type { RunningController } from '../controller/run-controller.js';

export interface ControllerInput {
  runtime: RuntimeWithEngine;
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
  /** `/conveyor approve|reject` pull request comments (src/compose/issueops.ts). */
  comments?: IssueCommentHandler;
}

/** The Kubernetes client (a second of start-up to load) only when clusters are configured. */
async function buildKubeConfigs(runtime: Runtime, log: Logger): Promise<Record<string, KubeConfig>> {
  const out: Record<string, KubeConfig> = {};
  const clusters = Object.entries(runtime.config.kubernetes?.clusters ?? {});
  if (!clusters.length) return out;
  const { kubeConfigFor } = await import('../adapters/kube.js');
  for (const [name, c] of clusters) {
    try {
      out[name] = kubeConfigFor({
        server: c.server,
        context: c.context,
        kubeconfigPath: c.kubeconfig,
        inCluster: c.inCluster,
      });
    } catch (err) {
      log.error({ cluster: name, err: isConveyorError(err) ? err.message : 'cannot load' }, 'cluster not watched');
    }
  }
  return out;
}

export async function startController(input: ControllerInput): Promise<RunningController> {
  const { runtime, log, secrets } = input;
  const kubeConfigs = input.kubeConfigs ?? (await buildKubeConfigs(runtime, log));
  const controller = await runController({
    runtime,
    log,
    clusters: Object.keys(kubeConfigs),
    async watchCluster(cluster) {
      const { KubeClusterWatch } = await import('../adapters/kube.js');
      return new KubeClusterWatch({ kubeConfigs: { [cluster]: kubeConfigs[cluster]! }, log });
    },
    pollSources: pollSourcesOf(
      runtime.git,
      runtime.config.apps.map((a) => a.name),
    ),
    mountEvents: (events) =>
      mountGitHostWebhooks({ http: input.http, secrets, store: runtime.store, log, events, comments: input.comments }),
    leadership:
      input.leadership ??
      (await buildLeadership(
        runtime,
        secrets,
        input.identity ?? secrets.POD_NAME ?? `${hostname()}:${process.pid}`,
        log,
      )),
    verifyCheckMs: input.verifyCheckMs,
    async watchObjects(cluster) {
      const { KubeObjectWatch } = await import('../adapters/kube-object-watch.js');
      return new KubeObjectWatch({ cluster, kubeConfig: kubeConfigs[cluster]!, log });
    },
    async requestReconcile(ref) {
      const kc = kubeConfigs[ref.cluster];
      if (!kc) return;
      const { KubeApplierReader } = await import('../adapters/kube-appliers.js');
      if (ref.kind !== 'Application' && ref.kind !== 'Kustomization' && ref.kind !== 'HelmRelease') return;
      await new KubeApplierReader(kc, ref.cluster).requestReconcile(ref);
    },
    async jobsFor(cluster) {
      const kc = kubeConfigs[cluster];
      if (!kc) return null;
      const { KubeJobs } = await import('../adapters/kube-jobs.js');
      return new KubeJobs(kc);
    },
  });
  // Image apps: the registry discovery polls and takes registry webhooks (src/compose/image-discovery.ts).
  let discovery: ReturnType<typeof buildImageDiscovery> = null;
  try {
    discovery = buildImageDiscovery({
      runtime,
      http: input.http,
      log,
      webhookToken: secrets.REGISTRY_WEBHOOK_TOKEN,
      leading: () => controller.isLeader(),
    });
  } catch (err) {
    // A missing registry credential: say so once, keep serving everything else.
    log.error({ err: isConveyorError(err) ? err.message : 'cannot start' }, 'registry discovery is off');
  }
  discovery?.start();
  return {
    ...controller,
    async stop() {
      await discovery?.stop();
      await controller.stop();
    },
  };
}
