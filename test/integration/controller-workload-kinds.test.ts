/**
 * Workloads beyond Deployments through the controller (`targets.<env>.kind`): a StatefulSet and
 * an Argo Rollout served by the Kubernetes fake (validated by @kubernetes-models), watched with
 * informers, judged by `kubectl rollout status`'s rules (Rollouts by their phase), against the
 * images the manifests in Git ask for.
 */
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kubeConfigFor } from '../../src/adapters/kube.js';
import { type RunningController, startController } from '../../src/controller/controller.js';
import { HttpServer } from '../../src/server/http-server.js';
import { git, pushCommit } from '../support/git-helpers.js';
import { KubeFake } from '../support/kube-fake.js';
import { makeRuntime, type TestRuntime } from '../support/runtime.js';

const IMAGE = (v: string) => `registry.example.com/api:${v}`;
const template = (v: string) => ({
  metadata: { labels: { app: 'api' } },
  spec: { containers: [{ name: 'api', image: IMAGE(v) }] },
});
const statefulSet = (v: string) => ({
  apiVersion: 'apps/v1',
  kind: 'StatefulSet',
  metadata: { name: 'db' },
  spec: { serviceName: 'db', replicas: 3, selector: { matchLabels: { app: 'api' } }, template: template(v) },
});
const rollout = (v: string) => ({
  apiVersion: 'argoproj.io/v1alpha1',
  kind: 'Rollout',
  metadata: { name: 'api' },
  spec: {
    replicas: 2,
    selector: { matchLabels: { app: 'api' } },
    template: template(v),
    strategy: { canary: { steps: [{ setWeight: 50 }, { pause: { duration: '1m' } }] } },
  },
});
const MANIFESTS = `# the workloads of api
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: db
spec:
  serviceName: db
  replicas: 3
  selector: { matchLabels: { app: api } }
  template:
    metadata: { labels: { app: api } }
    spec:
      containers:
        - name: api
          image: ${IMAGE('2.0.0')}
---
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata:
  name: api
spec:
  replicas: 2
  selector: { matchLabels: { app: api } }
  template:
    metadata: { labels: { app: api } }
    spec:
      containers:
        - name: api
          image: ${IMAGE('2.0.0')}
`;

async function waitFor<T>(what: string, probe: () => Promise<T | undefined | false>, ms = 20_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v) return v as T;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('controller: StatefulSets and Argo Rollouts as live state', () => {
  let kube: KubeFake;
  let t: TestRuntime;
  let http: HttpServer;
  let controller: RunningController;
  const live = async (appEnv: string) =>
    (await t.runtime.store.liveStates()).find((l) => `${l.app}/${l.env}` === appEnv);
  const state = async (id: string) => (await t.runtime.store.operation(id)).state;
  const seen = async (appEnv: string, needle: string) => {
    await waitFor(`${appEnv} showing "${needle}"`, async () => (await live(appEnv))?.detail.includes(needle));
    await new Promise((r) => setTimeout(r, 300));
  };

  beforeAll(async () => {
    kube = await KubeFake.start();
    kube.appliers.put('qa', statefulSet('1.0.0'));
    kube.appliers.setStatus('StatefulSet', 'qa', 'db', {
      observedGeneration: 1,
      replicas: 3,
      readyReplicas: 3,
      updatedReplicas: 3,
      currentRevision: 'db-1',
      updateRevision: 'db-1',
    });
    kube.appliers.put('staging', rollout('1.0.0'));
    kube.appliers.setStatus('Rollout', 'staging', 'api', { observedGeneration: '1', phase: 'Healthy' });
    t = await makeRuntime({
      edit: (c) => {
        c.apps[0].targets = {
          qa: {
            cluster: 'eu',
            namespace: 'qa',
            workloads: ['db'],
            kind: 'StatefulSet',
            manifests: 'k8s/workloads.yaml',
          },
          staging: {
            cluster: 'eu',
            namespace: 'staging',
            workloads: ['api'],
            kind: 'Rollout',
            manifests: 'k8s/workloads.yaml',
          },
        };
        c.kubernetes = { clusters: { eu: { server: kube.url } } };
      },
    });
    pushCommit(t.repo('api'), 'develop', {
      path: 'k8s/workloads.yaml',
      content: MANIFESTS,
      message: 'Run api as a Rollout, its db as a StatefulSet',
    });
    http = new HttpServer(pino({ level: 'silent' }));
    await http.listen(0, '127.0.0.1');
    controller = await startController({
      runtime: t.runtime,
      http,
      secrets: {},
      log: pino({ level: 'silent' }),
      kubeConfigs: { eu: kubeConfigFor({ server: kube.url }) },
      verifyCheckMs: 100,
    });
    await waitFor(
      'first sight',
      async () => (await live('api/qa'))?.state === 'healthy' && (await live('api/staging'))?.state === 'healthy',
    );
  });

  afterAll(async () => {
    await controller?.stop();
    await http?.close();
    await t?.close();
    await kube?.close();
  });

  it('a StatefulSet: drifted until it runs the new image, progressing while pods update, then the promotion is verified', async () => {
    const reply = await t.run('promote api qa');
    expect(reply.operation?.state).toBe('verifying');
    const id = reply.operation!.id;
    expect(git(t.repo('api'), 'show', 'qa:k8s/workloads.yaml')).toContain(IMAGE('2.0.0'));
    await seen('api/qa', `Git wants ${IMAGE('2.0.0')}`);
    expect((await live('api/qa'))?.state).toBe('drifted');
    expect(await state(id)).toBe('verifying');

    kube.appliers.put('qa', statefulSet('2.0.0'));
    kube.appliers.setStatus('StatefulSet', 'qa', 'db', {
      observedGeneration: 2,
      replicas: 3,
      readyReplicas: 3,
      updatedReplicas: 1,
      currentRevision: 'db-1',
      updateRevision: 'db-2',
    });
    await seen('api/qa', 'StatefulSet qa/db: 1 of 3 pods updated');
    expect(await state(id)).toBe('verifying');

    kube.appliers.setStatus('StatefulSet', 'qa', 'db', {
      observedGeneration: 2,
      replicas: 3,
      readyReplicas: 3,
      updatedReplicas: 3,
      currentRevision: 'db-2',
      updateRevision: 'db-2',
    });
    await waitFor('the verdict', async () => (await state(id)) !== 'verifying');
    expect(await state(id)).toBe('succeeded');
    expect((await t.run('list api qa')).text).toMatch(/api +qa .* healthy/);
  });

  it('an Argo Rollout: paused waits, Degraded fails the promotion with its message', async () => {
    const asked = await t.run('promote api staging');
    const id = (await t.run(`approve ${asked.operation!.id}`, 'U_QA')).operation!.id;
    expect(await state(id)).toBe('verifying');
    kube.appliers.put('staging', rollout('2.0.0'));
    kube.appliers.setStatus('Rollout', 'staging', 'api', {
      observedGeneration: '2',
      phase: 'Paused',
      message: 'CanaryPauseStep',
    });
    await seen('api/staging', 'Rollout staging/api: paused: CanaryPauseStep');
    expect(await state(id)).toBe('verifying');
    kube.appliers.setStatus('Rollout', 'staging', 'api', {
      observedGeneration: '2',
      phase: 'Degraded',
      message: 'RolloutAborted: Rollout aborted update to revision 2',
    });
    await waitFor('the failure', async () => (await state(id)) === 'failed');
    expect((await t.runtime.store.operation(id)).error).toContain(
      'RolloutAborted: Rollout aborted update to revision 2',
    );
  });
});
