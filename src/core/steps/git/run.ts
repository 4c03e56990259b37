/**
 * The Git steps of one operation, run each in a context of its own: it reads the whole
 * operation and writes only its own slice of the progress (GitStepWrites, by the step's name).
 */
import { NotAllowedError } from '../../errors.js';
import { approvalSubject } from '../../gates/quorum.js';
import {
  type GitOperation,
  type GitPlan,
  type GitStepName,
  isGitOperation,
  type Operation,
  type ProgressPatch,
} from '../../operation.js';
import type { GitHost } from '../../ports.js';
import type { StepEngine } from '../kind-runner.js';
import type { GitStep, GitStepContext, StepResult } from './step.js';

export interface GitRun {
  readonly op: GitOperation;
  /** The plan as it stands (a step may plan again). */
  readonly plan: GitPlan;
  readonly host: GitHost;
  /** Who approved the version that ships: `U123 (role)`. */
  readonly approvers: readonly string[];
  /** Run one step in its own context. */
  step<N extends GitStepName>(step: GitStep<N>): Promise<StepResult>;
  /** Record this with the next write of the run (a step's save, or flush), not on its own. */
  note(patch: ProgressPatch): void;
  /** Write what was noted and not yet written. */
  flush(): Promise<void>;
  /** What was noted and not yet written, handed over to be written elsewhere (and forgotten here). */
  takeNoted(): ProgressPatch;
}

export async function gitRun(engine: StepEngine, op: Operation): Promise<GitRun> {
  const { deps } = engine;
  if (!isGitOperation(op)) throw new Error('not a Git operation');
  const host = deps.git.get(op.app);
  if (!host) throw new NotAllowedError(`no repository is connected for ${op.app}`);
  // Approvals are given only for roles the gate requires: where it requires none, there are none to read.
  const roles = op.progress.requiredRoles;
  const approvals = roles && Object.keys(roles).length === 0 ? [] : await deps.store.approvals(op.id);
  const tagFormat = deps.config.git.tagFormat;
  const now = deps.clock.now();
  const approvers = [
    ...new Set(approvals.filter((a) => a.sha === approvalSubject(op)).map((a) => `${a.userId} (${a.role})`)),
  ];
  // What the steps noted (facts a resume would find again): written with the next save.
  let pending: ProgressPatch = {};
  const write = async (slice: ProgressPatch) => {
    const patch = { ...pending, ...slice };
    pending = {};
    Object.assign(op.progress, patch);
    await deps.store.saveProgress(op.id, patch);
  };
  const atStart: Readonly<GitOperation['progress']> = { ...op.progress };
  const context = <N extends GitStepName>(): GitStepContext<N> => ({
    op,
    get plan() {
      return op.plan;
    },
    host,
    tagFormat,
    now,
    approvers,
    atStart,
    save: (slice) => write(slice),
    note: (slice) => {
      Object.assign(op.progress, slice);
      Object.assign(pending, slice);
    },
    savePlan: async (plan) => {
      op.plan = plan;
      await deps.store.savePlan(op.id, plan);
    },
    run: (step) => run.step(step),
  });
  const run: GitRun = {
    op,
    get plan() {
      return op.plan;
    },
    host,
    approvers,
    step: (step) => step.run(context()),
    note: (patch) => {
      Object.assign(op.progress, patch);
      Object.assign(pending, patch);
    },
    flush: async () => {
      if (Object.keys(pending).length) await write({});
    },
    takeNoted: () => {
      const noted = pending;
      pending = {};
      return noted;
    },
  };
  return run;
}
