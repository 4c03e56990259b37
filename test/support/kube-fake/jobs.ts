/**
 * batch/v1 Jobs and their pods for the Kubernetes fake, as the API server and the Job
 * controller report them (Kubernetes 1.31+): a created Job gets its defaults, its selector and
 * its pods' labels; a pod runs, then succeeds or fails; the Job counts them and ends with
 * `SuccessCriteriaMet` + `Complete`, or with `FailureTarget` + `Failed`
 * (`BackoffLimitExceeded`) once more pods failed than `backoffLimit`. DELETE follows the
 * propagation policy (batch/v1's REST default orphans the pods). Pod logs: `tailLines`,
 * `container`. Every object it holds passes kubernetes-models' validate() (the tests check).
 */
import { randomBytes, randomUUID } from 'node:crypto';

// biome-ignore lint/suspicious/noExplicitAny: free-form Kubernetes JSON, like the wire
type Obj = Record<string, any>;

/** One pod attempt: how it ends and what it prints. */
export interface PodScript {
  exitCode: number;
  logs: string;
  /** The container's termination message (/dev/termination-log). */
  message?: string;
}

/** What the fake's Job controller does with a new Job; null leaves it to the test. */
export type JobScript = { pods: PodScript[]; stepMs?: number } | null;

export type Reply = { code: number; body: Obj | string };

const JOBS = /^\/apis\/batch\/v1\/namespaces\/([^/]+)\/jobs(?:\/([^/]+))?$/;
const PODS = /^\/api\/v1\/namespaces\/([^/]+)\/pods(?:\/([^/]+)(\/log)?)?$/;

const now = () => new Date().toISOString().replace(/\.\d+Z$/, 'Z');
const clone = <T>(v: T): T => structuredClone(v);

function status(code: number, reason: string, message: string, details?: Obj): Obj {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, details, code };
}

function selectorMatches(selector: string | null, labels: Obj = {}): boolean {
  if (!selector) return true;
  return selector.split(',').every((term) => {
    const [k, v] = term.split('=');
    return k !== undefined && labels[k.trim()] === v?.trim();
  });
}

export class FakeJobs {
  readonly jobs = new Map<string, Obj>(); // ns/name
  readonly pods = new Map<string, Obj>();
  readonly logs = new Map<string, string>(); // ns/pod
  /** Requests by verb, for "not created twice". */
  readonly counts = { create: 0, created: 0, get: 0, delete: 0, podList: 0, log: 0 };
  /** Every Job body a client sent with POST, as sent. */
  readonly sent: Obj[] = [];
  /** Decides what a new Job does (default: nothing until the test drives it). */
  script: (job: Obj) => JobScript = () => null;
  private timers = new Set<NodeJS.Timeout>();

  constructor(private readonly nextRv: () => string) {}

  handles(path: string): boolean {
    return JOBS.test(path) || PODS.test(path);
  }

  request(method: string, url: URL, body: Obj | undefined): Reply {
    const job = JOBS.exec(url.pathname);
    if (job) return this.jobRequest(method, job[1]!, job[2], url, body);
    const pod = PODS.exec(url.pathname)!;
    const [, ns, name, log] = pod;
    if (method === 'GET' && name && log) return this.podLog(ns!, name, url);
    if (method === 'GET' && !name) {
      this.counts.podList += 1;
      const items = [...this.pods.values()]
        .filter(
          (p) =>
            p.metadata.namespace === ns && selectorMatches(url.searchParams.get('labelSelector'), p.metadata.labels),
        )
        .map(({ kind: _k, apiVersion: _a, ...rest }) => clone(rest));
      return {
        code: 200,
        body: { kind: 'PodList', apiVersion: 'v1', metadata: { resourceVersion: this.nextRv() }, items },
      };
    }
    if (method === 'GET' && name) {
      const p = this.pods.get(`${ns}/${name}`);
      return p
        ? { code: 200, body: clone(p) }
        : { code: 404, body: status(404, 'NotFound', `pods "${name}" not found`) };
    }
    return { code: 405, body: status(405, 'MethodNotAllowed', `${method} is not supported here`) };
  }

  close(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }

  // ------------------------------------------------------------ the Job controller, driven by tests

  /** A pod of the Job starts running (the Job counts it active). */
  startPod(ns: string, name: string): Obj {
    const job = this.mustGet(ns, name);
    const podName = `${name}-${randomBytes(3).toString('hex').slice(0, 5)}`;
    const labels = { ...job.spec.template.metadata.labels };
    const container = job.spec.template.spec.containers[0];
    const pod: Obj = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name: podName,
        generateName: `${name}-`,
        namespace: ns,
        uid: randomUUID(),
        resourceVersion: this.nextRv(),
        creationTimestamp: now(),
        labels,
        ownerReferences: [
          {
            apiVersion: 'batch/v1',
            kind: 'Job',
            name,
            uid: job.metadata.uid,
            controller: true,
            blockOwnerDeletion: true,
          },
        ],
      },
      spec: clone(job.spec.template.spec),
      status: {
        phase: 'Running',
        startTime: now(),
        conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: now() }],
        containerStatuses: [
          {
            name: container.name,
            image: container.image,
            imageID: '',
            ready: true,
            restartCount: 0,
            started: true,
            state: { running: { startedAt: now() } },
          },
        ],
      },
    };
    this.pods.set(`${ns}/${podName}`, pod);
    this.logs.set(`${ns}/${podName}`, '');
    job.status = {
      ...job.status,
      startTime: job.status.startTime ?? now(),
      active: 1,
      ready: 1,
      terminating: 0,
      uncountedTerminatedPods: {},
    };
    this.touch(job);
    return clone(pod);
  }

  /** The running pod ends with `exitCode` after printing `logs`; the Job counts it and may end. */
  endPod(ns: string, name: string, exitCode: number, logs: string, message?: string): void {
    const job = this.mustGet(ns, name);
    const pod = [...this.pods.values()].find(
      (p) => p.metadata.namespace === ns && p.metadata.labels['job-name'] === name && p.status.phase === 'Running',
    );
    if (!pod) throw new Error(`no running pod of Job ${ns}/${name}`);
    const t = now();
    this.logs.set(`${ns}/${pod.metadata.name}`, logs);
    pod.status.phase = exitCode === 0 ? 'Succeeded' : 'Failed';
    pod.status.conditions = [{ type: 'Ready', status: 'False', reason: 'PodCompleted', lastTransitionTime: t }];
    pod.status.containerStatuses[0].ready = false;
    pod.status.containerStatuses[0].started = false;
    pod.status.containerStatuses[0].state = {
      terminated: {
        exitCode,
        reason: exitCode === 0 ? 'Completed' : 'Error',
        ...(message ? { message } : {}),
        startedAt: pod.status.startTime,
        finishedAt: t,
      },
    };
    pod.metadata.resourceVersion = this.nextRv();
    const s = job.status;
    s.active = 0;
    s.ready = 0;
    if (exitCode === 0) {
      s.succeeded = (s.succeeded ?? 0) + 1;
      s.completionTime = t;
      const done = {
        status: 'True',
        lastProbeTime: t,
        lastTransitionTime: t,
        reason: 'CompletionsReached',
        message: 'Reached expected number of succeeded pods',
      };
      s.conditions = [
        { type: 'SuccessCriteriaMet', ...done },
        { type: 'Complete', ...done },
      ];
      delete s.active;
    } else {
      s.failed = (s.failed ?? 0) + 1;
      if (s.failed > (job.spec.backoffLimit ?? 6)) {
        const failed = {
          status: 'True',
          lastProbeTime: t,
          lastTransitionTime: t,
          reason: 'BackoffLimitExceeded',
          message: 'Job has reached the specified backoff limit',
        };
        s.conditions = [
          { type: 'FailureTarget', ...failed },
          { type: 'Failed', ...failed },
        ];
        delete s.active;
      }
    }
    this.touch(job);
  }

  /** Whether the Job has ended (Complete or Failed). */
  finished(ns: string, name: string): boolean {
    const c: Obj[] = this.jobs.get(`${ns}/${name}`)?.status?.conditions ?? [];
    return c.some((x) => (x.type === 'Complete' || x.type === 'Failed') && x.status === 'True');
  }

  getJob(ns: string, name: string): Obj | undefined {
    const j = this.jobs.get(`${ns}/${name}`);
    return j && clone(j);
  }

  // ------------------------------------------------------------ internals

  private mustGet(ns: string, name: string): Obj {
    const j = this.jobs.get(`${ns}/${name}`);
    if (!j) throw new Error(`no Job ${ns}/${name}`);
    return j;
  }

  private touch(job: Obj): void {
    job.metadata.resourceVersion = this.nextRv();
  }

  /** Run a script: pods one after another, `stepMs` apart, until one succeeds or the backoff is spent. */
  private run(ns: string, name: string, script: NonNullable<JobScript>): void {
    const step = script.stepMs ?? 30;
    const pods = [...script.pods];
    const next = () => {
      const p = pods.shift();
      if (!p || !this.jobs.has(`${ns}/${name}`) || this.finished(ns, name)) return;
      this.startPod(ns, name);
      this.later(step, () => {
        if (!this.jobs.has(`${ns}/${name}`)) return;
        this.endPod(ns, name, p.exitCode, p.logs, p.message);
        if (!this.finished(ns, name)) this.later(step, next);
      });
    };
    this.later(step, next);
  }

  private later(ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    this.timers.add(t);
  }

  private jobRequest(method: string, ns: string, name: string | undefined, url: URL, body: Obj | undefined): Reply {
    if (method === 'POST' && !name) {
      this.counts.create += 1;
      return this.createJob(ns, body);
    }
    if (method === 'GET' && name) {
      this.counts.get += 1;
      const j = this.jobs.get(`${ns}/${name}`);
      return j
        ? { code: 200, body: clone(j) }
        : {
            code: 404,
            body: status(404, 'NotFound', `jobs.batch "${name}" not found`, { name, group: 'batch', kind: 'jobs' }),
          };
    }
    if (method === 'DELETE' && name) {
      this.counts.delete += 1;
      const j = this.jobs.get(`${ns}/${name}`);
      if (!j)
        return {
          code: 404,
          body: status(404, 'NotFound', `jobs.batch "${name}" not found`, { name, group: 'batch', kind: 'jobs' }),
        };
      const policy = url.searchParams.get('propagationPolicy') ?? body?.propagationPolicy ?? 'Orphan';
      this.jobs.delete(`${ns}/${name}`);
      for (const [key, p] of this.pods) {
        if (p.metadata.namespace !== ns || p.metadata.labels['job-name'] !== name) continue;
        if (policy === 'Orphan') p.metadata.ownerReferences = [];
        else {
          this.pods.delete(key);
          this.logs.delete(key);
        }
      }
      return {
        code: 200,
        body: {
          kind: 'Status',
          apiVersion: 'v1',
          metadata: {},
          status: 'Success',
          details: { name, group: 'batch', kind: 'jobs', uid: j.metadata.uid },
        },
      };
    }
    return { code: 405, body: status(405, 'MethodNotAllowed', `${method} is not supported here`) };
  }

  private createJob(ns: string, body: Obj | undefined): Reply {
    const name: string | undefined = body?.metadata?.name;
    if (body?.kind !== 'Job' || body.apiVersion !== 'batch/v1' || !name)
      return { code: 400, body: status(400, 'BadRequest', 'a batch/v1 Job with metadata.name is required') };
    if (!/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(name))
      return {
        code: 422,
        body: status(422, 'Invalid', `Job.batch "${name}" is invalid: metadata.name: Invalid value`),
      };
    const containers: Obj[] | undefined = body.spec?.template?.spec?.containers;
    if (!containers?.length || containers.some((c) => !c.name || !c.image))
      return {
        code: 422,
        body: status(422, 'Invalid', `Job.batch "${name}" is invalid: spec.template.spec.containers: Required value`),
      };
    const policy = body.spec.template.spec.restartPolicy;
    if (policy !== 'Never' && policy !== 'OnFailure')
      return {
        code: 422,
        body: status(
          422,
          'Invalid',
          `Job.batch "${name}" is invalid: spec.template.spec.restartPolicy: Unsupported value: "${policy}"`,
        ),
      };
    if (this.jobs.has(`${ns}/${name}`))
      return {
        code: 409,
        body: status(409, 'AlreadyExists', `jobs.batch "${name}" already exists`, {
          name,
          group: 'batch',
          kind: 'jobs',
        }),
      };
    this.sent.push(clone(body));
    this.counts.created += 1;
    const uid = randomUUID();
    const selectorLabels = { 'batch.kubernetes.io/controller-uid': uid };
    const podLabels = {
      ...(body.spec.template.metadata?.labels ?? {}),
      ...selectorLabels,
      'batch.kubernetes.io/job-name': name,
      'controller-uid': uid,
      'job-name': name,
    };
    const job: Obj = {
      apiVersion: 'batch/v1',
      kind: 'Job',
      metadata: {
        ...clone(body.metadata),
        namespace: ns,
        uid,
        resourceVersion: this.nextRv(),
        generation: 1,
        creationTimestamp: now(),
      },
      spec: {
        parallelism: 1,
        completions: 1,
        backoffLimit: 6,
        completionMode: 'NonIndexed',
        suspend: false,
        podReplacementPolicy: 'TerminatingOrFailed',
        manualSelector: false,
        ...clone(body.spec),
        selector: { matchLabels: selectorLabels },
        template: {
          ...clone(body.spec.template),
          metadata: { ...(body.spec.template.metadata ?? {}), labels: podLabels },
          spec: {
            dnsPolicy: 'ClusterFirst',
            schedulerName: 'default-scheduler',
            securityContext: {},
            terminationGracePeriodSeconds: 30,
            ...clone(body.spec.template.spec),
            containers: containers.map((c) => ({
              imagePullPolicy: /:latest$|^[^:]+$/.test(c.image) ? 'Always' : 'IfNotPresent',
              terminationMessagePath: '/dev/termination-log',
              terminationMessagePolicy: 'File',
              resources: {},
              ...clone(c),
            })),
          },
        },
      },
      status: {},
    };
    this.jobs.set(`${ns}/${name}`, job);
    const script = this.script(clone(job));
    if (script) this.run(ns, name, script);
    return { code: 201, body: clone(job) };
  }

  private podLog(ns: string, name: string, url: URL): Reply {
    this.counts.log += 1;
    const pod = this.pods.get(`${ns}/${name}`);
    if (!pod) return { code: 404, body: status(404, 'NotFound', `pods "${name}" not found`) };
    const container = url.searchParams.get('container');
    if (container && !pod.spec.containers.some((c: Obj) => c.name === container))
      return { code: 400, body: status(400, 'BadRequest', `container ${container} is not valid for pod ${name}`) };
    const lines = (this.logs.get(`${ns}/${name}`) ?? '').split('\n');
    if (lines[lines.length - 1] === '') lines.pop();
    const tail = Number(url.searchParams.get('tailLines') ?? -1);
    const shown = tail >= 0 ? lines.slice(Math.max(0, lines.length - tail)) : lines;
    return { code: 200, body: shown.map((l) => `${l}\n`).join('') };
  }
}
