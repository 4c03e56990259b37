/**
 * Two controllers sharing one real PostgreSQL elect one leader with an advisory lock. Both run
 * in this test process, each with its own runtime, store pool and dedicated leadership
 * connection; destroying the leader's connection is its death (PostgreSQL ends the session and
 * frees the lock, as it does when a process dies). The other takes over and no transition is
 * reported twice.
 */

import type pg from 'pg';
import pgModule from 'pg';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kubeConfigFor } from '../../src/adapters/kube.js';
import { PgLeadership } from '../../src/adapters/pg-leadership.js';
import { type RunningController, startController } from '../../src/controller/controller.js';
import { HttpServer } from '../../src/server/http-server.js';
import { deploymentObject, KubeFake } from '../support/kube-fake.js';
import { startPostgres, type TestPostgres } from '../support/postgres.js';
import { makeRuntime, type TestRuntime } from '../support/runtime.js';

const IMAGE = 'registry.example.com/api:1.4.1';
const COMPLETE = [{ type: 'Progressing', status: 'True', reason: 'NewReplicaSetAvailable' }];

async function waitFor(what: string, cond: () => boolean | Promise<boolean>, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

interface Replica {
  t: TestRuntime;
  http: HttpServer;
  controller: RunningController;
  clients: pg.Client[];
  /** A dead replica reaches no database any more (it cannot campaign again). */
  dead: { value: boolean };
}

describe('controller leadership over a PostgreSQL advisory lock', () => {
  let pgServer: TestPostgres;
  let kube: KubeFake;
  let url: string;
  const replicas: Replica[] = [];

  async function startReplica(name: string): Promise<Replica> {
    const t = await makeRuntime({
      stateUrl: url,
      edit: (c) => {
        c.apps[0].targets = { development: { cluster: 'kind-eu', namespace: 'dev', workloads: ['api'] } };
      },
    });
    const http = new HttpServer(pino({ level: 'silent' }));
    await http.listen(0, '127.0.0.1');
    const clients: pg.Client[] = [];
    const dead = { value: false };
    const leadership = new PgLeadership({
      connectionString: url,
      retryMs: 100,
      checkMs: 100,
      createClient: (config) => {
        if (dead.value) throw new Error('this replica is dead: it reaches no database');
        const client = new pgModule.Client(config);
        clients.push(client);
        return client;
      },
    });
    const controller = await startController({
      runtime: t.runtime,
      http,
      secrets: {},
      log: pino({ level: 'silent' }),
      identity: name,
      kubeConfigs: { 'kind-eu': kubeConfigFor({ server: kube.url }) },
      leadership,
    });
    const replica = { t, http, controller, clients, dead };
    replicas.push(replica);
    return replica;
  }

  beforeAll(async () => {
    pgServer = await startPostgres();
    url = await pgServer.createDatabase('conveyor_leader');
    kube = await KubeFake.start();
    kube.applyDeployment('dev', deploymentObject('api', { image: IMAGE, replicas: 2 }));
    kube.setStatus('dev', 'api', {
      observedGeneration: 1,
      replicas: 2,
      updatedReplicas: 2,
      availableReplicas: 2,
      conditions: COMPLETE,
    });
  });

  afterAll(async () => {
    for (const r of replicas) {
      await r.controller.stop().catch(() => undefined);
      await r.http.close();
      await r.t.close();
    }
    await kube?.close();
    await pgServer?.stop();
  });

  it('one replica leads and posts; when it dies the other takes over; no transition is reported twice', async () => {
    const a = await startReplica('replica-a');
    await waitFor('a to lead', () => a.controller.isLeader());
    const b = await startReplica('replica-b');
    const stored = async () =>
      (await a.t.runtime.store.liveStates()).find((l) => l.app === 'api' && l.env === 'development');
    await waitFor('the first sight', async () => (await stored())?.state === 'healthy');
    expect(b.controller.isLeader()).toBe(false);

    const reports = () =>
      [a, b].flatMap((r, i) =>
        r.t.notifier.sent
          .filter((s) => s.notice.text.includes('api in development'))
          .map((s) => `${i === 0 ? 'a' : 'b'}: ${/is \w+( \w+)?/.exec(s.notice.text)?.[0]}`),
      );

    // A rollout starts (more replicas): the leader reports it.
    kube.applyDeployment('dev', deploymentObject('api', { image: IMAGE, replicas: 3 }));
    await waitFor('progressing', () => reports().length === 1);
    expect(reports()).toEqual(['a: is rolling out']);

    // The leader dies: its database session ends.
    const session = a.clients.at(-1) as unknown as { connection: { stream: { destroy(): void } } };
    a.dead.value = true; // dead, not merely disconnected: it must not win the lock back
    session.connection.stream.destroy();
    // Generous on a loaded machine: the dead session is noticed on the leader's next check.
    await waitFor('a to step down', () => !a.controller.isLeader(), 60_000);
    await waitFor('b to take over', () => b.controller.isLeader(), 60_000);

    // The rollout finishes; only the new leader reports, and it did not repeat "rolling out".
    kube.setStatus('dev', 'api', { observedGeneration: 2, updatedReplicas: 3, availableReplicas: 3 });
    await waitFor('healthy', () => reports().length === 2);
    expect(reports()).toEqual(['a: is rolling out', 'b: is healthy']);
    expect((await stored())?.state).toBe('healthy');
  }, 180_000);
});
