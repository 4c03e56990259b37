/**
 * Soak windows through the controller (the sandbox's Git repositories, the Kubernetes fake, a
 * local HTTP service whose answer the test sets, and the test's clock): a verified promotion puts
 * qa under watch; the smoke check keeps being evaluated every interval; when the service breaks
 * inside the window the failure is posted in qa's channel and the promotion rolls back by
 * itself with the check's output as the reason. The rollback's own window ends quietly.
 */
import { execFileSync } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kubeConfigFor } from '../../src/adapters/kube.js';
import { type RunningController, startController } from '../../src/controller/controller.js';
import type { Operation } from '../../src/core/operation.js';
import { HttpServer } from '../../src/server/http-server.js';
import { deploymentObject, KubeFake } from '../support/kube-fake.js';
import { makeRuntime, type TestRuntime } from '../support/runtime.js';

const IMAGE = (v: string) => `registry.example.com/api:${v}`;
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

describe('verification: soak windows', () => {
  let kube: KubeFake;
  let t: TestRuntime;
  let http: HttpServer;
  let controller: RunningController;
  let service: Server;
  let healthy = true;
  const hits: string[] = [];

  /** The cluster runs what qa's branch now asks for. */
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
      return o.state !== 'verifying' && o;
    });
  const soakAudit = async (id: string) => t.runtime.store.auditLog({ operationId: id, action: 'verify.soak' });
  const soak = async (id: string) =>
    (
      (await t.runtime.store.operation(id)).progress as {
        soak?: { ended?: string; runs: number; failure?: string; until: string };
      }
    ).soak;
  const posts = (needle: string) =>
    t.notifier.sent.filter((s) => !s.edit && s.notice.text.includes(needle)).map((s) => s.notice);

  beforeAll(async () => {
    service = createServer((req, res) => {
      hits.push(req.url ?? '');
      res.writeHead(healthy ? 200 : 503).end(healthy ? 'ok' : 'payments unavailable');
    });
    await new Promise<void>((r) => service.listen(0, '127.0.0.1', r));
    const base = `http://127.0.0.1:${(service.address() as AddressInfo).port}`;
    kube = await KubeFake.start();
    kube.applyDeployment('qa', deploymentObject('api', { image: IMAGE('1.4.0'), replicas: 2 }));
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
          autoRollback: true,
          checks: [{ kind: 'http', name: 'smoke', url: `${base}/{app}/{version}/health`, interval: '50ms' }],
          soak: { for: '3m', interval: '1m' },
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
      verifyCheckMs: 100,
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
    service?.closeAllConnections();
    await new Promise<void>((r) => service?.close(() => r()));
  });

  let promotion: Operation;

  it('a verified promotion puts qa under watch, and the smoke check keeps running every interval', async () => {
    const reply = await t.run('promote api qa');
    const id = reply.operation!.id;
    rollOut();
    promotion = await verdict(id);
    expect(promotion.state).toBe('succeeded');
    const [verified] = posts(`Verified: promote api → qa (${id})`);
    expect(verified?.text).toMatch(/\napi in qa is under watch until \S+Z: smoke every 1m$/);
    expect(hits.at(-1)).toBe('/api/1.4.1/health');
    // nothing before the interval has passed
    await new Promise((r) => setTimeout(r, 400));
    expect(await soakAudit(id)).toHaveLength(0);
    t.clock.advance(60_000);
    await waitFor('the first soak evaluation', async () => (await soak(id))?.runs === 1);
    expect((await soakAudit(id)).map((a) => a.detail)).toEqual([
      expect.objectContaining({ check: 'smoke', status: 'passed' }),
    ]);
    // `list` says qa is under watch (and only qa), in the table and in the phone layout
    const listed = await t.run('list api');
    const until = (await soak(id))!.until;
    const rows = (listed.data as { rows: { env: string; live: string }[] }).rows;
    expect(rows.find((r) => r.env === 'qa')?.live).toContain(`(under watch until ${until.slice(11, 16)} UTC)`);
    expect(rows.filter((r) => r.live.includes('under watch')).map((r) => r.env)).toEqual(['qa']);
    const qaCell = listed.matrix!.apps[0]!.cells.find((c) => c.env === 'qa');
    expect(qaCell?.watchUntil).toBe(until);
  }, 90_000);

  it('a failure inside the window is posted in the channel and rolls the promotion back', async () => {
    healthy = false;
    t.clock.advance(60_000);
    const failure = await waitFor('the soak failure', async () => {
      const s = await soak(promotion.id);
      return s?.ended === 'failed' && s;
    });
    expect(failure.failure).toBe(
      'check smoke (http) failed: 1 of 1 measurement failed (limit 0): GET ' +
        `http://127.0.0.1:${(service.address() as AddressInfo).port}/api/1.4.1/health: status 503, expected 200`,
    );
    const notice = await waitFor('the notice', async () => posts('inside the soak window')[0]);
    expect(notice?.channel).toBe('#deploys-qa');
    expect(notice?.thread).toBeUndefined();
    expect(notice?.text).toContain(
      `api in qa: ${failure.failure}, inside the soak window of promote api → qa (${promotion.id})`,
    );
    expect(notice?.text).toContain('because check smoke failed during the soak window');
    const rollback = await waitFor('the automatic rollback', async () => {
      const [o] = await t.runtime.store.operations({ app: 'api', env: 'qa', kinds: ['rollback'] });
      return o;
    });
    expect(rollback.requester).toBe('conveyor');
    expect((rollback.plan as { reason: string }).reason).toBe(
      `automatic rollback: ${promotion.id}: ${failure.failure} (soak window)`,
    );
    // the window is over for that promotion: no more evaluations
    const evaluations = (await soakAudit(promotion.id)).length;
    t.clock.advance(60_000);
    await new Promise((r) => setTimeout(r, 500));
    expect(await soakAudit(promotion.id)).toHaveLength(evaluations);
  }, 90_000);

  it('the rollback is verified, watched in its turn, and its window ends quietly', async () => {
    healthy = true;
    const [rollback] = await t.runtime.store.operations({ app: 'api', env: 'qa', kinds: ['rollback'] });
    await waitFor(
      'the rollback in verifying',
      async () => (await t.runtime.store.operation(rollback!.id)).state === 'verifying',
    );
    rollOut();
    expect((await verdict(rollback!.id)).state).toBe('succeeded');
    const until = (await soak(rollback!.id))!.until;
    t.clock.advance(60_000);
    await waitFor('one evaluation', async () => (await soak(rollback!.id))?.runs === 1);
    t.clock.advance(new Date(until).getTime() - t.clock.now().getTime());
    await waitFor('the end of the window', async () => (await soak(rollback!.id))?.ended === 'passed');
    expect(
      posts(`The soak window of rollback api → qa (${rollback!.id}) ended: 1 evaluation, no check failed`),
    ).toHaveLength(1);
    // the window is over: `list` no longer says qa is under watch
    const rows = ((await t.run('list api')).data as { rows: { env: string; live: string }[] }).rows;
    expect(rows.some((r) => r.live.includes('under watch'))).toBe(false);
  }, 90_000);
});
