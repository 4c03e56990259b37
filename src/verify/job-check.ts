/**
 * A `job` check: a Kubernetes Job run to completion in the target's cluster. Its name is
 * derived from the operation and the check, and recorded on the operation before the Job is
 * created, so a resumed verification finds the Job it started instead of running a second one.
 * A failed Job attaches the tail of its pod's log. The caller deletes the Job once the result
 * is stored.
 */
import { createHash } from 'node:crypto';
import { crashPoint } from '../core/fault-points.js';
import type { JobManifest, Jobs } from './jobs.js';
import { pause } from './measure.js';
import type { CheckResult } from './result.js';
import { type JobCheck, timeoutOf } from './schema.js';
import { fill, type TemplateVars } from './template.js';

/** `conveyor-<check>-<hash>`: a DNS label (≤ 63), the same for the same operation and check. */
export function jobNameFor(operationId: string, check: string): string {
  const hash = createHash('sha256').update(`${operationId}\u0000${check}`).digest('hex').slice(0, 10);
  return `conveyor-${check.slice(0, 40)}-${hash}`.replace(/-+/g, '-');
}

export function jobManifest(check: JobCheck, vars: TemplateVars, name: string, namespace: string): JobManifest {
  const labels = {
    'app.kubernetes.io/managed-by': 'conveyor',
    'conveyor.dev/check': check.name,
    'conveyor.dev/operation': vars.operation.replace(/[^A-Za-z0-9._-]/g, '-').slice(0, 63),
  };
  const env = {
    CONVEYOR_APP: vars.app,
    CONVEYOR_ENV: vars.env,
    CONVEYOR_VERSION: vars.version,
    CONVEYOR_SHA: vars.sha,
    CONVEYOR_OPERATION: vars.operation,
    ...Object.fromEntries(Object.entries(check.env).map(([k, v]) => [k, fill(v, vars)])),
  };
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name, namespace, labels },
    spec: {
      backoffLimit: check.retries,
      activeDeadlineSeconds: Math.max(1, Math.ceil(timeoutOf(check) / 1000)),
      // A safety net if Conveyor is gone for good; it deletes the Job itself once the result is stored.
      ttlSecondsAfterFinished: 86_400,
      template: {
        metadata: { labels },
        spec: {
          restartPolicy: 'Never',
          ...(check.serviceAccountName ? { serviceAccountName: check.serviceAccountName } : {}),
          containers: [
            {
              name: 'check',
              image: fill(check.image, vars),
              ...(check.command ? { command: check.command.map((a) => fill(a, vars)) } : {}),
              args: check.args.map((a) => fill(a, vars)),
              env: Object.entries(env).map(([name, value]) => ({ name, value })),
            },
          ],
        },
      },
    },
  };
}

export interface JobRun {
  jobs: Jobs;
  namespace: string;
  name: string;
  signal?: AbortSignal;
  /** Store the Job's name on the operation; resolves before the Job is created. */
  record(): Promise<void>;
}

/** Record the name, then create the Job (or find it there); a failure to create is the result. */
export async function startJob(check: JobCheck, vars: TemplateVars, run: JobRun): Promise<CheckResult | null> {
  await run.record();
  try {
    const created = await run.jobs.create(jobManifest(check, vars, run.name, run.namespace));
    if (created === 'created') crashPoint('after-verify-job-create');
    return null;
  } catch (err) {
    return { status: 'failed', output: `cannot create Job ${run.namespace}/${run.name}: ${(err as Error).message}` };
  }
}

/** One look at the Job: its result once it has ended, null while it runs (a read error throws). */
export async function readJobOnce(check: JobCheck, run: JobRun): Promise<CheckResult | null> {
  const { jobs, namespace, name } = run;
  const where = `Job ${namespace}/${name}`;
  const state = await jobs.read(namespace, name);
  if (state.phase === 'succeeded') return { status: 'passed', output: `${where} succeeded` };
  if (state.phase === 'failed' || state.phase === 'missing') {
    const tail = await jobs.logTail(namespace, name, check.logLines).catch(() => '');
    const detail = state.phase === 'missing' ? 'the Job is gone' : `failed: ${state.detail}`;
    return { status: 'failed', output: `${where} ${detail}${tail ? `\nlast log lines:\n${tail.trimEnd()}` : ''}` };
  }
  return null;
}

export async function runJobCheck(check: JobCheck, vars: TemplateVars, run: JobRun): Promise<CheckResult> {
  const where = `Job ${run.namespace}/${run.name}`;
  const refused = await startJob(check, vars, run);
  if (refused) return refused;
  // The Job's activeDeadlineSeconds ends it in the cluster; this wait gives the cluster a margin.
  const deadline = Date.now() + timeoutOf(check) + 60_000;
  let unreachable = 0;
  for (;;) {
    let result: CheckResult | null;
    try {
      result = await readJobOnce(check, run);
      unreachable = 0;
    } catch (err) {
      if (++unreachable > Math.max(3, check.retries))
        return { status: 'failed', output: `cannot read ${where}: ${(err as Error).message}` };
      await pause(check.interval, run.signal);
      continue;
    }
    if (result) return result;
    if (Date.now() > deadline) return { status: 'failed', output: `${where} did not finish in time` };
    await pause(check.interval, run.signal);
  }
}
