/**
 * The apply steps of one kind of operation, run by the engine from its registry keyed by kind
 * (Git kinds: ./git-apply.ts; journal kinds: the journal chain registers itself). Each step is
 * idempotent: it looks whether its effect is already there before it acts, so a resume after a
 * crash never does anything twice.
 */
import type { Operation, ProgressPatch } from '../operation.js';
import type { Clock, GitHost } from '../ports.js';

/**
 * What a runner's apply ends with: `done` (every step done), `cancelled` (its pull request was
 * closed by hand) or `wait` (something it started is still running, e.g. a pre-deploy hook's
 * Job: the operation stays where it is and the engine's sweep runs it again later).
 */
export type KindResult = 'done' | 'cancelled' | 'wait';

/**
 * `done`, with what the last steps noted and did not write (facts a resume would find again):
 * recorded with the move to `applied`, in the same write, not in one of their own.
 */
export interface KindDone {
  result: 'done';
  progress: ProgressPatch;
}

export type KindOutcome = KindResult | KindDone;

/** The runner of one kind is handed only operations of that kind (the registry is keyed by kind). */
export interface KindRunner<O extends Operation = Operation> {
  apply(op: O, engine: StepEngine): Promise<KindOutcome>;
}

/** What a runner may use of the engine (structurally the OperationEngine and its ports). */
export interface StepEngine {
  readonly deps: {
    store: {
      approvals(operationId: string): Promise<{ userId: string; role: string; sha: string }[]>;
      saveProgress(id: string, progress: ProgressPatch): Promise<void>;
      savePlan(id: string, plan: Operation['plan']): Promise<void>;
    };
    config: { git: { tagFormat: string } };
    clock: Clock;
    git: Map<string, GitHost>;
  };
}
