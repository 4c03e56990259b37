import { Watch } from '@kubernetes/client-node';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { KubeClusterWatch, kubeConfigFor } from '../../src/adapters/kube.js';
import { KubeLeaseLeadership } from '../../src/adapters/kube-lease.js';
import { deriveLiveState } from '../../src/controller/live-state.js';
import { ConfigError } from '../../src/core/errors.js';
import type { WorkloadStatus } from '../../src/core/ports.js';
import { deploymentObject, KubeFake } from '../support/kube-fake.js';

const TOKEN = 'test-token-not-a-secret';
const NS = 'shop';

async function waitFor(what: string, cond: () => boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const settle = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The rollout milestones a user sees, one tuple per observed status. */
const milestone = (s: WorkloadStatus) =>
  `${s.name} img=${s.images.join(',')} gen=${s.generation}/${s.observedGeneration} upd=${s.updatedReplicas} avail=${s.availableReplicas} exists=${s.exists}`;

const COMPLETE = [{ type: 'Progressing', status: 'True', reason: 'NewReplicaSetAvailable' }];

let fake: KubeFake;
let watch: KubeClusterWatch | undefined;
let seen: WorkloadStatus[];
let reconnects: string[];

function startWatch(names: string[]): Promise<void> {
  const kc = kubeConfigFor({ server: fake.url, token: TOKEN, context: 'prod-eu' });
  watch = new KubeClusterWatch({
    kubeConfigs: { 'prod-eu': kc },
    restartDelayMs: 50,
    maxRestartDelayMs: 200,
    onReconnect: (c) => reconnects.push(c),
  });
  return watch.start(
    names.map((name) => ({ cluster: 'prod-eu', namespace: NS, name })),
    (s) => seen.push(s),
  );
}

const lastOf = (name: string) => seen.filter((s) => s.name === name).at(-1);
const milestonesOf = (name: string) => seen.filter((s) => s.name === name).map(milestone);

/** Drive a full rollout of web to `image` in steps, as the deployment controller would. */
function rolloutSteps(image: string): [() => void, ...Array<() => void>] {
  return [
    () => fake.setImage(NS, 'web', image),
    () => fake.setStatus(NS, 'web', { observedGeneration: 2, updatedReplicas: 1, availableReplicas: 3 }),
    () => fake.setStatus(NS, 'web', { updatedReplicas: 3, availableReplicas: 2 }),
    () => fake.setStatus(NS, 'web', { availableReplicas: 3, conditions: COMPLETE }),
  ];
}

const ROLLOUT_MILESTONES = [
  'web img=web:2 gen=2/1 upd=3 avail=3 exists=true',
  'web img=web:2 gen=2/2 upd=1 avail=3 exists=true',
  'web img=web:2 gen=2/2 upd=3 avail=2 exists=true',
  'web img=web:2 gen=2/2 upd=3 avail=3 exists=true',
];

beforeEach(async () => {
  fake = await KubeFake.start({ token: TOKEN });
  seen = [];
  reconnects = [];
  fake.applyDeployment(NS, deploymentObject('web', { image: 'web:1', replicas: 3 }));
  fake.setStatus(NS, 'web', {
    observedGeneration: 1,
    replicas: 3,
    updatedReplicas: 3,
    availableReplicas: 3,
    conditions: COMPLETE,
  });
  fake.applyDeployment(NS, deploymentObject('unrelated', { image: 'other:1' }));
  fake.applyDeployment('elsewhere', deploymentObject('web', { image: 'web:other-ns' }));
});

afterEach(async () => {
  await watch?.stop();
  watch = undefined;
  await fake.close();
});

describe('KubeClusterWatch', () => {
  it('reports the listed targets, and a missing one as not existing', async () => {
    await startWatch(['web', 'api']);
    await waitFor('both targets reported', () => !!lastOf('web') && !!lastOf('api'));
    expect(lastOf('web')).toMatchObject({
      cluster: 'prod-eu',
      namespace: NS,
      images: ['web:1'],
      replicas: 3,
      availableReplicas: 3,
      exists: true,
    });
    expect(deriveLiveState(lastOf('web'), ['web:1']).state).toBe('healthy');
    expect(lastOf('api')).toMatchObject({ exists: false });
    expect(seen.map((s) => s.name).sort()).toEqual(['api', 'web']); // nothing from other workloads
  });

  it('refuses targets on a cluster it has no connection for', async () => {
    const w = new KubeClusterWatch({ kubeConfigs: {} });
    await expect(w.start([{ cluster: 'nope', namespace: NS, name: 'web' }], () => {})).rejects.toThrow(ConfigError);
  });

  it('follows an image change through every rollout step in order, then a deletion', async () => {
    await startWatch(['web']);
    await waitFor('initial', () => seen.length === 1);
    for (const step of rolloutSteps('web:2')) step();
    await waitFor('rollout complete', () => milestonesOf('web').length === 5);
    expect(milestonesOf('web').slice(1)).toEqual(ROLLOUT_MILESTONES);
    expect(seen.map((s) => deriveLiveState(s, ['web:2']).state)).toEqual([
      'drifted',
      'progressing',
      'progressing',
      'progressing',
      'healthy',
    ]);
    fake.deleteDeployment(NS, 'web');
    await waitFor('deletion', () => lastOf('web')?.exists === false);
  });

  it('misses no transition when the watch connection drops mid-rollout', async () => {
    await startWatch(['web']);
    await waitFor('initial', () => seen.length === 1);
    const [setImage, ...rest] = rolloutSteps('web:2');
    setImage();
    await waitFor('image change seen', () => seen.length === 2);
    const listsBefore = fake.counts.list;
    fake.dropWatches();
    for (const step of rest) step(); // happen while nobody is watching
    await waitFor('rollout complete', () => milestonesOf('web').length === 5);
    expect(milestonesOf('web').slice(1)).toEqual(ROLLOUT_MILESTONES);
    expect(reconnects).toEqual(['prod-eu']);
    expect(fake.counts.list).toBe(listsBefore); // resumed from its resourceVersion, no re-list
    await waitFor('watching again', () => fake.openWatches === 1);
    fake.setImage(NS, 'web', 'web:3'); // and it keeps watching
    await waitFor('next change', () => lastOf('web')?.images[0] === 'web:3');
  });

  it('re-watches when the server ends the watch cleanly', async () => {
    await startWatch(['web']);
    await waitFor('initial', () => fake.openWatches === 1);
    fake.dropWatches('end');
    fake.setImage(NS, 'web', 'web:2');
    await waitFor('change after re-watch', () => lastOf('web')?.images[0] === 'web:2');
  });

  it('re-lists and recovers when its resourceVersion is too old (410 Gone)', async () => {
    await startWatch(['web', 'worker']);
    await waitFor('initial', () => seen.length === 2);
    const listsBefore = fake.counts.list;
    fake.dropWatches();
    for (const step of rolloutSteps('web:2')) step();
    fake.applyDeployment(NS, deploymentObject('worker', { image: 'worker:1' }));
    fake.expireHistory();
    await waitFor(
      'state after re-list',
      () => lastOf('web')?.availableReplicas === 3 && lastOf('web')?.generation === 2,
    );
    await waitFor('new workload', () => lastOf('worker')?.exists === true);
    expect(fake.counts.list).toBeGreaterThan(listsBefore);
    expect(deriveLiveState(lastOf('web'), ['web:2']).state).toBe('healthy');
    fake.deleteDeployment(NS, 'web'); // still watching after the re-list
    await waitFor('deletion', () => lastOf('web')?.exists === false);
  });

  it('keeps restarting while the API server fails, then catches up', async () => {
    await startWatch(['web']);
    await waitFor('initial', () => seen.length === 1);
    fake.failRequests(500);
    fake.dropWatches();
    await waitFor('several restarts', () => reconnects.length >= 3);
    fake.failRequests(null);
    fake.setImage(NS, 'web', 'web:2');
    await waitFor('change after recovery', () => lastOf('web')?.images[0] === 'web:2');
  });

  it('reports a cluster that is down at start once it comes up', async () => {
    fake.failRequests(503);
    await startWatch(['web']);
    await waitFor('restart attempts', () => reconnects.length >= 1);
    expect(seen).toEqual([]);
    fake.failRequests(null);
    await waitFor('initial after recovery', () => lastOf('web')?.exists === true);
  });

  it('stops cleanly: no watch left open, no restart after stop, no more reports', async () => {
    await startWatch(['web']);
    await waitFor('watching', () => fake.openWatches === 1);
    await watch!.stop();
    await waitFor('watch closed', () => fake.openWatches === 0);

    // Stop while a restart is pending.
    seen = [];
    await startWatch(['web']);
    await waitFor('watching again', () => fake.openWatches === 1);
    fake.failRequests(500);
    fake.dropWatches();
    await waitFor('a restart', () => reconnects.length >= 1);
    await watch!.stop();
    const counts = { ...fake.counts };
    fake.failRequests(null);
    fake.setImage(NS, 'web', 'web:9');
    await settle(500); // > the longest restart delay (200 ms)
    expect(fake.counts).toEqual(counts);
    expect(fake.openWatches).toBe(0);
    expect(seen.some((s) => s.images[0] === 'web:9')).toBe(false);
  });

  it('is refused by a server that wants another token', async () => {
    const kc = kubeConfigFor({ server: fake.url, token: 'wrong' });
    const errors: string[] = [];
    watch = new KubeClusterWatch({
      kubeConfigs: { c: kc },
      restartDelayMs: 50,
      log: { warn: (o, msg) => errors.push(`${msg}: ${(o as { err: string }).err}`) },
    });
    await watch.start([{ cluster: 'c', namespace: NS, name: 'web' }], (s) => seen.push(s));
    await waitFor('failure logged', () => errors.length >= 1);
    expect(seen).toEqual([]);
    expect(errors[0]).toMatch(/^kubernetes watch failed; restarting: .*401 Unauthorized$/);
    expect(errors.join('\n')).not.toContain('wrong');
  });
});

describe('the fake API server', () => {
  it('sends bookmarks to watches that allow them, and 410 Gone to a watch from a compacted version', async () => {
    const kc = kubeConfigFor({ server: fake.url, token: TOKEN });
    const path = `/apis/apps/v1/namespaces/${NS}/deployments`;
    const events: Array<{ type: string; rv?: string; code?: number }> = [];
    const done: unknown[] = [];
    const ac = await new Watch(kc).watch(
      path,
      { allowWatchBookmarks: true, resourceVersion: fake.resourceVersion },
      (type, obj) => events.push({ type, rv: obj.metadata?.resourceVersion, code: obj.code }),
      (err) => done.push(err),
    );
    fake.setImage(NS, 'web', 'web:2');
    fake.sendBookmarks();
    await waitFor('bookmark', () => events.length === 2);
    expect(events).toEqual([
      { type: 'MODIFIED', rv: fake.resourceVersion, code: undefined },
      { type: 'BOOKMARK', rv: fake.resourceVersion, code: undefined },
    ]);
    ac.abort();
    const old = String(Number(fake.resourceVersion) - 1);
    fake.expireHistory();
    fake.setImage(NS, 'web', 'web:3');
    events.length = 0;
    await new Watch(kc).watch(
      path,
      { resourceVersion: old },
      (type, obj) => events.push({ type, code: obj.code }),
      (err) => done.push(err),
    );
    await waitFor('gone', () => events.length === 1 && done.length === 2);
    expect(events).toEqual([{ type: 'ERROR', code: 410 }]);
  });
});

describe('KubeLeaseLeadership', () => {
  const electors: KubeLeaseLeadership[] = [];
  afterEach(async () => {
    await Promise.all(electors.splice(0).map((e) => e.stop()));
  });

  function elector(identity: string, changes: boolean[] = []): KubeLeaseLeadership {
    const e = new KubeLeaseLeadership({
      kubeConfig: kubeConfigFor({ server: fake.url, token: TOKEN }),
      namespace: 'conveyor',
      name: 'conveyor-controller',
      identity,
      leaseSeconds: 2,
      renewEveryMs: 100,
    });
    electors.push(e);
    e.start((leader) => changes.push(leader));
    return e;
  }

  const holder = () => fake.getLease('conveyor', 'conveyor-controller')?.spec.holderIdentity;

  it('elects exactly one leader among two replicas', async () => {
    const aChanges: boolean[] = [];
    const bChanges: boolean[] = [];
    const a = elector('replica-a', aChanges);
    const b = elector('replica-b', bChanges);
    await waitFor('a leader', () => a.isLeader() || b.isLeader());
    const requests = fake.counts.lease;
    await waitFor('several renew rounds', () => fake.counts.lease >= requests + 12);
    expect([a.isLeader(), b.isLeader()].filter(Boolean)).toHaveLength(1);
    const leader = a.isLeader() ? 'replica-a' : 'replica-b';
    expect(holder()).toBe(leader);
    expect(a.isLeader() ? aChanges : bChanges).toEqual([true]);
    expect(a.isLeader() ? bChanges : aChanges).toEqual([]);
  });

  it('hands over at once when the leader stops and releases', async () => {
    const aChanges: boolean[] = [];
    const a = elector('replica-a', aChanges);
    await waitFor('a leads', () => a.isLeader());
    const b = elector('replica-b');
    await settle(150);
    expect(b.isLeader()).toBe(false);
    await a.stop();
    expect(aChanges).toEqual([true, false]);
    expect(holder()).not.toBe('replica-a');
    await waitFor('b takes over', () => b.isLeader());
    expect(holder()).toBe('replica-b');
  });

  it('takes over after the lease expires when the leader crashes', async () => {
    const a = elector('replica-a');
    await waitFor('a leads', () => a.isLeader());
    const b = elector('replica-b');
    await a.stop({ release: false }); // no release: like a crash
    expect(holder()).toBe('replica-a');
    await waitFor('b takes over', () => b.isLeader());
    const lease = fake.getLease('conveyor', 'conveyor-controller');
    expect(lease?.spec.holderIdentity).toBe('replica-b');
    expect(lease?.spec.leaseTransitions).toBe(1);
    expect(lease?.spec.renewTime).toMatch(/\.\d{6}Z$/); // MicroTime, as the API server demands
  });
});
