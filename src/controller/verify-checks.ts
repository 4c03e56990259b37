/**
 * The checks of an environment (`verify.checks`), run one after the other once an operation's
 * rollout is healthy. Each result is stored on the operation (`progress.verifyChecks`) and in
 * the audit log before anything else happens, and each is told in the operation's thread. A
 * resumed run (after a restart) skips what is stored and finds a Job it started by the name it
 * recorded before creating it, so no Job runs twice.
 */

import { isConveyorError } from '../core/errors.js';
import { isGitPlan, type Operation } from '../core/operation.js';
import type { RuntimeWithEngine } from '../core/operation-engine.js';
import { findEnv } from '../core/runtime.js';
import { runCommandCheck } from '../verify/command-check.js';
import { runHttpCheck } from '../verify/http-check.js';
import { jobNameFor, runJobCheck } from '../verify/job-check.js';
import type { JobsFor } from '../verify/jobs.js';
import { verifySlice } from '../verify/progress-slice.js';
import { runPrometheusCheck } from '../verify/prometheus-check.js';
import type { CheckResult, CheckStatus } from '../verify/result.js';
import type { Check } from '../verify/schema.js';
import type { TemplateVars } from '../verify/template.js';
import type { AppTarget } from './live-reconciler.js';
import { imagesFromManifests } from './live-state.js';

export interface StoredCheckResult {
  kind: Check['kind'];
  status: CheckStatus;
  output: string;
  at: string;
}

/** The verifier's slice of an operation's progress. */
export interface VerifyChecksProgress {
  startedAt: string;
  /** Check name → its result, stored as soon as it is known. */
  results: Record<string, StoredCheckResult>;
  /** Check name → the Job it runs, recorded before the Job is created. */
  jobs: Record<string, string>;
}

export const checksProgressOf = (op: Operation): VerifyChecksProgress | undefined =>
  (op.progress as { verifyChecks?: VerifyChecksProgress }).verifyChecks;

export interface ChecksOutcome {
  status: CheckStatus;
  /** The check that decided a failure or an inconclusive end. */
  check?: { name: string; kind: Check['kind']; output: string };
  passed: number;
}

export interface CheckRunDeps {
  runtime: RuntimeWithEngine;
  jobsFor?: JobsFor;
  /** One line in the operation's thread. */
  say(text: string): Promise<void>;
}

const MAX_OUTPUT = 1500;
const clip = (s: string) => (s.length > MAX_OUTPUT ? `${s.slice(0, MAX_OUTPUT)}…` : s);
const MARK: Record<CheckStatus, string> = { passed: '✓', failed: '✗', inconclusive: '?' };

export function checksOf(runtime: RuntimeWithEngine, env: string): Check[] {
  return findEnv(runtime.config, env)?.verify.checks ?? [];
}

/** What the templates may name: the app, the environment, the version now running there. */
export async function templateVars(
  runtime: RuntimeWithEngine,
  op: Operation,
  target: AppTarget,
): Promise<TemplateVars> {
  const p = op.progress;
  const sha = p.deployedSha ?? p.mergeSha ?? p.newSha ?? (isGitPlan(op.plan) ? op.plan.sourceSha : '');
  const tag = p.tag ?? '';
  let version = tag || sha.slice(0, 12);
  try {
    const text = sha ? await runtime.git.get(op.app)?.readFile(sha, target.manifests) : null;
    const image = text ? target.workloads.flatMap((w) => imagesFromManifests(text, w))[0] : undefined;
    const imageTag = image?.match(/:([\w][\w.-]{0,127})$/)?.[1];
    if (imageTag) version = imageTag;
  } catch {
    // manifests unreadable: the deploy tag (or sha) stands for the version
  }
  return { app: op.app, env: op.env, version, sha, tag, operation: op.id, namespace: target.namespace, backup: '' };
}

async function runOne(
  deps: CheckRunDeps,
  op: Operation,
  target: AppTarget,
  check: Check,
  vars: TemplateVars,
  progress: VerifyChecksProgress,
  save: () => Promise<void>,
  signal: AbortSignal,
): Promise<CheckResult> {
  switch (check.kind) {
    case 'http':
      return runHttpCheck(check, vars, signal);
    case 'prometheus':
      return runPrometheusCheck(check, vars, signal);
    case 'job': {
      const jobs = await deps.jobsFor?.(target.cluster);
      if (!jobs) return { status: 'failed', output: `no Kubernetes connection for cluster ${target.cluster}` };
      const name = progress.jobs[check.name] ?? jobNameFor(op.id, check.name);
      return runJobCheck(check, vars, {
        jobs,
        namespace: check.namespace ?? target.namespace,
        name,
        signal,
        record: async () => {
          if (progress.jobs[check.name] === name) return;
          progress.jobs[check.name] = name;
          await save();
        },
      });
    }
    case 'command': {
      // Run by a verification worker: queued on the operation, claimed and reported over HTTP.
      const verify = findEnv(deps.runtime.config, op.env)?.verify;
      return runCommandCheck(
        {
          store: deps.runtime.store,
          clock: deps.runtime.clock,
          worker: verify?.worker,
          waitForWorkerMs: verify?.timeout ?? 600_000,
        },
        op,
        check,
        vars,
        signal,
      );
    }
  }
}

/** Delete a finished check's Job (its result is stored); a failure to delete is only logged. */
async function cleanUp(deps: CheckRunDeps, op: Operation, target: AppTarget, check: Check, job: string | undefined) {
  if (check.kind !== 'job' || !job) return;
  const jobs = await deps.jobsFor?.(target.cluster);
  await jobs
    ?.remove(check.namespace ?? target.namespace, job)
    .catch((err: unknown) =>
      deps.runtime.log.warn(
        { operation: op.id, job, err: isConveyorError(err) ? err.message : String(err) },
        'could not delete a verification Job',
      ),
    );
}

/**
 * Run what is not done yet, in order; stop at the first check that does not pass. Resolves
 * with the outcome; rejects only when `signal` aborts (the verdict came from elsewhere).
 */
export async function runChecks(
  deps: CheckRunDeps,
  op: Operation,
  target: AppTarget,
  signal: AbortSignal,
): Promise<ChecksOutcome> {
  const { store, clock } = deps.runtime;
  const checks = checksOf(deps.runtime, op.env);
  const stored = checksProgressOf(op);
  const progress: VerifyChecksProgress = stored
    ? { startedAt: stored.startedAt, results: { ...stored.results }, jobs: { ...stored.jobs } }
    : { startedAt: clock.now().toISOString(), results: {}, jobs: {} };
  const save = () => store.saveProgress(op.id, verifySlice({ verifyChecks: progress }));
  if (!stored) {
    await save();
    await deps.say(
      `Running ${checks.length} check${checks.length === 1 ? '' : 's'}: ${checks.map((c) => `${c.name} (${c.kind})`).join(', ')}`,
    );
  }
  const vars = await templateVars(deps.runtime, op, target);
  // The engine's sweep ends a `verifying` operation untouched for `verify.timeout`: a long
  // check (an analysis of many measurements, a slow Job) keeps it fresh while it runs.
  const timeout = findEnv(deps.runtime.config, op.env)?.verify.timeout ?? 600_000;
  const heartbeat = setInterval(
    () => void save().catch(() => undefined),
    Math.max(1000, Math.min(60_000, timeout / 4)),
  ).unref();
  try {
    return await runInOrder();
  } finally {
    clearInterval(heartbeat);
  }

  async function runInOrder(): Promise<ChecksOutcome> {
    let passed = 0;
    for (const check of checks) {
      let result: StoredCheckResult | undefined = progress.results[check.name];
      if (!result) {
        const r = await runOne(deps, op, target, check, vars, progress, save, signal);
        if (signal.aborted) throw signal.reason;
        result = { kind: check.kind, status: r.status, output: clip(r.output), at: clock.now().toISOString() };
        progress.results[check.name] = result;
        await save();
        await store.audit('conveyor', 'verify.check', op.id, {
          check: check.name,
          kind: check.kind,
          status: result.status,
          output: result.output,
        });
        await deps.say(`${MARK[result.status]} check ${check.name} (${check.kind}) ${result.status}: ${result.output}`);
      }
      await cleanUp(deps, op, target, check, progress.jobs[check.name]);
      if (result.status !== 'passed')
        return { status: result.status, check: { name: check.name, kind: check.kind, output: result.output }, passed };
      passed += 1;
    }
    return { status: 'passed', passed };
  }
}
