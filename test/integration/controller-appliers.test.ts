/**
 * The controller with GitOps appliers, against the Kubernetes fake and the sandbox's real Git
 * repositories: a promotion to an environment applied by Argo CD stays unverified until the
 * Application reports the commit the promotion wrote as Synced and Healthy; a Flux
 * Kustomization the same with its Ready condition; a Degraded applier for our commit fails the
 * promotion with its message and rolls back; the refresh annotation reaches the Application
 * right after the write; `list` shows what the applier reports.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kubeConfigFor } from '../../src/adapters/kube.js';
import { type RunningController, startController } from '../../src/controller/controller.js';
import { HttpServer } from '../../src/server/http-server.js';
import { ArgoCdPlayer, argoApplication, FluxPlayer, fluxKustomization } from '../support/applier-play.js';
import { pushCommit } from '../support/git-helpers.js';
import { createGitopsRepo, overlayText } from '../support/gitops-repo.js';
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

/** A developer pushes a new version of api to develop. */
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

describe('controller: verification through Argo CD and Flux appliers', () => {
  let kube: KubeFake;
  let t: TestRuntime;
  let http: HttpServer;
  let controller: RunningController;
  let argo: ArgoCdPlayer;
  let flux: FluxPlayer;
  /** The staging smoke check's endpoint (verify.checks): what it was asked. */
  let smoke: Server;
  const smokeHits: string[] = [];

  /** What the deployment controller does once the applier has applied the manifests. */
  const rollOut = (ns: string, version: string) => {
    const d = kube.setImage(ns, 'api', IMAGE(version));
    kube.setStatus(ns, 'api', {
      observedGeneration: d.metadata.generation,
      updatedReplicas: 2,
      availableReplicas: 2,
      conditions: COMPLETE,
    });
  };
  const live = async (appEnv: string) =>
    (await t.runtime.store.liveStates()).find((l) => `${l.app}/${l.env}` === appEnv);
  const state = async (id: string) => (await t.runtime.store.operation(id)).state;
  const head = (branch: string) => git(t.repo('api'), 'rev-parse', branch);
  /** Wait until the controller has taken in the applier's last status (the live state says it), then a few sweeps more. */
  const seen = async (appEnv: string, needle: string) => {
    await waitFor(`live state of ${appEnv} showing "${needle}"`, async () =>
      (await live(appEnv))?.detail.includes(needle),
    );
    await new Promise((r) => setTimeout(r, 300));
  };

  beforeAll(async () => {
    smoke = createServer((req, res) => {
      smokeHits.push(req.url ?? '');
      res.end('{"status":"ok"}');
    });
    await new Promise<void>((resolve) => smoke.listen(0, '127.0.0.1', resolve));
    const smokeUrl = `http://127.0.0.1:${(smoke.address() as AddressInfo).port}/health?version={version}`;
    kube = await KubeFake.start();
    for (const [ns, v] of [
      ['qa', '1.4.0'],
      ['staging', '1.3.0'],
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
          qa: {
            cluster: 'kind-eu',
            namespace: 'qa',
            workloads: ['api'],
            applier: { kind: 'argocd-application', name: 'api-qa', namespace: 'argocd', refresh: true },
          },
          staging: {
            cluster: 'kind-eu',
            namespace: 'staging',
            workloads: ['api'],
            applier: { kind: 'flux-kustomization', name: 'api-staging', namespace: 'flux-system' },
          },
        };
        c.environments[1].verify = { timeout: '10m', autoRollback: true };
        c.environments[2].verify = { timeout: '10m', checks: [{ kind: 'http', name: 'smoke', url: smokeUrl }] };
        c.kubernetes = { clusters: { 'kind-eu': { server: kube.url } } };
      },
    });
    kube.appliers.put('argocd', argoApplication('api-qa', t.repo('api'), 'k8s', 'qa'));
    kube.appliers.put('flux-system', fluxKustomization('api-staging', './k8s'));
    argo = new ArgoCdPlayer(kube.appliers, 'argocd', 'api-qa');
    flux = new FluxPlayer(kube.appliers, 'flux-system', 'api-staging', 'staging');
    argo.synced(head('qa'));
    flux.ready(head('staging'));
    http = new HttpServer(pino({ level: 'silent' }));
    await http.listen(0, '127.0.0.1');
    controller = await startController({
      runtime: t.runtime,
      http,
      secrets: {},
      log: pino({ level: 'silent' }),
      kubeConfigs: { 'kind-eu': kubeConfigFor({ server: kube.url }) },
      verifyCheckMs: 100,
    });
    await waitFor('first sight of api in qa', async () => (await live('api/qa'))?.state === 'healthy');
  });

  afterAll(async () => {
    await controller?.stop();
    await http?.close();
    await t?.close();
    await kube?.close();
    await new Promise((resolve) => (smoke ? smoke.close(resolve) : resolve(undefined)));
  });

  it('list shows what the applier reports: the revision it synced, and its health', async () => {
    await waitFor('staging seen', async () => (await live('api/staging'))?.state === 'healthy');
    const reply = await t.run('list api');
    const row = (e: string) => reply.text.split('\n').find((l) => l.startsWith(`api  ${e} `)) ?? '';
    expect(row('qa')).toContain(`healthy [Argo CD argocd/api-qa: synced ${head('qa').slice(0, 8)} and healthy]`);
    expect(row('staging')).toContain(
      `healthy [Flux Kustomization flux-system/api-staging: ready, applied ${head('staging').slice(0, 8)}]`,
    );
    // The board's matrix carries it too.
    const cell = reply.matrix?.apps[0]?.cells.find((c) => c.env === 'qa');
    expect(cell?.applier).toBe(`Argo CD argocd/api-qa: synced ${head('qa').slice(0, 8)} and healthy`);
    // An environment without an applier shows the state alone.
    expect(row('development')).not.toContain('[');
  });

  it('Argo CD: unverified while the Application reports an older revision or is out of sync, verified once it reports our commit Synced and Healthy', async () => {
    const before = head('qa');
    const reply = await t.run('promote api qa');
    expect(reply.operation?.state).toBe('verifying');
    const id = reply.operation!.id;
    const ours = head('qa');
    expect(ours).not.toBe(before);
    // Right after the write, Conveyor asked Argo CD to refresh the Application.
    await waitFor('the refresh annotation', () =>
      kube.appliers.patches.some(
        (p) => p.name === 'api-qa' && p.annotations['argocd.argoproj.io/refresh'] === 'normal',
      ),
    );
    expect(kube.appliers.get('Application', 'argocd', 'api-qa')?.metadata.annotations).toEqual({
      'argocd.argoproj.io/refresh': 'normal',
    });

    // The cluster already runs the new image (say someone applied it by hand): the applier has not synced our commit.
    rollOut('qa', '1.4.1');
    await seen('api/qa', `synced ${before.slice(0, 8)} so far, waiting for ${ours.slice(0, 8)}`);
    expect(await state(id)).toBe('verifying');

    argo.outOfSync(ours);
    await seen('api/qa', 'Argo CD argocd/api-qa: out of sync');
    expect(await state(id)).toBe('verifying');

    argo.syncing(ours);
    await seen('api/qa', 'Argo CD argocd/api-qa: out of sync');
    expect(await state(id)).toBe('verifying');
    argo.synced(ours, 'Progressing');
    await seen('api/qa', 'synced, progressing');
    expect(await state(id)).toBe('verifying');

    argo.synced(ours);
    await waitFor('the verdict', async () => (await state(id)) !== 'verifying');
    expect(await state(id)).toBe('succeeded');
    const verdict = t.notifier.sent.find(
      (s) => !s.edit && s.notice.text.includes(`Rollout of promote api → qa (${id}) is healthy`),
    );
    expect(verdict?.notice.text).toContain(`Argo CD argocd/api-qa: synced ${ours.slice(0, 8)} and healthy`);
    const list = await t.run('list api qa');
    expect(list.text).toContain(`healthy [Argo CD argocd/api-qa: synced ${ours.slice(0, 8)} and healthy]`);
  });

  it('Argo CD Degraded for our commit fails the promotion with its message, and qa rolls back by itself', async () => {
    pushDevelop(t.repo('api'), '1.5.0');
    const before = head('qa');
    const reply = await t.run('promote api qa');
    const id = reply.operation!.id;
    const ours = head('qa');
    // A Degraded report of the revision before ours is not ours to judge.
    argo.degraded(before, 'old pods restarting');
    await seen('api/qa', 'old pods restarting');
    expect(await state(id)).toBe('verifying');

    rollOut('qa', '1.5.0');
    argo.degraded(ours, 'Deployment "api" exceeded its progress deadline');
    await waitFor('the failure', async () => (await state(id)) === 'failed');
    const failed = await t.runtime.store.operation(id);
    expect(failed.error).toContain('Argo CD argocd/api-qa: degraded: Deployment "api" exceeded its progress deadline');
    const rollback = await waitFor('the automatic rollback', async () => {
      const [o] = await t.runtime.store.operations({ app: 'api', env: 'qa', kinds: ['rollback'] });
      return o?.state === 'verifying' && o;
    });
    expect(git(t.repo('api'), 'show', 'qa:k8s/deployment.yaml')).toContain(IMAGE('1.4.1'));
    const said = t.notifier.sent.find(
      (s) => !s.edit && s.notice.text.includes(`Rollout of promote api → qa (${id}) failed`),
    );
    expect(said?.notice.text).toContain('exceeded its progress deadline');
    expect(said?.notice.text).toContain(`rolls back automatically`);
    // The rollback verifies the same way: Argo CD syncs the rollback's commit.
    const back = head('qa');
    rollOut('qa', '1.4.1');
    argo.synced(back);
    await waitFor('the rollback verdict', async () => (await state(rollback.id)) !== 'verifying');
    expect(await state(rollback.id)).toBe('succeeded');
  });

  it('Flux: verified once Ready=True with our commit applied (branch@sha1 or plain sha); a failed health check of our commit fails it', async () => {
    const before = head('staging');
    const asked = await t.run('promote api staging');
    const approved = await t.run(`approve ${asked.operation!.id}`, 'U_QA');
    expect(approved.operation?.state).toBe('verifying');
    const id = approved.operation!.id;
    const ours = head('staging');
    // refresh is off for staging: nothing was asked of Flux.
    expect(kube.appliers.patches.filter((p) => p.name === 'api-staging')).toEqual([]);
    rollOut('staging', '1.4.1');
    await seen('api/staging', `applied ${before.slice(0, 8)} so far, waiting for ${ours.slice(0, 8)}`);
    expect(await state(id)).toBe('verifying');
    flux.reconciling(ours, before);
    await seen('api/staging', 'reconciling: Reconciliation in progress');
    expect(await state(id)).toBe('verifying');
    // The environment's checks wait for the applier too.
    expect(smokeHits).toEqual([]);
    flux.ready(ours, true); // the plain-sha form
    await waitFor('the verdict', async () => (await state(id)) !== 'verifying');
    expect(await state(id)).toBe('succeeded');
    expect(smokeHits).toHaveLength(1);

    // Now a version whose health check fails under Flux (staging has no autoRollback).
    pushDevelop(t.repo('api'), '1.6.0');
    expect((await t.run('promote api qa')).operation?.state).toBe('verifying');
    const qa = head('qa');
    rollOut('qa', '1.6.0');
    argo.synced(qa);
    await waitFor('qa verified', async () =>
      (await live('api/qa'))?.detail.includes(`synced ${qa.slice(0, 8)} and healthy`),
    );
    const asked2 = await t.run('promote api staging');
    const id2 = (await t.run(`approve ${asked2.operation!.id}`, 'U_QA')).operation!.id;
    const ours2 = head('staging');
    rollOut('staging', '1.6.0');
    flux.failed(
      ours2,
      ours,
      "health check failed after 5m0s: timeout waiting for: [Deployment/staging/api status: 'InProgress']",
    );
    await waitFor('the failure', async () => (await state(id2)) === 'failed');
    expect(smokeHits).toHaveLength(1); // no check ran for the failed one
    expect((await t.runtime.store.operation(id2)).error).toContain(
      'Flux Kustomization flux-system/api-staging: HealthCheckFailed: health check failed after 5m0s',
    );
    expect(await t.runtime.store.operations({ app: 'api', env: 'staging', kinds: ['rollback'] })).toEqual([]);
  });
});

describe('controller: an image app whose GitOps repository Argo CD applies', () => {
  const WORKER = '127.0.0.1:5000/team/worker';
  const D0 = `sha256:${'0'.repeat(64)}`;
  const D1 = `sha256:${'1'.repeat(64)}`;
  const ENVS = ['development', 'qa', 'staging', 'prod'];
  let kube: KubeFake;
  let t: TestRuntime;
  let http: HttpServer;
  let controller: RunningController;
  let dir: string;
  let repo: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'conveyor-image-applier-'));
    repo = createGitopsRepo(dir, { image: WORKER, envs: ENVS, tag: '1.0.0', digest: D0 });
    kube = await KubeFake.start();
    kube.applyDeployment('worker-qa', deploymentObject('worker', { image: `${WORKER}:1.0.0@${D0}`, replicas: 1 }));
    kube.setStatus('worker-qa', 'worker', {
      observedGeneration: 1,
      replicas: 1,
      updatedReplicas: 1,
      availableReplicas: 1,
      conditions: COMPLETE,
    });
    kube.appliers.put('argocd', argoApplication('worker-qa', repo, 'overlays/qa', 'main'));
    new ArgoCdPlayer(kube.appliers, 'argocd', 'worker-qa').synced(git(repo, 'rev-parse', 'main'));
    t = await makeRuntime({
      edit: (c) => {
        c.apps = [
          {
            name: 'worker',
            repo: './repos/api.git',
            strategy: 'image',
            image: { repository: WORKER, registryUrl: 'http://127.0.0.1:5000', policy: { semver: '>=1.0.0' } },
            gitops: { repo, paths: Object.fromEntries(ENVS.map((e) => [e, `overlays/${e}`])) },
            targets: {
              qa: {
                cluster: 'kind-eu',
                namespace: 'worker-qa',
                workloads: ['worker'],
                applier: { kind: 'argocd-application', name: 'worker-qa', namespace: 'argocd', refresh: true },
              },
            },
          },
        ];
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
      verifyCheckMs: 100,
    });
  });

  afterAll(async () => {
    await controller?.stop();
    await http?.close();
    await t?.close();
    await kube?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('promote worker qa is verified once the Application reports the GitOps commit that wrote the image, not before', async () => {
    pushCommit(repo, 'main', {
      path: 'overlays/development/kustomization.yaml',
      content: overlayText('development', WORKER, '1.1.0', D1),
      message: 'ci: worker 1.1.0',
    });
    const ci = git(repo, 'rev-parse', 'main');
    const reply = await t.run('promote worker qa');
    expect(reply.operation?.state).toBe('verifying');
    const id = reply.operation!.id;
    // The GitOps commit that wrote qa's image carries the operation's trailer.
    const ours = git(repo, 'rev-parse', 'main');
    expect(git(repo, 'log', '-1', '--format=%B', ours)).toContain(`Conveyor-Operation: ${id}`);
    await waitFor('the refresh annotation', () => kube.appliers.patches.some((p) => p.name === 'worker-qa'));

    const argo = new ArgoCdPlayer(kube.appliers, 'argocd', 'worker-qa');
    const d = kube.setImage('worker-qa', 'worker', `${WORKER}:1.1.0@${D1}`);
    kube.setStatus('worker-qa', 'worker', {
      observedGeneration: d.metadata.generation,
      updatedReplicas: 1,
      availableReplicas: 1,
      conditions: COMPLETE,
    });
    // Synced and healthy, but at the CI commit before ours: not deployed.
    argo.synced(ci);
    const live = async () => (await t.runtime.store.liveStates()).find((l) => l.app === 'worker' && l.env === 'qa');
    await waitFor('the applier seen at the CI commit', async () =>
      (await live())?.detail.includes(`synced ${ci.slice(0, 8)}`),
    );
    await new Promise((r) => setTimeout(r, 300));
    expect((await t.runtime.store.operation(id)).state).toBe('verifying');

    argo.synced(ours);
    await waitFor('the verdict', async () => (await t.runtime.store.operation(id)).state !== 'verifying');
    expect((await t.runtime.store.operation(id)).state).toBe('succeeded');
    const list = await t.run('list worker qa');
    expect(list.text).toContain(`healthy [Argo CD argocd/worker-qa: synced ${ours.slice(0, 8)} and healthy]`);
  });
});
