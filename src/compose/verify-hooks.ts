/**
 * The pre-deploy hooks (src/verify/before-hooks.ts) around the engine's promote and rollback
 * runners, for every engine the composition root builds (serve and `conveyor run` alike). The
 * Kubernetes client of a cluster is loaded only when a hook first runs a Job there.
 */
import type { Config } from '../config/schema.js';
import { imagesFromManifests } from '../controller/live-state.js';
import type { OperationEngine } from '../core/operation-engine.js';
import type { Clock, GitHost, Log, Store } from '../core/ports.js';
import { installBeforeHooks } from '../verify/before-hooks.js';
import type { Jobs } from '../verify/jobs.js';

export function installVerifyHooks(
  engine: OperationEngine,
  deps: { config: Config; store: Store; clock: Clock; log: Log; git: Map<string, GitHost> },
): void {
  const { config } = deps;
  const hasHooks = config.environments.some((e) => e.verify.before.length || e.verify.restore);
  if (!hasHooks) return;
  const clients = new Map<string, Promise<Jobs | null>>();
  const jobsFor = (cluster: string) => {
    let client = clients.get(cluster);
    if (!client) {
      const c = config.kubernetes?.clusters[cluster];
      client = c
        ? (async () => {
            const { kubeConfigFor } = await import('../adapters/kube.js');
            const { KubeJobs } = await import('../adapters/kube-jobs.js');
            return new KubeJobs(
              kubeConfigFor({
                server: c.server,
                context: c.context,
                kubeconfigPath: c.kubeconfig,
                inCluster: c.inCluster,
              }),
            );
          })()
        : Promise.resolve(null);
      clients.set(cluster, client);
    }
    return client;
  };
  const versionAt = async (app: string, sha: string) => {
    const target = Object.values(config.apps.find((a) => a.name === app)?.targets ?? {})[0];
    const text = await deps.git.get(app)?.readFile(sha, target?.manifests ?? 'k8s/deployment.yaml');
    const image = text && target ? target.workloads.flatMap((w) => imagesFromManifests(text, w))[0] : undefined;
    return image?.match(/:([\w][\w.-]{0,127})$/)?.[1] ?? null;
  };
  installBeforeHooks(engine, { ...deps, jobsFor, versionAt });
}
