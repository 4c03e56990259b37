/**
 * Watch latency, measured from the moment the fake server applies a change (it writes the
 * watch event or wakes the blocking query in that same call, so that instant is the event's
 * own timestamp):
 *
 * - Kubernetes: a Deployment's status flips between healthy and failed on the fake API server;
 *   the controller (`startController`: informer → live-state reconcile → store → transition
 *   report) posts the notification; measured until the Notifier is called.
 * - Consul: the journal pointer `journal_version/qa` is written on the fake Consul; the import
 *   agent (`ImportAgent`, blocking queries through `ConsulKv`) starts that import; measured
 *   until it asks for the version's metadata, its first step.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import Consul from 'consul';
import { ConsulKv } from '../../src/adapters/consul.js';
import { kubeConfigFor } from '../../src/adapters/kube.js';
import { LocalObjectStore } from '../../src/adapters/local-object-store.js';
import { startController } from '../../src/controller/controller.js';
import type { MessageRef, Notice, Notifier } from '../../src/core/ports.js';
import { ImportAgent } from '../../src/journal/import-agent.js';
import { HttpServer } from '../../src/server/http-server.js';
import { ConsulFake } from '../../test/support/consul-fake.js';
import { deploymentObject, KubeFake } from '../../test/support/kube-fake.js';
import { makeRuntime } from '../../test/support/runtime.js';
import { type Figure, figure, type Scenario } from '../lib/figure.js';
import { percentile, waitUntil } from '../lib/stats.js';
import { silentLogger } from '../lib/workspace.js';

const COMPLETE = [{ type: 'Progressing', status: 'True', reason: 'NewReplicaSetAvailable' }];
const DEADLINE = [
  {
    type: 'Progressing',
    status: 'False',
    reason: 'ProgressDeadlineExceeded',
    message: 'ReplicaSet "api-7f" has timed out progressing.',
  },
];

/** Records when each notice was posted. */
class TimedNotifier implements Notifier {
  readonly posts: { at: number; text: string }[] = [];
  private seq = 0;
  async post(notice: Notice): Promise<MessageRef> {
    this.posts.push({ at: performance.now(), text: notice.text });
    return { channel: notice.channel, ts: `${Date.now()}.${String(++this.seq).padStart(6, '0')}` };
  }
  async update(): Promise<void> {}
}

/** `quiet` resolves once the earlier scenarios' tear-downs are done: awaited after the set-up. */
async function kubeLatencies(samples: number, quiet: () => Promise<void>): Promise<number[]> {
  const kube = await KubeFake.start();
  kube.applyDeployment('qa', deploymentObject('api', { image: 'registry.example.com/api:1.4.0', replicas: 2 }));
  kube.setStatus('qa', 'api', {
    observedGeneration: 1,
    replicas: 2,
    updatedReplicas: 2,
    availableReplicas: 2,
    conditions: COMPLETE,
  });
  const notifier = new TimedNotifier();
  const t = await makeRuntime({
    edit: (c) => {
      c.apps[0].targets = { qa: { cluster: 'bench', namespace: 'qa', workloads: ['api'] } };
      c.kubernetes = { clusters: { bench: { server: kube.url } } };
    },
    extra: { notifier },
  });
  const log = await silentLogger();
  const http = new HttpServer(log);
  await http.listen(0, '127.0.0.1');
  const controller = await startController({
    runtime: t.runtime,
    http,
    secrets: {},
    log,
    kubeConfigs: { bench: kubeConfigFor({ server: kube.url }) },
  });
  try {
    const state = async () =>
      (await t.runtime.store.liveStates()).find((l) => l.app === 'api' && l.env === 'qa')?.state;
    await waitUntil('the first sight of api in qa', async () => (await state()) === 'healthy', 30_000, 20);
    await quiet();
    const latencies: number[] = [];
    for (let i = 0; i < samples; i++) {
      const before = notifier.posts.length;
      const failing = i % 2 === 0;
      const t0 = performance.now();
      kube.setStatus('qa', 'api', { conditions: failing ? DEADLINE : COMPLETE });
      await waitUntil('the transition notice', () => notifier.posts.length > before, 15_000, 1);
      const post = notifier.posts[before]!;
      if (!post.text.includes(failing ? 'FAILED' : 'is healthy')) throw new Error(`unexpected notice: ${post.text}`);
      latencies.push(post.at - t0);
    }
    return latencies;
  } finally {
    await controller.stop();
    await http.close();
    await t.close();
    await kube.close();
  }
}

async function consulLatencies(samples: number): Promise<number[]> {
  const consul = await ConsulFake.start();
  const client = new Consul({ host: '127.0.0.1', port: consul.port });
  const dir = await mkdtemp(join(tmpdir(), 'conveyor-bench-consul-'));
  const objects = new LocalObjectStore(join(dir, 'objects'));
  const content = 'journal\n';
  const objectKey = 'journals/dev-modelling/bench/journal.dat';
  await objects.put(objectKey, Readable.from([Buffer.from(content)]), { metadata: {} });
  const sha256 = createHash('sha256').update(content).digest('hex');
  const starts: { version: string; at: number }[] = [];
  const reports: unknown[] = [];
  const ac = new AbortController();
  const key = 'journal_version/qa';
  const agent = new ImportAgent({
    env: 'qa',
    key,
    kv: new ConsulKv(client),
    objects,
    resolveVersion: async (version) => {
      starts.push({ version, at: performance.now() });
      return { objectKey, sha256, size: Buffer.byteLength(content), file: 'journal.dat' };
    },
    importCommand: ['true'],
    timeoutMs: 30_000,
    stateFile: join(dir, 'agent-state.json'),
    report: async (r) => {
      reports.push(r);
    },
    signal: ac.signal,
    waitMs: 60_000,
    backoff: { minMs: 50, maxMs: 500 },
  });
  const running = agent.run();
  try {
    const latencies: number[] = [];
    for (let i = 1; i <= samples; i++) {
      // steady state, as in production: the agent's blocking query is held by Consul
      await waitUntil('the agent to block on its key', () => consul.heldRequests > 0, 15_000, 1);
      const version = `2026.03.14-dev-model.${i}`;
      const t0 = performance.now();
      consul.set(key, version);
      await waitUntil('the import to start', () => starts.length >= i, 15_000, 1);
      if (starts[i - 1]!.version !== version)
        throw new Error(`agent started ${starts[i - 1]!.version}, not ${version}`);
      latencies.push(starts[i - 1]!.at - t0);
      await waitUntil('the import report', () => reports.length >= i, 15_000, 1);
    }
    return latencies;
  } finally {
    ac.abort();
    await running.catch(() => {});
    client.destroy();
    await consul.close();
    await rm(dir, { recursive: true, force: true });
  }
}

export const watchLatency: Scenario = {
  name: 'watch-latency',
  title: 'watch → reaction latency (Kubernetes, Consul)',
  timeoutMs: (quick) => (quick ? 180_000 : 600_000),
  setUpBesideTearDown: true,
  async run(ctx) {
    const samples = ctx.quick ? 20 : 100;
    const size = `${samples} changes${ctx.quick ? ' (quick size)' : ''}`;
    ctx.log(`Kubernetes: ${samples} status flips`);
    const kube = await kubeLatencies(samples, ctx.quiet);
    ctx.log(`Consul: ${samples} pointer writes`);
    const kv = await consulLatencies(samples);
    const pair = (name: string, samplesMs: number[], what: string): Figure[] => [
      figure({
        scenario: 'watch-latency',
        figure: `${name} p50`,
        unit: 'ms',
        value: percentile(samplesMs, 50),
        check: { kind: 'max', max: 200 },
        notes: `${what}; ${size}; baseline: the fake server's own event time`,
      }),
      figure({
        scenario: 'watch-latency',
        figure: `${name} p99`,
        unit: 'ms',
        value: percentile(samplesMs, 99),
        check: { kind: 'max', max: 1000 },
      }),
    ];
    return [
      ...pair(
        'Deployment status → notice posted',
        kube,
        'controller path: informer → live-state reconcile → store → transition report → Notifier.post',
      ),
      ...pair(
        'Consul key → import starts',
        kv,
        'ImportAgent blocking query on journal_version/qa → its first import step',
      ),
    ];
  },
};
