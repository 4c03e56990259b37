/**
 * Which leadership a replica uses: a Kubernetes Lease when it runs in a cluster, a PostgreSQL
 * advisory lock when the state is in PostgreSQL, and always-leader on the embedded store
 * (PGlite serves one process; there is nobody to elect against).
 */
import { existsSync, readFileSync } from 'node:fs';
import type { Logger } from 'pino';
import type { Secrets } from '../config/secrets.js';
import { AlwaysLeader } from '../controller/leadership.js';
import type { Leadership } from '../core/ports.js';
import type { Runtime } from '../core/runtime.js';
import { stateUrlOf } from './state.js';

const SA_NAMESPACE = '/var/run/secrets/kubernetes.io/serviceaccount/namespace';

export async function buildLeadership(
  runtime: Pick<Runtime, 'config' | 'clock' | 'sandbox'>,
  secrets: Secrets,
  identity: string,
  log: Logger,
  env: NodeJS.ProcessEnv = process.env,
): Promise<Leadership> {
  if (env.KUBERNETES_SERVICE_HOST) {
    const { KubeConfig } = await import('@kubernetes/client-node');
    const { KubeLeaseLeadership } = await import('../adapters/kube-lease.js');
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromCluster();
    const namespace =
      runtime.config.kubernetes?.leaseNamespace ??
      secrets.POD_NAMESPACE ??
      (existsSync(SA_NAMESPACE) ? readFileSync(SA_NAMESPACE, 'utf8').trim() : 'default');
    const lease = new KubeLeaseLeadership({
      kubeConfig,
      namespace,
      name: 'conveyor-controller',
      identity,
      log,
      clock: runtime.clock,
    });
    return { start: (onChange) => lease.start(onChange), stop: () => lease.stop(), isLeader: () => lease.isLeader() };
  }
  const url = stateUrlOf(runtime.config, secrets, runtime.sandbox);
  if (/^postgres(ql)?:\/\//.test(url)) {
    const { PgLeadership } = await import('../adapters/pg-leadership.js');
    return new PgLeadership({ connectionString: url, log });
  }
  return new AlwaysLeader();
}
