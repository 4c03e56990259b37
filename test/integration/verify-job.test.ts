/**
 * `job` checks through @kubernetes/client-node against the Kubernetes fake: the Job Conveyor
 * sends and every Job and pod the fake reports at each transition validate against the
 * Kubernetes schemas (kubernetes-models); a Job that succeeds passes, one that spends its
 * retries fails with the tail of its pod's log, a resumed check finds its Job instead of
 * creating a second, the Job and its pods are gone after cleanup, and an unreachable API
 * server fails the check.
 */
import { Job } from 'kubernetes-models/batch/v1';
import { Pod } from 'kubernetes-models/v1';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kubeConfigFor } from '../../src/adapters/kube.js';
import { KubeJobs } from '../../src/adapters/kube-jobs.js';
import { jobNameFor, runJobCheck } from '../../src/verify/job-check.js';
import { checkSchema, type JobCheck } from '../../src/verify/schema.js';
import type { TemplateVars } from '../../src/verify/template.js';
import { KubeFake } from '../support/kube-fake.js';

const vars: TemplateVars = {
  app: 'api',
  env: 'qa',
  version: '1.4.1',
  sha: 'a'.repeat(40),
  tag: 'qa/2026.11.26.1',
  operation: 'op_test1',
  namespace: 'qa',
  backup: '',
};

const jobCheck = (over: Record<string, unknown> = {}) =>
  checkSchema.parse({
    kind: 'job',
    name: 'smoke-suite',
    image: 'registry.example.com/api-tests:{version}',
    command: ['/bin/run-tests'],
    args: ['--target', 'http://api.{namespace}.svc', '--version', '{version}'],
    env: { SUITE: 'smoke' },
    interval: '20ms',
    ...over,
  }) as JobCheck;

describe('job checks against the Kubernetes fake', () => {
  let kube: KubeFake;
  let jobs: KubeJobs;
  /** Every Job and pod the fake held after each request the adapter made. */
  const seen: { kind: string; obj: unknown }[] = [];

  beforeAll(async () => {
    kube = await KubeFake.start();
    jobs = new KubeJobs(kubeConfigFor({ server: kube.url }));
    const read = jobs.read.bind(jobs);
    jobs.read = async (ns, name) => {
      const state = await read(ns, name);
      const job = kube.jobs.getJob(ns, name);
      if (job) seen.push({ kind: 'Job', obj: job });
      for (const p of kube.jobs.pods.values()) seen.push({ kind: 'Pod', obj: structuredClone(p) });
      return state;
    };
  });
  afterAll(async () => {
    await kube?.close();
  });

  it('runs a Job to completion: passed, with the version in its image, args and env', async () => {
    kube.jobs.script = () => ({ pods: [{ exitCode: 0, logs: 'ok 12 tests\n' }] });
    const name = jobNameFor('op_test1', 'smoke-suite');
    let recorded = false;
    const result = await runJobCheck(jobCheck(), vars, {
      jobs,
      namespace: 'qa',
      name,
      record: async () => {
        recorded = true;
        expect(kube.jobs.getJob('qa', name)).toBeUndefined(); // recorded before it exists
      },
    });
    expect(recorded).toBe(true);
    expect(result).toEqual({ status: 'passed', output: `Job qa/${name} succeeded` });
    const sent = kube.jobs.sent.at(-1)!;
    expect(sent.spec.template.spec.containers[0]).toMatchObject({
      image: 'registry.example.com/api-tests:1.4.1',
      command: ['/bin/run-tests'],
      args: ['--target', 'http://api.qa.svc', '--version', '1.4.1'],
    });
    expect(sent.spec.template.spec.containers[0].env).toContainEqual({ name: 'CONVEYOR_VERSION', value: '1.4.1' });
    expect(sent.spec.template.spec.containers[0].env).toContainEqual({ name: 'SUITE', value: 'smoke' });
    expect(sent.spec.template.spec.restartPolicy).toBe('Never');
    expect(() => new Job(sent).validate()).not.toThrow();
    // the Job ended as the Job controller reports it
    const done = kube.jobs.getJob('qa', name)!;
    expect(done.status.conditions.map((c: { type: string }) => c.type)).toEqual(['SuccessCriteriaMet', 'Complete']);
    expect(done.status.succeeded).toBe(1);
    // cleanup takes the pods with it
    await jobs.remove('qa', name);
    expect(kube.jobs.getJob('qa', name)).toBeUndefined();
    expect([...kube.jobs.pods.values()].filter((p) => p.metadata.labels['job-name'] === name)).toEqual([]);
    await jobs.remove('qa', name); // twice is fine
  });

  it('a Job that spends its retries fails with BackoffLimitExceeded and the tail of its log', async () => {
    const log = Array.from({ length: 60 }, (_, i) => `line ${i + 1}`).join('\n');
    kube.jobs.script = () => ({
      pods: [
        { exitCode: 1, logs: 'first attempt\nFAIL checkout\n' },
        { exitCode: 2, logs: `${log}\nFAIL payments: expected 200, got 503\n` },
      ],
    });
    const name = jobNameFor('op_test2', 'smoke-suite');
    const result = await runJobCheck(jobCheck({ retries: 1, logLines: 5 }), vars, {
      jobs,
      namespace: 'qa',
      name,
      record: async () => undefined,
    });
    expect(result.status).toBe('failed');
    expect(result.output).toContain(
      `Job qa/${name} failed: BackoffLimitExceeded: Job has reached the specified backoff limit`,
    );
    expect(result.output).toContain('FAIL payments: expected 200, got 503');
    expect(result.output).toContain('line 60');
    expect(result.output).not.toContain('line 55'); // only the last 5 lines
    const job = kube.jobs.getJob('qa', name)!;
    expect(job.status.failed).toBe(2);
    expect(job.spec.backoffLimit).toBe(1);
  });

  it('a resumed check finds the Job it started and does not create a second one', async () => {
    kube.jobs.script = () => null; // the test plays the Job controller
    const name = jobNameFor('op_test3', 'smoke-suite');
    const abort = new AbortController();
    const first = runJobCheck(jobCheck(), vars, {
      jobs,
      namespace: 'qa',
      name,
      signal: abort.signal,
      record: async () => undefined,
    });
    await expect.poll(() => kube.jobs.getJob('qa', name), { timeout: 10_000 }).toBeTruthy();
    kube.jobs.startPod('qa', name);
    abort.abort(new Error('the process died'));
    await expect(first).rejects.toThrow('the process died');
    const created = kube.jobs.counts.created;
    const second = runJobCheck(jobCheck(), vars, { jobs, namespace: 'qa', name, record: async () => undefined });
    await expect.poll(() => kube.jobs.counts.create, { timeout: 10_000 }).toBeGreaterThan(created); // it asked…
    kube.jobs.endPod('qa', name, 0, 'resumed fine\n');
    expect(await second).toMatchObject({ status: 'passed' });
    expect(kube.jobs.counts.created).toBe(created); // …and was told it exists
    expect(kube.jobs.sent.filter((j) => j.metadata.name === name)).toHaveLength(1);
  });

  it('every Job and pod the fake reported validates against the Kubernetes schemas', () => {
    expect(seen.length).toBeGreaterThan(5);
    for (const { kind, obj } of seen) {
      const model = kind === 'Job' ? new Job(obj as never) : new Pod(obj as never);
      expect(() => model.validate(), JSON.stringify(obj)).not.toThrow();
    }
    const phases = new Set(
      seen.filter((s) => s.kind === 'Pod').map((s) => (s.obj as { status: { phase: string } }).status.phase),
    );
    expect(phases).toEqual(new Set(['Running', 'Succeeded', 'Failed']));
  });

  it('an API server that cannot be reached fails the check; it never passes', async () => {
    const gone = new KubeJobs(kubeConfigFor({ server: 'http://127.0.0.1:9' }));
    const result = await runJobCheck(jobCheck(), vars, {
      jobs: gone,
      namespace: 'qa',
      name: jobNameFor('op_test4', 'smoke-suite'),
      record: async () => undefined,
    });
    expect(result.status).toBe('failed');
    expect(result.output).toMatch(/^cannot create Job qa\/conveyor-smoke-suite-[0-9a-f]{10}: /);
  });
});
