/**
 * The controller against the fake Kubernetes API and the sandbox's real Git repositories:
 * promotions verified by their rollouts, automatic rollback, and transitions reported once
 * even when the watch is cut or the API server answers 410 Gone.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kubeConfigFor } from '../../src/adapters/kube.js';
import { type RunningController, startController } from '../../src/controller/controller.js';
import { HttpServer } from '../../src/server/http-server.js';
import { deploymentObject, KubeFake } from '../support/kube-fake.js';
import { makeRuntime, type TestRuntime } from '../support/runtime.js';

const IMAGE = (v: string) => `registry.example.com/api:${v}`;
const COMPLETE = [{ type: 'Progressing', status: 'True', reason: 'NewReplicaSetAvailable' }];
const env = { ...process.env, GIT_CONFIG_GLOBAL: '/dev/null', GIT_CONFIG_NOSYSTEM: '1' };
const git = (dir: string, ...args: string[]) => execFileSync('git', args, { cwd: dir, encoding: 'utf8', env }).trim();

async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined | false> | T | undefined | false,
  ms = 20_000,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v) return v as T;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** A developer pushes a new version of api to develop (a new image in the manifest). */
function pushDevelop(bare: string, version: string): string {
  const work = mkdtempSync(join(tmpdir(), 'conveyor-push-'));
  try {
    git(work, 'clone', '--quiet', '--branch', 'develop', bare, '.');
    const yaml = `apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: api\nspec:\n  replicas: 2\n  selector: { matchLabels: { app: api } }\n  template:\n    metadata: { labels: { app: api } }\n    spec:\n      containers:\n        - name: api\n          image: ${IMAGE(version)}\n`;
    writeFileSync(join(work, 'k8s/deployment.yaml'), yaml);
    git(
      work,
      '-c',
      'user.name=Dev',
      '-c',
      'user.email=dev@example.test',
      'commit',
      '--quiet',
      '-am',
      `Release ${version}`,
    );
    git(work, 'push', '--quiet', 'origin', 'develop');
    return git(work, 'rev-parse', 'HEAD');
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

describe('controller: rollouts, verification and reports', () => {
  let kube: KubeFake;
  let t: TestRuntime;
  let http: HttpServer;
  let controller: RunningController;

  /** What the deployment controller would do: roll `ns/api` to `version` and finish. */
  const rollOut = (ns: string, version: string) => {
    const d = kube.setImage(ns, 'api', IMAGE(version));
    kube.setStatus(ns, 'api', { observedGeneration: d.metadata.generation, updatedReplicas: 1, availableReplicas: 2 });
    kube.setStatus(ns, 'api', { updatedReplicas: 2, availableReplicas: 2, conditions: COMPLETE });
  };
  const posts = () => t.notifier.sent.filter((s) => !s.edit);
  const controllerPosts = (needle: string) => posts().filter((s) => s.notice.text.includes(needle));
  const live = async (appEnv: string) =>
    (await t.runtime.store.liveStates()).find((l) => `${l.app}/${l.env}` === appEnv);

  beforeAll(async () => {
    kube = await KubeFake.start();
    for (const [ns, v] of [
      ['dev', '1.4.1'],
      ['qa', '1.4.0'],
    ] as const) {
      kube.applyDeployment(ns, deploymentObject('api', { image: IMAGE(v), replicas: 2 }));
      kube.setStatus(ns, 'api', {
        observedGeneration: 1,
        replicas: 2,
        updatedReplicas: 2,
        availableReplicas: 2,
        conditions: COMPLETE,
      });
    }
    t = await makeRuntime({
      edit: (c) => {
        c.apps[0].targets = {
          development: { cluster: 'kind-eu', namespace: 'dev', workloads: ['api'] },
          qa: { cluster: 'kind-eu', namespace: 'qa', workloads: ['api'] },
        };
        c.environments[1].verify = { timeout: '10m', autoRollback: true };
        c.kubernetes = { clusters: { 'kind-eu': { server: kube.url } } };
      },
    });
    http = new HttpServer(pino({ level: 'silent' }));
    await http.listen(0, '127.0.0.1');
    controller = await startController({
      runtime: t.runtime,
      http,
      secrets: {},
      log: pino({ level: 'silent' }),
      kubeConfigs: { 'kind-eu': kubeConfigFor({ server: kube.url }) },
      verifyCheckMs: 200,
    });
    await waitFor('first sight of api in qa', async () => (await live('api/qa'))?.state === 'healthy');
  });

  afterAll(async () => {
    await controller?.stop();
    await http?.close();
    await t?.close();
    await kube?.close();
  });

  it('leads alone on the embedded store, and the first sight of a healthy workload is not news', async () => {
    expect(controller.isLeader()).toBe(true);
    expect(controllerPosts('cluster kind-eu')).toEqual([]);
    const reply = await t.run('list api');
    expect(reply.text).toMatch(/qa.*healthy/);
  });

  it('a promotion whose rollout succeeds ends succeeded, with one message threaded under the operation', async () => {
    const reply = await t.run('promote api qa');
    expect(reply.operation?.state).toBe('verifying');
    const id = reply.operation!.id;
    rollOut('qa', '1.4.1');
    const op = await waitFor('the verdict', async () => {
      const o = await t.runtime.store.operation(id);
      return o.state !== 'verifying' && o;
    });
    expect(op.state).toBe('succeeded');
    const verdicts = controllerPosts('cluster kind-eu');
    expect(verdicts).toHaveLength(1);
    expect(verdicts[0]!.notice.text).toContain(`Rollout of promote api → qa (${id}) is healthy`);
    expect(verdicts[0]!.notice.thread).toEqual(op.message);
    expect((await live('api/qa'))?.state).toBe('healthy');
  });

  it('a rollout that exceeds its progress deadline fails the promotion and rolls back by itself', async () => {
    pushDevelop(t.repo('api'), '1.5.0');
    const before = controllerPosts('cluster kind-eu').length;
    const reply = await t.run('promote api qa');
    expect(reply.operation?.state).toBe('verifying');
    const id = reply.operation!.id;
    const d = kube.setImage('qa', 'api', IMAGE('1.5.0'));
    kube.setStatus('qa', 'api', {
      observedGeneration: d.metadata.generation,
      updatedReplicas: 1,
      availableReplicas: 1,
      conditions: [
        {
          type: 'Progressing',
          status: 'False',
          reason: 'ProgressDeadlineExceeded',
          message: 'ReplicaSet "api-7f" has timed out progressing.',
        },
      ],
    });
    const failed = await waitFor('the failure', async () => {
      const o = await t.runtime.store.operation(id);
      return o.state === 'failed' && o;
    });
    expect(failed.error).toContain('progress deadline');
    const rollback = await waitFor('the automatic rollback', async () => {
      const [o] = await t.runtime.store.operations({ app: 'api', env: 'qa', kinds: ['rollback'] });
      return o?.state === 'verifying' && o;
    });
    expect(rollback.requester).toBe('conveyor');
    // Git shows it: qa runs the previous version again, by a new commit (no force).
    const bare = t.repo('api');
    expect(git(bare, 'show', 'qa:k8s/deployment.yaml')).toContain(IMAGE('1.4.1'));
    expect(git(bare, 'log', '-1', '--format=%s', 'qa')).toBeTruthy();
    const said = controllerPosts('cluster kind-eu').slice(before);
    expect(said).toHaveLength(1);
    expect(said[0]!.notice.text).toContain('failed');
    expect(said[0]!.notice.text).toContain(`rolls back automatically`);
    expect(said[0]!.notice.text).toContain(rollback.id);
    // The cluster follows Git back: the rollback verifies.
    rollOut('qa', '1.4.1');
    const done = await waitFor('the rollback verdict', async () => {
      const o = await t.runtime.store.operation(rollback.id);
      return o.state !== 'verifying' && o;
    });
    expect(done.state).toBe('succeeded');
    expect(controllerPosts('cluster kind-eu').slice(before)).toHaveLength(2);
  });

  it('a push to develop is announced once and its rollout reported once per transition, through a cut watch and a 410 Gone', async () => {
    const sha = pushDevelop(t.repo('api'), '1.6.0');
    await controller.pollNow();
    await controller.pollNow(); // a second pass finds nothing new
    const announce = controllerPosts('New development version of api');
    expect(announce).toHaveLength(1);
    expect(announce[0]!.notice.text).toContain(sha.slice(0, 7));
    expect(announce[0]!.notice.text).toContain('cluster kind-eu');
    const devPosts = () => controllerPosts('api in development (cluster kind-eu');
    await waitFor('the drift', () => devPosts().length === 1);
    expect(devPosts()[0]!.notice.text).toContain('has drifted from Git');
    expect(devPosts()[0]!.notice.thread?.ts).toBe(announce[0]!.ref.ts);

    // The rollout starts, then the watch connection is cut mid-rollout.
    const d = kube.setImage('dev', 'api', IMAGE('1.6.0'));
    await waitFor('progressing', () => devPosts().length === 2);
    const watchesBefore = kube.counts.watch;
    kube.dropWatches('destroy');
    kube.setStatus('dev', 'api', {
      observedGeneration: d.metadata.generation,
      updatedReplicas: 1,
      availableReplicas: 2,
    });
    await waitFor('the watch to come back', () => kube.counts.watch > watchesBefore && kube.openWatches > 0);
    kube.setStatus('dev', 'api', { updatedReplicas: 2, availableReplicas: 2, conditions: COMPLETE });
    await waitFor('healthy', () => devPosts().length === 3);

    // Next version: the watch is cut and the history compacted while the rollout starts.
    const listsBefore = kube.counts.list;
    pushDevelop(t.repo('api'), '1.7.0');
    await controller.pollNow();
    await waitFor('the second drift', () => devPosts().length === 4);
    kube.dropWatches('destroy');
    const d2 = kube.setImage('dev', 'api', IMAGE('1.7.0'));
    kube.expireHistory();
    await waitFor('progressing after the 410 re-list', () => devPosts().length === 5);
    expect(kube.counts.list).toBeGreaterThan(listsBefore);
    kube.setStatus('dev', 'api', {
      observedGeneration: d2.metadata.generation,
      updatedReplicas: 2,
      availableReplicas: 2,
      conditions: COMPLETE,
    });
    await waitFor('healthy again', () => devPosts().length === 6);

    const states = devPosts().map(
      (p) => /(is healthy|is rolling out|has drifted from Git|FAILED)/.exec(p.notice.text)?.[1],
    );
    expect(states).toEqual([
      'has drifted from Git',
      'is rolling out',
      'is healthy',
      'has drifted from Git',
      'is rolling out',
      'is healthy',
    ]);
    expect((await live('api/development'))?.detail).toContain(IMAGE('1.7.0'));
  });
});
