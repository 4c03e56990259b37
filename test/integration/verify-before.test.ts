/**
 * Pre-deploy hooks through the real surface (`promote`, `rollback` on the sandbox's Git
 * repositories; the backup and restore Jobs in the Kubernetes fake): a backup Job that fails
 * stops the promotion before any Git write; one that succeeds records its output (the backup id)
 * on the operation, and the rollback's restore Job receives it. While a hook Job runs, the
 * operation waits in `applying` and the engine's sweep (serve runs it every 30 s) looks again.
 */
import { execFileSync } from 'node:child_process';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Operation } from '../../src/core/operation.js';
import { KubeFake } from '../support/kube-fake.js';
import { makeRuntime, type TestRuntime } from '../support/runtime.js';

const gitEnv = { ...process.env, GIT_CONFIG_GLOBAL: '/dev/null', GIT_CONFIG_NOSYSTEM: '1' };

describe('pre-deploy hooks: a backup before the first write, a restore on rollback', () => {
  let kube: KubeFake;
  let t: TestRuntime;
  /** Serve's log lines (level, msg) while the stories run. */
  const logLines: { level: number; msg: string }[] = [];
  const git = (...args: string[]) =>
    execFileSync('git', ['--git-dir', t.repo('api'), ...args], { encoding: 'utf8', env: gitEnv }).trim();

  /** Sweep (what serve does every 30 s) until the operation ends; bounded. */
  async function settle(id: string): Promise<Operation> {
    for (let i = 0; i < 200; i++) {
      const op = await t.runtime.store.operation(id);
      if (['succeeded', 'failed', 'cancelled'].includes(op.state)) return op;
      await new Promise((r) => setTimeout(r, 50));
      await t.runtime.engine.sweep();
    }
    throw new Error(`operation ${id} did not end`);
  }

  beforeAll(async () => {
    kube = await KubeFake.start();
    t = await makeRuntime({
      edit: (c) => {
        // A hook Job runs in each app's target: the sandbox's web is left out of this story.
        c.apps = [c.apps[0]];
        c.apps[0].targets = { qa: { cluster: 'kind-eu', namespace: 'qa', workloads: ['api'] } };
        c.environments[1].verify = {
          before: [
            {
              kind: 'job',
              name: 'backup',
              image: 'registry.example.com/db-tools:2',
              command: ['/bin/backup'],
              args: ['--database', '{app}', '--label', '{app}-{version}'],
              interval: '50ms',
            },
          ],
          restore: {
            kind: 'job',
            name: 'restore',
            image: 'registry.example.com/db-tools:2',
            command: ['/bin/restore'],
            args: ['--from', '{backup}'],
            interval: '50ms',
          },
        };
        c.kubernetes = { clusters: { 'kind-eu': { server: kube.url } } };
      },
      extra: {
        log: pino({ level: 'debug' }, { write: (line: string) => void logLines.push(JSON.parse(line)) }),
      },
    });
  }, 120_000);

  afterAll(async () => {
    await t?.close();
    await kube?.close();
  });

  it('a failing backup stops the promotion before anything is written', async () => {
    kube.jobs.script = () => ({ pods: [{ exitCode: 1, logs: 'pg_dump: error: connection refused\n' }] });
    const before = git('rev-parse', 'qa');
    const tags = git('tag', '--list', 'qa/*');
    // The dry run names the hook the real run starts with.
    const dry = await t.run('promote api qa --dry-run');
    expect(dry.text).toContain(
      'before the first write\n  • 1. backup (job, image registry.example.com/db-tools:2): must pass, or nothing is written',
    );
    const created = kube.jobs.counts.created;
    expect(created).toBe(0); // the dry run ran nothing
    const reply = await t.run('promote api qa');
    // Waiting for the backup Job (or, on a slow machine, already past it: the next test holds the Job running).
    expect(['applying', 'failed']).toContain(reply.operation?.state);
    const op = await settle(reply.operation!.id);
    expect(op.state).toBe('failed');
    expect(op.error).toMatch(
      /^before hook backup \(job\) failed: Job qa\/conveyor-backup-[0-9a-f]{10} failed: BackoffLimitExceeded: Job has reached the specified backoff limit\nlast log lines:\npg_dump: error: connection refused; nothing was written$/,
    );
    expect(git('rev-parse', 'qa')).toBe(before);
    expect(git('tag', '--list', 'qa/*')).toBe(tags);
    const sent = kube.jobs.sent.at(-1)!;
    expect(sent.spec.template.spec.containers[0].args).toEqual(['--database', 'api', '--label', 'api-1.4.1']);
    expect(kube.jobs.getJob('qa', sent.metadata.name)).toBeUndefined(); // cleaned up
  }, 60_000);

  it('a successful backup lets the promotion through and records the backup id', async () => {
    kube.jobs.script = () => ({
      pods: [{ exitCode: 0, logs: 'dumped 12 tables\n', message: 'backup-20261126-0001' }],
    });
    const reply = await t.run('promote api qa');
    const op = await settle(reply.operation!.id);
    expect(op.state).toBe('succeeded');
    expect((op.progress as { beforeHooks?: { outputs: Record<string, string> } }).beforeHooks?.outputs).toEqual({
      backup: 'backup-20261126-0001',
    });
    expect(git('rev-parse', 'qa')).toBe(git('rev-parse', 'develop'));
    const audit = await t.runtime.store.auditLog({ operationId: op.id, action: 'hook.before' });
    expect(audit.map((a) => a.detail)).toEqual([
      expect.objectContaining({
        hook: 'backup',
        status: 'passed',
        output: expect.stringContaining('backup-20261126-0001'),
      }),
    ]);
  }, 60_000);

  it('the rollback runs the restore Job with that backup id first', async () => {
    kube.jobs.script = () => ({ pods: [{ exitCode: 0, logs: 'restored\n' }] });
    const created = kube.jobs.counts.created;
    const dry = await t.run('rollback api qa --dry-run');
    expect(dry.text).toContain('restore (job, image registry.example.com/db-tools:2) with backup backup-20261126-0001');
    expect(kube.jobs.counts.created).toBe(created);
    const reply = await t.run('rollback api qa');
    const op = await settle(reply.operation!.id);
    expect(op.state).toBe('succeeded');
    expect(kube.jobs.counts.created).toBe(created + 1);
    const restore = kube.jobs.sent.at(-1)!;
    expect(restore.spec.template.spec.containers[0].command).toEqual(['/bin/restore']);
    expect(restore.spec.template.spec.containers[0].args).toEqual(['--from', 'backup-20261126-0001']);
    expect(git('rev-parse', 'qa')).not.toBe(git('rev-parse', 'develop'));
  }, 60_000);

  it('while the backup Job runs, the operation waits in applying without a warning on every sweep', async () => {
    // The Job stays active (its pod running) until the test ends it.
    kube.jobs.script = () => null;
    // develop's version was rolled back from in qa by the story above: shipping it again is forced.
    const reply = await t.run('promote api qa --force');
    expect(reply.operation?.state, reply.text).toBe('applying');
    const id = reply.operation!.id;
    const from = logLines.length;
    for (let i = 0; i < 5; i++) {
      await t.runtime.engine.sweep();
      expect((await t.runtime.store.operation(id)).state).toBe('applying');
    }
    const op = await t.runtime.store.operation(id);
    expect(op.progress.lastError ?? null).toBeNull();
    const noisy = logLines.slice(from).filter((l) => l.level >= 40);
    expect(noisy.map((l) => l.msg)).toEqual([]);
    const job = kube.jobs.sent.at(-1)!.metadata.name;
    kube.jobs.startPod('qa', job);
    kube.jobs.endPod('qa', job, 0, 'ok\n', 'backup-x');
    expect((await settle(id)).state).toBe('succeeded');
  }, 60_000);
});
