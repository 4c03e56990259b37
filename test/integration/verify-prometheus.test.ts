/**
 * Prometheus analysis after a rollout, through the controller: a real Prometheus (Debian's
 * `prometheus`, on loopback, scraping every second an exporter whose samples the test sets),
 * the sandbox's real Git repositories and the Kubernetes fake. `promote api qa`, the cluster
 * rolls out, then the check `error-rate` asks Prometheus three times for the new version's
 * error ratio: a low ratio verifies the promotion, a high one fails it and rolls back by itself
 * (the check's output is the reason), a version with no data is inconclusive (failed, not
 * rolled back). Results are in the thread, on the operation, in the audit log and in history.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kubeConfigFor } from '../../src/adapters/kube.js';
import { type RunningController, startController } from '../../src/controller/controller.js';
import type { Operation } from '../../src/core/operation.js';
import { HttpServer } from '../../src/server/http-server.js';
import { deploymentObject, KubeFake } from '../support/kube-fake.js';
import { prometheusMissing, type RunningPrometheus, startPrometheus } from '../support/prometheus.js';
import { makeRuntime, type TestRuntime } from '../support/runtime.js';

if (prometheusMissing) console.warn(`skipping the Prometheus analysis tests: ${prometheusMissing}`);

const IMAGE = (v: string) => `registry.example.com/api:${v}`;
const COMPLETE = [{ type: 'Progressing', status: 'True', reason: 'NewReplicaSetAvailable' }];
const env = { ...process.env, GIT_CONFIG_GLOBAL: '/dev/null', GIT_CONFIG_NOSYSTEM: '1' };
const git = (dir: string, ...args: string[]) => execFileSync('git', args, { cwd: dir, encoding: 'utf8', env }).trim();
const series = (version: string) => `demo_error_ratio{app="api",env="qa",version="${version}"}`;
const QUERY = 'demo_error_ratio{app="{app}",env="{env}",version="{version}"}';

async function waitFor<T>(what: string, probe: () => Promise<T | undefined | false>, ms = 60_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (let i = 0; i < 10_000; i++) {
    const v = await probe();
    if (v) return v as T;
    if (Date.now() > deadline) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** A developer pushes a new version of api to develop (a new image in the manifest). */
function pushDevelop(bare: string, version: string): void {
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
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

describe.skipIf(prometheusMissing)('verification: Prometheus analysis after the rollout', () => {
  let prom: RunningPrometheus;
  let kube: KubeFake;
  let t: TestRuntime;
  let http: HttpServer;
  let controller: RunningController;

  const rollOut = (version: string) => {
    const d = kube.setImage('qa', 'api', IMAGE(version));
    kube.setStatus('qa', 'api', {
      observedGeneration: d.metadata.generation,
      updatedReplicas: 2,
      availableReplicas: 2,
      conditions: COMPLETE,
    });
  };
  const thread = (op: Operation) =>
    t.notifier.sent.filter((s) => !s.edit && s.notice.thread?.ts === op.message?.ts).map((s) => s.notice.text);
  const verdict = (id: string) =>
    waitFor('the verdict', async () => {
      const o = await t.runtime.store.operation(id);
      return o.state !== 'verifying' && o;
    });

  beforeAll(async () => {
    prom = await startPrometheus();
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
        c.environments[1].verify = {
          timeout: '10m',
          autoRollback: true,
          checks: [
            {
              kind: 'prometheus',
              name: 'error-rate',
              address: prom.url,
              query: QUERY,
              successCondition: '< 0.05',
              count: 3,
              interval: '1s',
            },
          ],
        };
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
    await waitFor('first sight of api in qa', async () =>
      (await t.runtime.store.liveStates()).some((l) => l.app === 'api' && l.env === 'qa' && l.state === 'healthy'),
    );
  }, 120_000);

  afterAll(async () => {
    await controller?.stop();
    await http?.close();
    await t?.close();
    await kube?.close();
    await prom?.stop();
  });

  it('a low error ratio for the new version verifies the promotion', async () => {
    prom.exporter.samples.set(series('1.4.1'), 0.01);
    await prom.waitFor(series('1.4.1'), 0.01);
    const reply = await t.run('promote api qa');
    expect(reply.operation?.state).toBe('verifying');
    const id = reply.operation!.id;
    rollOut('1.4.1');
    const op = await verdict(id);
    expect(op.state).toBe('succeeded');
    const lines = thread(op);
    expect(lines).toContain('Running 1 check: error-rate (prometheus)');
    expect(lines).toContain('✓ check error-rate (prometheus) passed: 3 of 3 measurements passed: value 0.01 < 0.05');
    expect(lines.at(-1)).toBe(`Verified: promote api → qa (${id}): 1 check passed`);
    const audit = await t.runtime.store.auditLog({ operationId: id, action: 'verify.check' });
    expect(audit.map((a) => a.detail)).toEqual([
      expect.objectContaining({ check: 'error-rate', kind: 'prometheus', status: 'passed' }),
    ]);
  }, 90_000);

  it('a high error ratio fails the promotion and rolls back with the check output as the reason', async () => {
    pushDevelop(t.repo('api'), '1.5.0');
    prom.exporter.samples.set(series('1.5.0'), 0.3);
    await prom.waitFor(series('1.5.0'), 0.3);
    const reply = await t.run('promote api qa');
    const id = reply.operation!.id;
    rollOut('1.5.0');
    const op = await verdict(id);
    expect(op.state).toBe('failed');
    const why = 'check error-rate (prometheus) failed: 1 of 1 measurement failed (limit 0): value 0.3, expected < 0.05';
    expect(op.error).toBe(why);
    const rollback = await waitFor('the automatic rollback', async () => {
      const [o] = await t.runtime.store.operations({ app: 'api', env: 'qa', kinds: ['rollback'] });
      return o?.state === 'verifying' && o;
    });
    expect(rollback.requester).toBe('conveyor');
    expect((rollback.plan as { reason: string }).reason).toBe(`automatic rollback: ${id}: ${why}`);
    expect(git(t.repo('api'), 'show', 'qa:k8s/deployment.yaml')).toContain(IMAGE('1.4.1'));
    const lines = thread(op);
    expect(lines).toContain(
      `✗ check error-rate (prometheus) failed: 1 of 1 measurement failed (limit 0): value 0.3, expected < 0.05`,
    );
    expect(lines.at(-1)).toContain(`Verification failed: promote api → qa (${id}): ${why}`);
    expect(lines.at(-1)).toContain(`rolls back automatically to`);
    expect(lines.at(-1)).toContain(`(${rollback.id}, verifying) because check error-rate failed`);
    // The cluster follows Git back; the rollback is analysed too, on 1.4.1's low ratio.
    rollOut('1.4.1');
    expect((await verdict(rollback.id)).state).toBe('succeeded');
    const history = await t.run('history api');
    expect(history.text).toContain(id);
    expect(history.text).toContain('value 0.3, expected < 0.05');
  }, 90_000);

  it('a version Prometheus has no data for is inconclusive: failed, and not rolled back', async () => {
    pushDevelop(t.repo('api'), '1.6.0');
    await prom.waitFor(series('1.6.0'), null);
    const rollbacksBefore = (await t.runtime.store.operations({ app: 'api', env: 'qa', kinds: ['rollback'] })).length;
    const reply = await t.run('promote api qa');
    const id = reply.operation!.id;
    rollOut('1.6.0');
    const op = await verdict(id);
    expect(op.state).toBe('failed');
    expect(op.error).toBe(
      'check error-rate (prometheus) was inconclusive: 1 of 1 measurement had no result (limit 0): the query returned no data',
    );
    const lines = thread(op);
    expect(lines.at(-1)).toContain(
      'not rolled back automatically: an inconclusive check does not say the version is bad',
    );
    expect(lines.at(-1)).toContain('`rollback api qa`');
    expect(await t.runtime.store.operations({ app: 'api', env: 'qa', kinds: ['rollback'] })).toHaveLength(
      rollbacksBefore,
    );
    expect(git(t.repo('api'), 'show', 'qa:k8s/deployment.yaml')).toContain(IMAGE('1.6.0'));
    const stored = (op.progress as { verifyChecks?: { results: Record<string, { status: string }> } }).verifyChecks;
    expect(stored?.results['error-rate']?.status).toBe('inconclusive');
  }, 90_000);
});
