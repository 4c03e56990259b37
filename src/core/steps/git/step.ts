/**
 * One Git step of a promotion or rollback (one file each, beside this one): idempotent, it first
 * looks whether its effect is already there (a crash may have come after the write and before the
 * record), then acts, then records its own slice of the progress (GitStepWrites, keyed by its
 * name). Run in order by ../git-apply.ts, in contexts made by ./run.ts.
 */
import type { GitOperation, GitPlan, GitStepName, GitStepWrites } from '../../operation.js';
import type { GitHost } from '../../ports.js';

/** How old a fetch the steps of an operation may build on (the plan's own fetch). */
export const FRESH_MS = 2_000;

export type StepResult = 'done' | 'wait' | 'cancelled';

/** The operation as a step sees it: everything recorded so far, read only (it writes through save). */
export type StepOperation = Readonly<Omit<GitOperation, 'progress' | 'plan'>> & {
  readonly progress: Readonly<GitOperation['progress']>;
};

export interface GitStepContext<N extends GitStepName> {
  readonly op: StepOperation;
  /** The plan as it stands (a re-plan replaces it through savePlan). */
  readonly plan: GitPlan;
  readonly host: GitHost;
  readonly tagFormat: string;
  readonly now: Date;
  /** Who approved the version that ships: `U123 (role)`. */
  readonly approvers: readonly string[];
  /** The progress as stored when this run began: what an earlier run (before a crash) recorded. */
  readonly atStart: Readonly<GitOperation['progress']>;
  /**
   * Record this step's own slice, in the operation and in the store (with whatever was noted
   * since the last write).
   */
  save(slice: GitStepWrites[N]): Promise<void>;
  /**
   * Record this step's slice in the operation now and in the store with the run's next write: for
   * what a resume would find again by itself (a fast-forward's commit is the plan's source), never
   * for an intent that must be stored before an effect.
   */
  note(slice: GitStepWrites[N]): void;
  /** Store a new plan (the branch moved under the operation). */
  savePlan(plan: GitPlan): Promise<void>;
  /** Run a step this one builds on (the commit before a push or a pull request), with that step's slice. */
  run<M extends GitStepName>(step: GitStep<M>): Promise<StepResult>;
}

export interface GitStep<N extends GitStepName> {
  readonly name: N;
  run(ctx: GitStepContext<N>): Promise<StepResult>;
}

/** Any one of the Git steps (a list of them is what an operation runs). */
export type AnyGitStep = { [N in GitStepName]: GitStep<N> }[GitStepName];
