/**
 * ClusterWatch over Kubernetes: one informer (list + watch) on apps/v1 Deployments per
 * (cluster, namespace), filtered to the target names. The informer re-watches from its last
 * resourceVersion by itself and re-lists on 410 Gone; on any other error it stops, so it is
 * restarted here with a capped exponential backoff.
 */
import {
  AppsV1Api,
  type Informer,
  KubeConfig,
  makeInformer,
  type ObjectCache,
  type V1Deployment,
  type V1DeploymentList,
} from '@kubernetes/client-node';
import { ConfigError } from '../core/errors.js';
import type { ClusterWatch, Log, WorkloadStatus, WorkloadTarget } from '../core/ports.js';

/** The part of a pino logger used here. */
export type KubeLog = Pick<Log, 'warn'> & Partial<Pick<Log, 'info'>>;

export interface KubeClusterWatchOptions {
  /** Cluster name (as in WorkloadTarget.cluster) → its KubeConfig, built by the composition root. */
  kubeConfigs: Record<string, KubeConfig>;
  log?: KubeLog;
  /** Called each time an informer is restarted after an error. */
  onReconnect?: (cluster: string) => void;
  /** First delay before restarting a failed informer (doubles up to maxRestartDelayMs). Default 1000. */
  restartDelayMs?: number;
  /** Default 30000. */
  maxRestartDelayMs?: number;
}

interface Running {
  cluster: string;
  namespace: string;
  names: Set<string>;
  informer: Informer<V1Deployment> & ObjectCache<V1Deployment>;
  delayMs: number;
  timer?: NodeJS.Timeout;
  startedAt: number;
  /** The informer's current start(): it resolves once its list and watch are under way. */
  launching?: Promise<void>;
}

/** Translate a Deployment into the port's status (replicas = desired replicas from the spec). */
export function toWorkloadStatus(cluster: string, namespace: string, d: V1Deployment, exists = true): WorkloadStatus {
  const podSpec = d.spec?.template?.spec;
  const images = [...(podSpec?.initContainers ?? []), ...(podSpec?.containers ?? [])]
    .map((c) => c.image)
    .filter((i): i is string => typeof i === 'string');
  return {
    cluster,
    namespace,
    name: d.metadata?.name ?? '',
    images,
    generation: d.metadata?.generation ?? 0,
    observedGeneration: d.status?.observedGeneration ?? 0,
    replicas: d.spec?.replicas ?? 1,
    updatedReplicas: d.status?.updatedReplicas ?? 0,
    availableReplicas: d.status?.availableReplicas ?? 0,
    conditions: (d.status?.conditions ?? []).map((c) => ({
      type: c.type,
      status: c.status,
      ...(c.reason ? { reason: c.reason } : {}),
      ...(c.message ? { message: c.message } : {}),
    })),
    exists,
  };
}

const STOP_PATIENCE_MS = 5000;

/** A short, secret-free line for the log: status code and the API server's own message. */
export function describeKubeError(err: unknown): string {
  if (!err || typeof err !== 'object') return String(err);
  const e = err as {
    statusCode?: number;
    code?: number | string;
    message?: string;
    body?: unknown;
    name?: string;
  };
  const lines = e.message?.split('\n') ?? [];
  // ApiException: "HTTP-Code: 401\nMessage: Unauthorized\nBody: …\nHeaders: …"
  const apiMessage = lines.find((l) => l.startsWith('Message: '))?.slice('Message: '.length);
  let message = apiMessage ?? lines[0] ?? '';
  if (typeof e.body === 'string') {
    try {
      message = (JSON.parse(e.body) as { message?: string }).message ?? message;
    } catch {
      // not a Status object: keep the error's own first line
    }
  }
  const name = e.name === 'Error' ? undefined : e.name;
  return [name, e.statusCode ?? e.code, message.slice(0, 200)].filter((x) => x !== undefined && x !== '').join(' ');
}

export class KubeClusterWatch implements ClusterWatch {
  private running: Running[] = [];
  private stopped = false;
  private readonly baseDelay: number;
  private readonly maxDelay: number;
  /** Last emitted existence per target, to avoid repeating "gone". */
  private readonly exists = new Map<string, boolean>();

  constructor(private readonly options: KubeClusterWatchOptions) {
    this.baseDelay = options.restartDelayMs ?? 1000;
    this.maxDelay = Math.max(options.maxRestartDelayMs ?? 30_000, this.baseDelay);
  }

  async start(targets: WorkloadTarget[], onChange: (status: WorkloadStatus) => void): Promise<void> {
    if (this.running.length > 0) throw new Error('KubeClusterWatch already started');
    const groups = new Map<string, { cluster: string; namespace: string; names: Set<string> }>();
    for (const t of targets) {
      if (!this.options.kubeConfigs[t.cluster]) {
        throw new ConfigError(`no Kubernetes connection configured for cluster "${t.cluster}"`);
      }
      const key = JSON.stringify([t.cluster, t.namespace]);
      const group = groups.get(key) ?? {
        cluster: t.cluster,
        namespace: t.namespace,
        names: new Set<string>(),
      };
      group.names.add(t.name);
      groups.set(key, group);
    }
    this.stopped = false;
    this.exists.clear();
    for (const g of groups.values()) this.running.push(this.makeRunning(g.cluster, g.namespace, g.names, onChange));
    await Promise.all(this.running.map((r) => this.launch(r)));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    const running = this.running;
    this.running = [];
    for (const r of running) clearTimeout(r.timer);
    await Promise.all(running.map((r) => r.informer.stop()));
    // A start() caught mid-connect opens its watch after stop(); launch() stops it again then.
    // Wait for that, but not forever when an API server hangs.
    let timer: NodeJS.Timeout | undefined;
    const patience = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, STOP_PATIENCE_MS).unref();
    });
    await Promise.race([Promise.all(running.map((r) => r.launching)), patience]);
    clearTimeout(timer);
  }

  private makeRunning(
    cluster: string,
    namespace: string,
    names: Set<string>,
    onChange: (status: WorkloadStatus) => void,
  ): Running {
    const kc = this.options.kubeConfigs[cluster];
    if (!kc) throw new ConfigError(`no Kubernetes connection configured for cluster "${cluster}"`); // start() checked
    const api = kc.makeApiClient(AppsV1Api);
    const emit = (d: V1Deployment, exists: boolean) => {
      const name = d.metadata?.name ?? '';
      if (this.stopped || !names.has(name)) return;
      const key = JSON.stringify([cluster, namespace, name]);
      if (!exists && this.exists.get(key) === false) return;
      this.exists.set(key, exists);
      onChange(toWorkloadStatus(cluster, namespace, d, exists));
    };
    const list = async (): Promise<V1DeploymentList> => {
      const result = await api.listNamespacedDeployment({ namespace });
      running.delayMs = this.baseDelay; // a successful list means the cluster is reachable again
      // Targets the cluster does not have are reported once as gone.
      const present = new Set(result.items.map((d) => d.metadata?.name));
      for (const name of names) {
        const known = running.informer.get(name, namespace) !== undefined;
        if (!present.has(name) && !known) emit({ metadata: { name, namespace } }, false);
      }
      return result;
    };
    const informer = makeInformer<V1Deployment>(
      kc,
      `/apis/apps/v1/namespaces/${encodeURIComponent(namespace)}/deployments`,
      list,
    );
    const running: Running = { cluster, namespace, names, informer, delayMs: this.baseDelay, startedAt: 0 };
    informer.on('add', (d) => emit(d, true));
    informer.on('update', (d) => emit(d, true));
    informer.on('delete', (d) => emit(d, false));
    informer.on('error', (err) => this.restartLater(running, err));
    return running;
  }

  private async launch(r: Running): Promise<void> {
    if (this.stopped) return;
    r.startedAt = Date.now();
    r.launching = r.informer.start().then(async () => {
      if (this.stopped) await r.informer.stop();
    });
    await r.launching;
  }

  private restartLater(r: Running, err: unknown): void {
    if (this.stopped || !this.running.includes(r)) return; // our own stop() aborts the watch
    // An informer that ran well for a while starts its backoff over.
    if (Date.now() - r.startedAt > this.maxDelay * 2) r.delayMs = this.baseDelay;
    const delay = r.delayMs;
    r.delayMs = Math.min(r.delayMs * 2, this.maxDelay);
    this.options.log?.warn(
      { cluster: r.cluster, namespace: r.namespace, err: describeKubeError(err), retryInMs: delay },
      'kubernetes watch failed; restarting',
    );
    clearTimeout(r.timer);
    r.timer = setTimeout(() => {
      r.timer = undefined;
      if (this.stopped) return;
      this.options.onReconnect?.(r.cluster);
      void this.launch(r);
    }, delay);
  }
}

export interface KubeConnectionOptions {
  /** API server URL, e.g. https://k8s.example:6443 (or http://127.0.0.1:PORT in tests). */
  server?: string;
  /** Bearer token (from the environment, never the config file). */
  token?: string;
  /** Context name: selects a context of `kubeconfigPath`, or names the built one. */
  context?: string;
  /** Use the pod's service account. */
  inCluster?: boolean;
  kubeconfigPath?: string;
  /** PEM CA bundle file for `server`. */
  caFile?: string;
  skipTlsVerify?: boolean;
}

/** Build a KubeConfig for one cluster: in-cluster, from a kubeconfig file, or from a server URL. */
export function kubeConfigFor(opts: KubeConnectionOptions): KubeConfig {
  const kc = new KubeConfig();
  if (opts.inCluster) {
    kc.loadFromCluster();
    return kc;
  }
  if (opts.kubeconfigPath) {
    kc.loadFromFile(opts.kubeconfigPath);
    if (opts.context) {
      if (!kc.getContextObject(opts.context)) {
        throw new ConfigError(`context "${opts.context}" not found in ${opts.kubeconfigPath}`);
      }
      kc.setCurrentContext(opts.context);
    }
    return kc;
  }
  if (!opts.server) throw new ConfigError('a Kubernetes cluster needs server, kubeconfigPath or inCluster');
  const name = opts.context ?? 'conveyor';
  // client-node refuses plain http:// unless TLS verification is off (there is no TLS to verify).
  const plainHttp = opts.server.startsWith('http://');
  kc.loadFromOptions({
    clusters: [{ name, server: opts.server, caFile: opts.caFile, skipTLSVerify: plainHttp || !!opts.skipTlsVerify }],
    users: [{ name, ...(opts.token ? { token: opts.token } : {}) }],
    contexts: [{ name, cluster: name, user: name }],
    currentContext: name,
  });
  return kc;
}
