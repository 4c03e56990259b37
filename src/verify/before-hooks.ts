/**
 * Pre-deploy hooks (`verify.before`, `verify.restore`), plugged in around the engine's Git
 * runner of promotions and rollbacks: before the first Git write, the environment's hooks run
 * in order (a backup Job, an http check). A hook that fails stops the operation with nothing
 * written; a Job still running pauses it (the runner answers `wait`: the engine's sweep looks again), so
 * no process holds an operation while a backup runs. Each result, the Job's name (recorded
 * before the Job is created) and a Job's output are stored on the operation
 * (`progress.beforeHooks`); a rollback's `restore` Job gets the output of the `before` Job of
 * the version it leaves as `{backup}`.
 */

import type { Config } from '../config/schema.js';
import { ConflictError } from '../core/errors.js';
import { isGitPlan, type Operation } from '../core/operation.js';
import type { Clock, Log, Store } from '../core/ports.js';
import type { KindRunner, StepEngine } from '../core/steps/kind-runner.js';
import { runHttpCheck } from './http-check.js';
import { jobNameFor, readJobOnce, startJob } from './job-check.js';
import type { JobsFor } from './jobs.js';
import { verifySlice } from './progress-slice.js';
import type { CheckStatus } from './result.js';
import type { HttpCheck, JobCheck } from './schema.js';
import type { TemplateVars } from './template.js';

export interface HookProgress {
  results: Record<string, { kind: string; status: CheckStatus; output: string; at: string }>;
  jobs: Record<string, string>;
  /** A `before` Job's output (a backup id), by hook name. */
  outputs: Record<string, string>;
}

export const hooksOf = (op: Operation): HookProgress | undefined =>
  (op.progress as { beforeHooks?: HookProgress }).beforeHooks;

export interface HookDeps {
  config: Config;
  store: Pick<Store, 'saveProgress' | 'audit' | 'operations'>;
  clock: Clock;
  log: Log;
  jobsFor: JobsFor;
  /** The version a sha runs (the image tag in its manifests), when it can be read. */
  versionAt?: (app: string, sha: string) => Promise<string | null>;
}

type Hook = HttpCheck | JobCheck;

function hooksFor(config: Config, op: Operation): Hook[] {
  const verify = config.environments.find((e) => e.name === op.env)?.verify;
  if (!verify) return [];
  if (op.kind === 'promote') return verify.before;
  if (op.kind === 'rollback' && verify.restore) return [verify.restore];
  return [];
}

/** The `before` output recorded by the promotion that deployed the version a rollback leaves. */
async function backupOf(deps: HookDeps, op: Operation): Promise<string | null> {
  const plan = op.plan;
  if (!isGitPlan(plan) || !plan.fromTag) return null;
  const ops = await deps.store.operations({ app: op.app, env: op.env, kinds: ['promote'], limit: 50 });
  const deployed = ops.find((o) => o.progress.tag === plan.fromTag);
  const outputs = deployed ? hooksOf(deployed)?.outputs : undefined;
  return outputs ? (Object.values(outputs).find(Boolean) ?? null) : null;
}

export function withBeforeHooks(inner: KindRunner, deps: HookDeps): KindRunner {
  return {
    async apply(op: Operation, engine: StepEngine) {
      const hooks = hooksFor(deps.config, op);
      const stored = hooksOf(op);
      const progress: HookProgress = {
        results: { ...stored?.results },
        jobs: { ...stored?.jobs },
        outputs: { ...stored?.outputs },
      };
      const failed = hooks.find((h) => progress.results[h.name] && progress.results[h.name]!.status !== 'passed');
      if (failed)
        throw new ConflictError(`hook ${failed.name} ${progress.results[failed.name]!.status}: nothing was written`);
      const pending = hooks.filter((h) => !progress.results[h.name]);
      if (!pending.length) return inner.apply(op, engine);
      const save = () => deps.store.saveProgress(op.id, verifySlice({ beforeHooks: progress }));
      const target = deps.config.apps.find((a) => a.name === op.app)?.targets[op.env];
      const sha = isGitPlan(op.plan) ? op.plan.sourceSha : '';
      let backup = '';
      if (op.kind === 'rollback') {
        const found = await backupOf(deps, op);
        if (!found) {
          // Nothing to restore from: the rollback itself must not wait on a backup that never was.
          await deps.store.audit('conveyor', 'hook.restore.skipped', op.id, { reason: 'no backup recorded' });
          return inner.apply(op, engine);
        }
        backup = found;
      }
      const vars: TemplateVars = {
        app: op.app,
        env: op.env,
        version: (await deps.versionAt?.(op.app, sha).catch(() => null)) ?? sha.slice(0, 12),
        sha,
        tag: '',
        operation: op.id,
        namespace: target?.namespace ?? '',
        backup,
      };
      for (const hook of pending) {
        const record = async (status: CheckStatus, output: string) => {
          progress.results[hook.name] = { kind: hook.kind, status, output, at: deps.clock.now().toISOString() };
          await save();
          await deps.store.audit('conveyor', 'hook.before', op.id, {
            hook: hook.name,
            kind: hook.kind,
            status,
            output,
          });
          if (status !== 'passed')
            throw new ConflictError(
              `${op.kind === 'rollback' ? 'restore' : 'before'} hook ${hook.name} (${hook.kind}) ${status}: ${output}; nothing was written`,
            );
        };
        if (hook.kind === 'http') {
          const r = await runHttpCheck(hook, vars);
          await record(r.status, r.output);
          continue;
        }
        if (!target) {
          await record('failed', `${op.app} has no target in ${op.env} to run a Job in`);
          continue;
        }
        const jobs = await deps.jobsFor(target.cluster);
        if (!jobs) {
          await record('failed', `no Kubernetes connection for cluster ${target.cluster}`);
          continue;
        }
        const name = progress.jobs[hook.name] ?? jobNameFor(op.id, hook.name);
        const run = {
          jobs,
          namespace: hook.namespace ?? target.namespace,
          name,
          record: async () => {
            if (progress.jobs[hook.name] === name) return;
            progress.jobs[hook.name] = name;
            await save();
          },
        };
        const refused = await startJob(hook, vars, run);
        if (refused) {
          await record(refused.status, refused.output);
          continue;
        }
        const result = await readJobOnce(hook, run);
        if (!result) {
          // Still running: the operation waits in `applying` and the engine's sweep looks again.
          deps.log.debug({ operation: op.id, hook: hook.name, job: name }, 'waiting for a hook Job');
          return 'wait';
        }
        if (result.status === 'passed') {
          const output = await jobs.output(run.namespace, name).catch(() => '');
          if (output) progress.outputs[hook.name] = output.slice(0, 500);
        }
        try {
          const output = progress.outputs[hook.name];
          await record(result.status, result.output + (output ? ` (output: ${output})` : ''));
        } finally {
          // The result is stored (or the operation fails with it): the Job and its pods go.
          await jobs
            .remove(run.namespace, name)
            .catch((err: unknown) =>
              deps.log.warn({ operation: op.id, job: name, err: String(err) }, 'could not delete a hook Job'),
            );
        }
      }
      return inner.apply(op, engine);
    },
  };
}

/** Wrap the engine's promote and rollback runners (called by the composition root). */
export function installBeforeHooks(
  engine: { runners: ReadonlyMap<string, KindRunner>; registerKind(kind: 'promote' | 'rollback', r: KindRunner): void },
  deps: HookDeps,
): void {
  for (const kind of ['promote', 'rollback'] as const) {
    const inner = engine.runners.get(kind);
    if (inner) engine.registerKind(kind, withBeforeHooks(inner, deps));
  }
}
