/**
 * A `command` check in the whole flow: `promote api qa` through the dispatcher, the controller
 * (the Kubernetes fake's rollout, the test's clock) running qa's checks, serve's worker routes on
 * loopback, and `conveyor verify-worker` as a child process running the check's argv. A passing
 * command verifies the promotion; a failing one fails it with the command's output, marks the
 * version bad, and promoting that version on to staging is then refused with the reason.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kubeConfigFor } from '../../src/adapters/kube.js';
import { type RunningController, startController } from '../../src/controller/controller.js';
import type { Operation } from '../../src/core/operation.js';
import { HttpServer } from '../../src/server/http-server.js';
import { addVerifyWorkerRoutes } from '../../src/server/verify-worker-routes.js';
import { deploymentObject, KubeFake } from '../support/kube-fake.js';
import { makeRuntime, type TestRuntime } from '../support/runtime.js';

const BIN = resolve(import.meta.dirname, '../../bin/conveyor.js');
const TOKEN = 'tok-flow-runner-0123456789';
const COMPLETE = [{ type: 'Progressing', status: 'True', reason: 'NewReplicaSetAvailable' }];
const gitEnv = { ...process.env, GIT_CONFIG_GLOBAL: '/dev/null', GIT_CONFIG_NOSYSTEM: '1' };

async function waitFor<T>(what: string, probe: () => Promise<T | undefined | false>, ms = 30_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (let i = 0; i < 10_000; i++) {
    const v = await probe();
    if (v) return v as T;
    if (Date.now() > deadline) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe('a command check verifies a promotion through the controller and a worker', () => {
  const dir = mkdtempSync(join(tmpdir(), 'conveyor-command-flow-'));
  const verdictFile = join(dir, 'exit-code');
  const script = join(dir, 'smoke.mjs');
  let kube: KubeFake;
  let t: TestRuntime;
  let http: HttpServer;
  let controller: RunningController;
  let worker: ChildProcess;

  const rollOut = () => {
    const manifest = execFileSync('git', ['--git-dir', t.repo('api'), 'show', 'qa:k8s/deployment.yaml'], {
      encoding: 'utf8',
      env: gitEnv,
    });
    const d = kube.setImage('qa', 'api', /image: (\S+)/.exec(manifest)![1]!);
    kube.setStatus('qa', 'api', {
      observedGeneration: d.metadata.generation,
      updatedReplicas: 2,
      availableReplicas: 2,
      conditions: COMPLETE,
    });
  };
  const verdict = (id: string) =>
    waitFor('the verdict', async () => {
      const o = await t.runtime.store.operation(id);
      return o.state !== 'verifying' && o.state !== 'applied' && o.state !== 'applying' && o;
    });

  beforeAll(async () => {
    writeFileSync(
      script,
      [
        "import { readFileSync } from 'node:fs';",
        `const code = Number(readFileSync(${JSON.stringify(verdictFile)}, 'utf8'));`,
        "if (code) console.error('checkout flow for ' + process.argv[2] + ' ' + process.argv[3] + ': HTTP 500 on /cart');",
        'process.exit(code);',
      ].join('\n'),
    );
    writeFileSync(verdictFile, '0');
    kube = await KubeFake.start();
    kube.applyDeployment('qa', deploymentObject('api', { image: 'registry.example.com/api:1.4.0', replicas: 2 }));
    kube.setStatus('qa', 'api', {
      observedGeneration: 1,
      replicas: 2,
      updatedReplicas: 2,
      availableReplicas: 2,
      conditions: COMPLETE,
    });
    t = await makeRuntime({
      edit: (c) => {
        c.apps[0].targets = { qa: { cluster: 'kind-eu', namespace: 'qa', workloads: ['api'] } };
        c.environments[1].verify = {
          timeout: '10m',
          worker: 'flow-runner',
          checks: [
            {
              kind: 'command',
              name: 'checkout',
              argv: [process.execPath, script, '{app}', '{version}'],
              interval: '50ms',
            },
          ],
        };
        c.kubernetes = { clusters: { 'kind-eu': { server: kube.url } } };
      },
    });
    http = new HttpServer(pino({ level: 'silent' }));
    addVerifyWorkerRoutes(http, t.runtime, { VERIFY_WORKER_TOKENS: `flow-runner=${TOKEN}` }, () => '');
    const port = await http.listen(0, '127.0.0.1');
    controller = await startController({
      runtime: t.runtime,
      http,
      secrets: {},
      log: pino({ level: 'silent' }),
      kubeConfigs: { 'kind-eu': kubeConfigFor({ server: kube.url }) },
      verifyCheckMs: 100,
    });
    worker = spawn(
      process.execPath,
      [BIN, 'verify-worker', '--name', 'flow-runner', '--server', `http://127.0.0.1:${port}`, '--poll', '0.1'],
      { env: { ...process.env, VERIFY_WORKER_TOKEN: TOKEN }, stdio: 'ignore' },
    );
    await waitFor('first sight of api in qa', async () =>
      (await t.runtime.store.liveStates()).some((l) => l.app === 'api' && l.env === 'qa' && l.state === 'healthy'),
    );
  }, 120_000);

  afterAll(async () => {
    if (worker && worker.exitCode === null) {
      const exited = new Promise((r) => worker.once('exit', r));
      worker.kill('SIGTERM');
      await exited;
    }
    await controller?.stop();
    await http?.close();
    await t?.close();
    await kube?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  let promotion: Operation;

  it('a passing command verifies the promotion', async () => {
    const reply = await t.run('promote api qa');
    rollOut();
    promotion = await verdict(reply.operation!.id);
    expect(promotion.state, promotion.error ?? '').toBe('succeeded');
    const [check] = await t.runtime.store.auditLog({ operationId: promotion.id, action: 'verify.check' });
    expect(check?.detail).toMatchObject({ check: 'checkout', kind: 'command', status: 'passed' });
  }, 60_000);

  it('a failing one fails the promotion with its output and marks the version bad for staging', async () => {
    writeFileSync(verdictFile, '2');
    // development gets a new version; qa takes it.
    const work = mkdtempSync(join(tmpdir(), 'conveyor-command-flow-clone-'));
    try {
      execFileSync('git', ['clone', '--quiet', '--branch', 'develop', t.repo('api'), work], { env: gitEnv });
      execFileSync('sh', ['-c', 'sed -i "s/api:1.4.1/api:1.4.2/" k8s/deployment.yaml'], { cwd: work });
      execFileSync(
        'git',
        ['-c', 'user.name=Dev', '-c', 'user.email=dev@example.com', 'commit', '-qam', 'Bump to 1.4.2'],
        {
          cwd: work,
          env: gitEnv,
        },
      );
      execFileSync('git', ['push', '--quiet', 'origin', 'develop'], { cwd: work, env: gitEnv });
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
    const reply = await t.run('promote api qa');
    expect(reply.operation, reply.text).toBeDefined();
    rollOut();
    const failed = await verdict(reply.operation!.id);
    expect(failed.state).toBe('failed');
    expect(failed.error).toMatch(
      /^check checkout \(command\) failed: 1 of 1 measurement failed \(limit 0\): node exited 2 in \d+ ms: checkout flow for api 1\.4\.2: HTTP 500 on \/cart \(worker flow-runner\)/,
    );
    const marks = await t.runtime.store.auditLog({ operationId: failed.id, action: 'version.marked-bad' });
    expect(marks).toHaveLength(1);
    const refused = await t.run('promote api staging', 'U_QA');
    expect(refused.status).toBe('refused');
    expect(refused.title).toContain('failed verification in qa (check checkout (command) failed');
    expect(refused.title).toContain('so it does not move on to staging');
  }, 90_000);
});
