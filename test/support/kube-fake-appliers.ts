/**
 * The Kubernetes fake's applier and workload objects (kept apart from kube-fake.ts so its other
 * additions merge easily): Argo CD `Application` and Argo Rollouts `Rollout`
 * (argoproj.io/v1alpha1), Flux `Kustomization` (kustomize.toolkit.fluxcd.io/v1) and `HelmRelease`
 * (helm.toolkit.fluxcd.io/v2), apps/v1 `StatefulSet` and `DaemonSet`: GET one, LIST, WATCH (from
 * a resourceVersion, as informers do), and the merge PATCH of `metadata.annotations` the
 * appliers' "act now" annotations use.
 *
 * Every object put or patched is checked with the projects' published CRD schemas through
 * `@kubernetes-models/*` / `kubernetes-models` `validate()`, so the fake serves only shapes the
 * real API server would hold.
 */
import type { ServerResponse } from 'node:http';
import { Application } from '@kubernetes-models/argo-cd/argoproj.io/v1alpha1/Application';
import { Rollout } from '@kubernetes-models/argo-rollouts/argoproj.io/v1alpha1/Rollout';
import { HelmRelease } from '@kubernetes-models/flux-cd/helm.toolkit.fluxcd.io/v2/HelmRelease';
import { Kustomization } from '@kubernetes-models/flux-cd/kustomize.toolkit.fluxcd.io/v1/Kustomization';
import { DaemonSet } from 'kubernetes-models/apps/v1/DaemonSet';
import { StatefulSet } from 'kubernetes-models/apps/v1/StatefulSet';

// biome-ignore lint/suspicious/noExplicitAny: free-form Kubernetes JSON, like the wire
type Obj = Record<string, any>;

interface Resource {
  group: string;
  version: string;
  kind: string;
  validate(obj: Obj): void;
}

// biome-ignore lint/suspicious/noExplicitAny: each model takes its own typed shape
const check = (Model: new (o: any) => { validate(): void }) => (obj: Obj) => new Model(obj).validate();

export const APPLIER_RESOURCES: Record<string, Resource> = {
  applications: { group: 'argoproj.io', version: 'v1alpha1', kind: 'Application', validate: check(Application) },
  rollouts: { group: 'argoproj.io', version: 'v1alpha1', kind: 'Rollout', validate: check(Rollout) },
  kustomizations: {
    group: 'kustomize.toolkit.fluxcd.io',
    version: 'v1',
    kind: 'Kustomization',
    validate: check(Kustomization),
  },
  helmreleases: { group: 'helm.toolkit.fluxcd.io', version: 'v2', kind: 'HelmRelease', validate: check(HelmRelease) },
  statefulsets: { group: 'apps', version: 'v1', kind: 'StatefulSet', validate: check(StatefulSet) },
  daemonsets: { group: 'apps', version: 'v1', kind: 'DaemonSet', validate: check(DaemonSet) },
};

const PATH = /^\/apis\/([^/]+)\/([^/]+)\/namespaces\/([^/]+)\/([^/]+)(?:\/([^/]+))?$/;

function pluralOf(kind: string): string {
  const found = Object.entries(APPLIER_RESOURCES).find(([, r]) => r.kind === kind);
  if (!found) throw new Error(`the fake does not serve kind ${kind}`);
  return found[0];
}

interface ObjectWatch {
  plural: string;
  namespace: string;
  res: ServerResponse;
}

interface ObjectEvent {
  rv: number;
  plural: string;
  namespace: string;
  type: 'ADDED' | 'MODIFIED';
  object: Obj;
}

export class ApplierObjects {
  private readonly objects = new Map<string, Obj>(); // `${plural}/${ns}/${name}`
  private rv = 1000;
  private readonly watches = new Set<ObjectWatch>();
  private readonly history: ObjectEvent[] = [];
  /** Annotation patches received, in order (what "act now" asked for). */
  readonly patches: { plural: string; namespace: string; name: string; annotations: Record<string, string> }[] = [];

  /** Create or replace an object (its kind says which resource); the spec change bumps its generation. */
  put(namespace: string, obj: Obj): Obj {
    const plural = pluralOf(obj.kind);
    const key = `${plural}/${namespace}/${obj.metadata.name}`;
    const old = this.objects.get(key);
    const next: Obj = structuredClone(obj);
    const specChanged = !old || JSON.stringify(old.spec) !== JSON.stringify(next.spec);
    next.metadata = {
      ...next.metadata,
      namespace,
      uid: old?.metadata.uid ?? `uid-${key}`,
      generation: (old?.metadata.generation ?? 0) + (specChanged ? 1 : 0),
      resourceVersion: String(++this.rv),
      creationTimestamp: old?.metadata.creationTimestamp ?? '2026-11-26T00:00:00Z',
    };
    if (next.status === undefined && old?.status) next.status = old.status;
    APPLIER_RESOURCES[plural]!.validate(next); // throws on a shape the CRD refuses
    this.objects.set(key, next);
    this.emit(plural, namespace, old ? 'MODIFIED' : 'ADDED', next);
    return structuredClone(next);
  }

  /** Replace an object's status (validated with the object). */
  setStatus(kind: string, namespace: string, name: string, status: Obj): Obj {
    const key = `${pluralOf(kind)}/${namespace}/${name}`;
    const old = this.objects.get(key);
    if (!old) throw new Error(`no ${kind} ${namespace}/${name}`);
    const next: Obj = { ...structuredClone(old), status: structuredClone(status) };
    next.metadata.resourceVersion = String(++this.rv);
    APPLIER_RESOURCES[pluralOf(kind)]!.validate(next);
    this.objects.set(key, next);
    this.emit(pluralOf(kind), namespace, 'MODIFIED', next);
    return structuredClone(next);
  }

  /** Number of watch connections open on these resources. */
  get openWatches(): number {
    return this.watches.size;
  }

  private emit(plural: string, namespace: string, type: ObjectEvent['type'], obj: Obj): void {
    const event: ObjectEvent = { rv: this.rv, plural, namespace, type, object: structuredClone(obj) };
    this.history.push(event);
    for (const w of this.watches) {
      if (w.plural === plural && w.namespace === namespace) w.res.write(`${JSON.stringify({ type, object: obj })}\n`);
    }
  }

  private watch(plural: string, namespace: string, query: URLSearchParams, res: ServerResponse): void {
    res.writeHead(200, { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' });
    res.flushHeaders();
    const from = Number(query.get('resourceVersion') ?? 0);
    if (!from) {
      for (const [k, object] of this.objects) {
        if (k.startsWith(`${plural}/${namespace}/`)) res.write(`${JSON.stringify({ type: 'ADDED', object })}\n`);
      }
    } else {
      for (const e of this.history) {
        if (e.rv > from && e.plural === plural && e.namespace === namespace)
          res.write(`${JSON.stringify({ type: e.type, object: e.object })}\n`);
      }
    }
    const w: ObjectWatch = { plural, namespace, res };
    this.watches.add(w);
    const timeout = Number(query.get('timeoutSeconds') ?? 0);
    const timer = timeout > 0 ? setTimeout(() => res.end(), timeout * 1000).unref() : undefined;
    res.on('close', () => {
      clearTimeout(timer);
      this.watches.delete(w);
    });
  }

  get(kind: string, namespace: string, name: string): Obj | undefined {
    const obj = this.objects.get(`${pluralOf(kind)}/${namespace}/${name}`);
    return obj ? structuredClone(obj) : undefined;
  }

  /** Answer the request when it is for one of these resources; false otherwise. */
  handle(
    method: string,
    path: string,
    body: Obj | undefined,
    res: ServerResponse,
    query: URLSearchParams = new URLSearchParams(),
  ): boolean {
    const m = PATH.exec(path);
    const resource = m ? APPLIER_RESOURCES[m[4]!] : undefined;
    if (!m || !resource || resource.group !== m[1] || resource.version !== m[2]) return false;
    const [, , , namespace, plural, name] = m as unknown as [string, string, string, string, string, string?];
    const send = (code: number, obj: Obj) => {
      res.writeHead(code, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(obj));
    };
    const notFound = () =>
      send(404, {
        kind: 'Status',
        apiVersion: 'v1',
        metadata: {},
        status: 'Failure',
        message: `${plural}.${resource.group} "${name}" not found`,
        reason: 'NotFound',
        details: { name, group: resource.group, kind: plural },
        code: 404,
      });
    if (method === 'GET' && name) {
      const obj = this.objects.get(`${plural}/${namespace}/${name}`);
      if (!obj) notFound();
      else send(200, obj);
      return true;
    }
    if (method === 'GET' && (query.get('watch') === 'true' || query.get('watch') === '1')) {
      this.watch(plural, namespace, query, res);
      return true;
    }
    if (method === 'GET') {
      const items = [...this.objects.entries()]
        .filter(([k]) => k.startsWith(`${plural}/${namespace}/`))
        .map(([, o]) => {
          const { kind: _k, apiVersion: _a, ...rest } = o;
          return rest;
        });
      send(200, {
        kind: `${resource.kind}List`,
        apiVersion: `${resource.group}/${resource.version}`,
        metadata: { resourceVersion: String(this.rv) },
        items,
      });
      return true;
    }
    if (method === 'PATCH' && name) {
      const key = `${plural}/${namespace}/${name}`;
      const obj = this.objects.get(key);
      if (!obj) {
        notFound();
        return true;
      }
      const annotations = body?.metadata?.annotations;
      const other = Object.keys(body ?? {}).filter((k) => k !== 'metadata');
      if (!annotations || typeof annotations !== 'object' || other.length) {
        send(422, {
          kind: 'Status',
          apiVersion: 'v1',
          status: 'Failure',
          reason: 'Invalid',
          code: 422,
          message: 'the fake patches metadata.annotations only',
        });
        return true;
      }
      obj.metadata.annotations = { ...obj.metadata.annotations, ...annotations };
      obj.metadata.resourceVersion = String(++this.rv);
      resource.validate(obj);
      this.patches.push({ plural, namespace, name, annotations });
      this.emit(plural, namespace, 'MODIFIED', obj);
      send(200, obj);
      return true;
    }
    send(405, {
      kind: 'Status',
      apiVersion: 'v1',
      status: 'Failure',
      reason: 'MethodNotAllowed',
      code: 405,
      message: `${method} not served`,
    });
    return true;
  }
}
