/**
 * A real `conveyor serve` (the sandbox, its controller watching the Kubernetes fake) is
 * SIGKILLed during verification, right after it created the Job of a `job` check
 * (CONVEYOR_CRASH_AT=after-verify-job-create). The next start resumes the verification: it finds
 * the Job by the name it recorded before creating it, waits for it, and the promotion succeeds;
 * the Job ran once, was created once, and is deleted afterwards with its pods.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { systemClock } from '../../src/core/ports.js';
import { openStore } from '../../src/store/open-store.js';
import { deploymentObject, KubeFake } from '../support/kube-fake.js';
import { copySandbox } from '../support/runtime.js';

const BIN = resolve(import.meta.dirname, '../../bin/conveyor.js');
const COMPLETE = [{ type: 'Progressing', status: 'True', reason: 'NewReplicaSetAvailable' }];

async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined | false> | T | undefined | false,
  ms = 120_000,
) {
  const deadline = Date.now() + ms;
  for (let i = 0; i < 100_000; i++) {
    const v = await probe();
    if (v) return v as T;
    if (Date.now() > deadline) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe('SIGKILL during verification', () => {
  let cwd: string;
  let sandboxDir: string;
  let kube: KubeFake;
  let child: ChildProcess | null = null;
  let stderr = '';

  function serve(crashAt?: string) {
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      LOG_LEVEL: 'warn',
      GIT_CONFIG_GLOBAL: '/dev/null',
      GIT_CONFIG_NOSYSTEM: '1',
    };
    for (const k of ['SLACK_BOT_TOKEN', 'SLACK_APP_TOKEN', 'DATABASE_URL', 'PORT', 'HOST', 'CONVEYOR_CRASH_AT'])
      delete env[k];
    if (crashAt) env.CONVEYOR_CRASH_AT = crashAt;
    rmSync(join(sandboxDir, 'serve.json'), { force: true });
    stderr = '';
    const c = spawn(process.execPath, [BIN, 'serve', '--port', '0'], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    c.stdout!.resume();
    c.stderr!.on('data', (b: Buffer) => (stderr += b.toString()));
    child = c;
    return { child: c, exit: once(c, 'exit') as Promise<[number | null, NodeJS.Signals | null]> };
  }

  async function ready(): Promise<{ base: string; token: string }> {
    const file = join(sandboxDir, 'serve.json');
    await waitFor(`serve.json (${stderr})`, () => existsSync(file));
    const info = JSON.parse(readFileSync(file, 'utf8')) as { port: number; token: string };
    const base = `http://127.0.0.1:${info.port}`;
    await waitFor('readyz', async () => (await fetch(`${base}/readyz`).catch(() => null))?.status === 200);
    return { base, token: info.token };
  }

  async function run(s: { base: string; token: string }, text: string) {
    const res = await fetch(`${s.base}/api/run`, {
      method: 'POST',
      headers: { authorization: `Bearer ${s.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ text, user: 'U_DEMO' }),
    });
    expect(res.status).toBe(200);
    return (await res.json()) as { title?: string; operation?: { id: string; state: string } };
  }

  beforeAll(async () => {
    kube = await KubeFake.start();
    kube.applyDeployment('qa', deploymentObject('api', { image: 'registry.example.com/api:1.3.0', replicas: 2 }));
    kube.setStatus('qa', 'api', {
      observedGeneration: 1,
      replicas: 2,
      updatedReplicas: 2,
      availableReplicas: 2,
      conditions: COMPLETE,
    });
    cwd = mkdtempSync(join(tmpdir(), 'conveyor-verify-kill-'));
    const sandbox = await copySandbox(cwd);
    sandboxDir = sandbox.dir;
    const config = parse(readFileSync(sandbox.configFile, 'utf8'));
    config.apps[0].targets = { qa: { cluster: 'kind-eu', namespace: 'qa', workloads: ['api'] } };
    config.environments[1].verify = {
      timeout: '10m',
      checks: [
        {
          kind: 'job',
          name: 'e2e',
          image: 'registry.example.com/api-e2e:{version}',
          args: ['--base-url', 'http://api.{namespace}.svc'],
          interval: '200ms',
        },
      ],
    };
    config.kubernetes = { clusters: { 'kind-eu': { server: kube.url } } };
    writeFileSync(sandbox.configFile, stringify(config));
  }, 120_000);

  afterAll(async () => {
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await kube?.close();
    if (cwd) rmSync(cwd, { recursive: true, force: true });
  });

  it('resumes on restart, finds its Job, runs it once, succeeds and cleans up', async () => {
    // 1. serve dies right after creating the Job
    const first = serve('after-verify-job-create');
    const s1 = await ready();
    const reply = await run(s1, 'promote api qa');
    expect(reply.operation?.state, reply.title).toBe('verifying');
    const id = reply.operation!.id;
    // the cluster rolls out what Git now asks for
    const manifest = execFileSync(
      'git',
      ['--git-dir', join(sandboxDir, 'repos', 'api.git'), 'show', 'qa:k8s/deployment.yaml'],
      {
        encoding: 'utf8',
      },
    );
    const image = /image: (\S+)/.exec(manifest)![1]!;
    expect(image).toBe('registry.example.com/api:1.4.1');
    const d = kube.setImage('qa', 'api', image);
    kube.setStatus('qa', 'api', {
      observedGeneration: d.metadata.generation,
      updatedReplicas: 2,
      availableReplicas: 2,
      conditions: COMPLETE,
    });
    const [code, signal] = await first.exit;
    expect({ code, signal }).toEqual({ code: null, signal: 'SIGKILL' });
    expect(kube.jobs.counts.created).toBe(1);
    const job = kube.jobs.sent[0]!;
    const name: string = job.metadata.name;
    expect(job.spec.template.spec.containers[0].image).toBe('registry.example.com/api-e2e:1.4.1');

    // 2. the next start resumes: it asks for the same Job, is told it exists, and waits for it
    const reads = kube.jobs.counts.get;
    const second = serve();
    const s2 = await ready();
    await waitFor('the resumed check reading its Job', () => kube.jobs.counts.get > reads);
    expect(kube.jobs.counts.created).toBe(1);
    kube.jobs.startPod('qa', name);
    kube.jobs.endPod('qa', name, 0, 'e2e: 41 passed\n');
    await waitFor('the verdict', async () => {
      // history's table: the operation's row says succeeded
      const h = JSON.stringify(await run(s2, 'history api'));
      return new RegExp(`\\["${id}",[^\\]]*"succeeded"`).test(h);
    });
    expect(kube.jobs.counts.created).toBe(1);
    expect(kube.jobs.sent).toHaveLength(1);
    await waitFor('the Job deleted', () => !kube.jobs.getJob('qa', name));
    expect([...kube.jobs.pods.values()].filter((p) => p.metadata.labels['job-name'] === name)).toEqual([]);
    second.child.kill('SIGTERM');
    await second.exit;

    // 3. the operation's record: the Job's name, one result, one audit line
    const store = await openStore(`pglite:${join(sandboxDir, 'state')}`, systemClock);
    try {
      const op = await store.operationStore.operation(id);
      expect(op.state).toBe('succeeded');
      const v = (
        op.progress as { verifyChecks?: { jobs: Record<string, string>; results: Record<string, { status: string }> } }
      ).verifyChecks;
      expect(v?.jobs).toEqual({ e2e: name });
      expect(v?.results.e2e?.status).toBe('passed');
      const audit = await store.auditStore.auditLog({ operationId: id, action: 'verify.check' });
      expect(audit).toHaveLength(1);
      expect(audit[0]!.detail).toMatchObject({ check: 'e2e', status: 'passed', output: `Job qa/${name} succeeded` });
    } finally {
      await store.close();
    }
  }, 300_000);
});
