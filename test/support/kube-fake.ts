/**
 * A fake Kubernetes API server on 127.0.0.1 speaking the real wire protocol for what Conveyor
 * uses: apps/v1 Deployments (list, get, watch with resourceVersion, bookmarks, 410 Gone after
 * compaction), coordination.k8s.io/v1 Leases (get, create, replace with optimistic
 * concurrency), and batch/v1 Jobs with their pods and logs (./kube-fake/jobs.ts). One global,
 * monotonically increasing resourceVersion, like etcd's revision.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { FakeJobs } from './kube-fake/jobs.js';
import { ApplierObjects } from './kube-fake-appliers.js';

// biome-ignore lint/suspicious/noExplicitAny: free-form Kubernetes JSON, like the wire
type Obj = Record<string, any>;
type EventType = 'ADDED' | 'MODIFIED' | 'DELETED';

interface HistoryEvent {
  rv: number;
  namespace: string;
  type: EventType;
  object: Obj;
}

interface OpenWatch {
  namespace: string | null;
  bookmarks: boolean;
  res: ServerResponse;
}

export interface KubeFakeOptions {
  /** When set, every request must carry `Authorization: Bearer <token>`. */
  token?: string;
}

export interface DeploymentStatusPatch {
  observedGeneration?: number;
  replicas?: number;
  updatedReplicas?: number;
  readyReplicas?: number;
  availableReplicas?: number;
  unavailableReplicas?: number;
  conditions?: Array<{ type: string; status: string; reason?: string; message?: string }>;
}

const DEPLOYMENTS = /^\/apis\/apps\/v1(?:\/namespaces\/([^/]+))?\/deployments(?:\/([^/]+))?$/;
const LEASES = /^\/apis\/coordination\.k8s\.io\/v1\/namespaces\/([^/]+)\/leases(?:\/([^/]+))?$/;
const MICRO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;

/** A minimal but complete Deployment object for `applyDeployment`. */
export function deploymentObject(name: string, opts: { image: string; replicas?: number }): Obj {
  const labels = { app: name };
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, labels },
    spec: {
      replicas: opts.replicas ?? 1,
      selector: { matchLabels: labels },
      template: { metadata: { labels }, spec: { containers: [{ name, image: opts.image }] } },
    },
  };
}

function statusBody(code: number, reason: string, message: string, details?: Obj): Obj {
  return {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message,
    reason,
    details,
    code,
  };
}

const clone = <T>(v: T): T => structuredClone(v);

export class KubeFake {
  /** Requests seen, by kind. */
  readonly counts = { list: 0, watch: 0, get: 0, lease: 0 };
  private server: Server;
  private rv = 0;
  private compactedRv = 0;
  private readonly deployments = new Map<string, Obj>(); // `${ns}/${name}`
  private readonly leases = new Map<string, Obj>();
  private history: HistoryEvent[] = [];
  private readonly watches = new Set<OpenWatch>();
  private failure: number | null = null;
  /** batch/v1 Jobs, their pods and logs; `jobs.script` plays the Job controller. */
  readonly jobs = new FakeJobs(() => String(++this.rv));
  // --- appliers and other workload kinds (h5-registry): see ./kube-fake-appliers.ts ---
  /** Argo CD Applications, Flux Kustomizations/HelmReleases, StatefulSets, DaemonSets, Rollouts. */
  readonly appliers = new ApplierObjects();
  // --- end appliers ---

  private constructor(private readonly options: KubeFakeOptions) {
    this.server = createServer((req, res) => this.handle(req, res));
  }

  static async start(options: KubeFakeOptions = {}): Promise<KubeFake> {
    const fake = new KubeFake(options);
    await new Promise<void>((resolve) => fake.server.listen(0, '127.0.0.1', resolve));
    return fake;
  }

  get url(): string {
    const { port } = this.server.address() as AddressInfo;
    return `http://127.0.0.1:${port}`;
  }

  get resourceVersion(): string {
    return String(this.rv);
  }

  /** Number of watch connections currently open. */
  get openWatches(): number {
    return this.watches.size;
  }

  // ------------------------------------------------------------ test controls

  /** Create or replace a Deployment; a changed spec bumps metadata.generation. */
  applyDeployment(namespace: string, obj: Obj): Obj {
    const name: string = obj.metadata.name;
    const key = `${namespace}/${name}`;
    const old = this.deployments.get(key);
    const next: Obj = clone(obj);
    next.apiVersion = 'apps/v1';
    next.kind = 'Deployment';
    next.metadata = {
      ...next.metadata,
      namespace,
      uid: old?.metadata.uid ?? randomUUID(),
      creationTimestamp: old?.metadata.creationTimestamp ?? new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
      generation: old ? old.metadata.generation + (JSON.stringify(old.spec) === JSON.stringify(next.spec) ? 0 : 1) : 1,
    };
    next.status = old?.status ?? {};
    return this.commit(key, old ? 'MODIFIED' : 'ADDED', next);
  }

  /** Change the image of a container (the first one unless named); bumps generation. */
  setImage(namespace: string, name: string, image: string, container?: string): Obj {
    const obj = clone(this.mustGet(namespace, name));
    const containers: Obj[] = obj.spec.template.spec.containers;
    const target = container ? containers.find((c) => c.name === container) : containers[0];
    if (!target) throw new Error(`no container ${container} in ${name}`);
    target.image = image;
    return this.applyDeployment(namespace, obj);
  }

  /** Merge into .status (what the deployment controller would write). */
  setStatus(namespace: string, name: string, patch: DeploymentStatusPatch): Obj {
    const obj = clone(this.mustGet(namespace, name));
    obj.status = { ...obj.status, ...clone(patch) };
    return this.commit(`${namespace}/${name}`, 'MODIFIED', obj);
  }

  deleteDeployment(namespace: string, name: string): void {
    const obj = clone(this.mustGet(namespace, name));
    this.deployments.delete(`${namespace}/${name}`);
    this.commit(null, 'DELETED', obj);
  }

  getDeployment(namespace: string, name: string): Obj | undefined {
    const obj = this.deployments.get(`${namespace}/${name}`);
    return obj && clone(obj);
  }

  getLease(namespace: string, name: string): Obj | undefined {
    const obj = this.leases.get(`${namespace}/${name}`);
    return obj && clone(obj);
  }

  /** Destroy open watch connections mid-stream (or end them cleanly with `end`). */
  dropWatches(mode: 'destroy' | 'end' = 'destroy'): void {
    for (const w of this.watches) {
      if (mode === 'destroy') w.res.socket?.destroy();
      else w.res.end();
    }
    this.watches.clear();
  }

  /**
   * Forget the event history (etcd compaction): a later watch from an older resourceVersion
   * gets an ERROR event with a 410 Gone Status and must list again.
   */
  expireHistory(): void {
    this.compactedRv = this.rv;
    this.history = [];
  }

  /** Send a BOOKMARK with the current resourceVersion to watches that allowed bookmarks. */
  sendBookmarks(): void {
    for (const w of this.watches) {
      if (!w.bookmarks) continue;
      const object = {
        kind: 'Deployment',
        apiVersion: 'apps/v1',
        metadata: { resourceVersion: String(this.rv) },
      };
      w.res.write(`${JSON.stringify({ type: 'BOOKMARK', object })}\n`);
    }
  }

  /** Answer every request with this HTTP status (a Status body) until called with null. */
  failRequests(status: number | null): void {
    this.failure = status;
  }

  async close(): Promise<void> {
    this.jobs.close();
    for (const w of this.watches) w.res.end();
    this.watches.clear();
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  // ------------------------------------------------------------ internals

  private mustGet(namespace: string, name: string): Obj {
    const obj = this.deployments.get(`${namespace}/${name}`);
    if (!obj) throw new Error(`no deployment ${namespace}/${name}`);
    return obj;
  }

  private commit(key: string | null, type: EventType, obj: Obj): Obj {
    this.rv += 1;
    obj.metadata.resourceVersion = String(this.rv);
    if (key) this.deployments.set(key, obj);
    const event: HistoryEvent = { rv: this.rv, namespace: obj.metadata.namespace, type, object: clone(obj) };
    this.history.push(event);
    for (const w of this.watches) {
      if (w.namespace === null || w.namespace === event.namespace) this.writeEvent(w.res, event);
    }
    return clone(obj);
  }

  private writeEvent(res: ServerResponse, event: { type: string; object: Obj }): void {
    res.write(`${JSON.stringify({ type: event.type, object: event.object })}\n`);
  }

  private send(res: ServerResponse, code: number, body: Obj): void {
    res.writeHead(code, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify(body));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://fake');
    const path = url.pathname;
    if (this.options.token && req.headers.authorization !== `Bearer ${this.options.token}`) {
      return this.send(res, 401, statusBody(401, 'Unauthorized', 'Unauthorized'));
    }
    if (this.failure !== null) {
      return this.send(res, this.failure, statusBody(this.failure, 'InternalError', 'injected failure'));
    }
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    let body: Obj | undefined;
    try {
      body = chunks.length ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : undefined;
    } catch {
      return this.send(res, 400, statusBody(400, 'BadRequest', 'invalid JSON body'));
    }
    const dep = DEPLOYMENTS.exec(path);
    if (dep && req.method === 'GET') return this.deploymentsGet(url, dep[1] ?? null, dep[2], res);
    const lease = LEASES.exec(path);
    if (lease) {
      this.counts.lease += 1;
      return this.leaseRequest(req.method ?? 'GET', lease[1]!, lease[2], body, res); // LEASES' namespace group is not optional
    }
    if (this.jobs.handles(path)) {
      const answer = this.jobs.request(req.method ?? 'GET', url, body);
      if (typeof answer.body !== 'string') return this.send(res, answer.code, answer.body);
      res.writeHead(answer.code, { 'Content-Type': 'text/plain' });
      return void res.end(answer.body);
    }
    // --- appliers and other workload kinds (h5-registry) ---
    if (this.appliers.handle(req.method ?? 'GET', path, body, res, url.searchParams)) return;
    // --- end appliers ---
    this.send(res, 404, statusBody(404, 'NotFound', 'the server could not find the requested resource'));
  }

  private deploymentsGet(url: URL, ns: string | null, name: string | undefined, res: ServerResponse): void {
    if (name) {
      this.counts.get += 1;
      const obj = ns ? this.deployments.get(`${ns}/${name}`) : undefined;
      if (!obj) {
        const msg = `deployments.apps "${name}" not found`;
        this.send(res, 404, statusBody(404, 'NotFound', msg, { name, group: 'apps', kind: 'deployments' }));
      } else {
        this.send(res, 200, obj);
      }
      return;
    }
    const inScope = [...this.deployments.values()].filter((d) => ns === null || d.metadata.namespace === ns);
    if (url.searchParams.get('watch') === 'true' || url.searchParams.get('watch') === '1') {
      this.startWatch(url, ns, inScope, res);
      return;
    }
    this.counts.list += 1;
    this.send(res, 200, {
      kind: 'DeploymentList',
      apiVersion: 'apps/v1',
      metadata: { resourceVersion: String(this.rv) },
      // Items of a list carry no kind/apiVersion, like the real API server.
      items: inScope.map(({ kind: _k, apiVersion: _a, ...rest }) => rest),
    });
  }

  private startWatch(url: URL, ns: string | null, current: Obj[], res: ServerResponse): void {
    this.counts.watch += 1;
    const rvParam = url.searchParams.get('resourceVersion') ?? '';
    res.writeHead(200, { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' });
    res.flushHeaders();
    if (rvParam === '' || rvParam === '0') {
      // "Start at most recent": synthetic ADDED for what exists, then live events.
      for (const object of current) this.writeEvent(res, { type: 'ADDED', object });
    } else {
      const from = Number(rvParam);
      if (!Number.isInteger(from) || from < this.compactedRv) {
        const message = `too old resource version: ${rvParam} (${this.compactedRv})`;
        this.writeEvent(res, { type: 'ERROR', object: statusBody(410, 'Expired', message) });
        res.end();
        return;
      }
      for (const event of this.history) {
        if (event.rv > from && (ns === null || event.namespace === ns)) this.writeEvent(res, event);
      }
    }
    const watch: OpenWatch = {
      namespace: ns,
      bookmarks: url.searchParams.get('allowWatchBookmarks') === 'true',
      res,
    };
    this.watches.add(watch);
    const timeout = Number(url.searchParams.get('timeoutSeconds') ?? 0);
    const timer = timeout > 0 ? setTimeout(() => res.end(), timeout * 1000).unref() : undefined;
    res.on('close', () => {
      clearTimeout(timer);
      this.watches.delete(watch);
    });
  }

  private leaseRequest(
    method: string,
    ns: string,
    name: string | undefined,
    body: Obj | undefined,
    res: ServerResponse,
  ) {
    const notFound = (n: string) =>
      this.send(res, 404, statusBody(404, 'NotFound', `leases.coordination.k8s.io "${n}" not found`));
    const conflict = (n: string, reason: string, message: string) =>
      this.send(res, 409, statusBody(409, reason, message, { name: n, group: 'coordination.k8s.io', kind: 'leases' }));
    if (method === 'GET' && name) {
      const lease = this.leases.get(`${ns}/${name}`);
      return lease ? this.send(res, 200, lease) : notFound(name);
    }
    if ((method === 'POST' && !name) || (method === 'PUT' && name)) {
      const leaseName: string | undefined = body?.metadata?.name;
      if (!body || !leaseName || (name && leaseName !== name)) {
        return this.send(res, 400, statusBody(400, 'BadRequest', 'metadata.name missing or mismatched'));
      }
      for (const field of ['acquireTime', 'renewTime']) {
        const v = body.spec?.[field];
        if (v !== undefined && v !== null && !(typeof v === 'string' && MICRO_TIME.test(v))) {
          return this.send(res, 400, statusBody(400, 'BadRequest', `spec.${field}: invalid MicroTime ${v}`));
        }
      }
      const key = `${ns}/${leaseName}`;
      const old = this.leases.get(key);
      if (method === 'POST' && old) {
        return conflict(leaseName, 'AlreadyExists', `leases.coordination.k8s.io "${leaseName}" already exists`);
      }
      if (method === 'PUT') {
        if (!old) return notFound(leaseName);
        const sent = body.metadata.resourceVersion;
        if (sent && sent !== old.metadata.resourceVersion) {
          const msg = `Operation cannot be fulfilled on leases.coordination.k8s.io "${leaseName}": the object has been modified; please apply your changes to the latest version and try again`;
          return conflict(leaseName, 'Conflict', msg);
        }
      }
      this.rv += 1;
      const lease: Obj = {
        apiVersion: 'coordination.k8s.io/v1',
        kind: 'Lease',
        metadata: {
          ...body.metadata,
          namespace: ns,
          uid: old?.metadata.uid ?? randomUUID(),
          resourceVersion: String(this.rv),
          creationTimestamp: old?.metadata.creationTimestamp ?? new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
        },
        spec: body.spec ?? {},
      };
      this.leases.set(key, lease);
      return this.send(res, old ? 200 : 201, lease);
    }
    this.send(res, 405, statusBody(405, 'MethodNotAllowed', `${method} is not supported here`));
  }
}
