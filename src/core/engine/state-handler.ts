/**
 * One state's move of the operation state machine: a small reconcile function that looks at the
 * operation in that state and moves it on (true: look again), or leaves it waiting (false). The
 * engine runs the one for the operation's state (./index.ts lists them in the machine's order).
 */
import type { GateContext, GatePhase } from '../gates/gate-rule.js';
import type { Operation, OperationState, ProgressPatch } from '../operation.js';
import type { KindOutcome } from '../steps/kind-runner.js';
import type { EngineDeps } from './deps.js';

/** What a handler may use of the engine. */
export interface EngineMoves {
  readonly deps: Pick<EngineDeps, 'config' | 'clock' | 'git' | 'tickets'> & {
    store: Pick<EngineDeps['store'], 'approvals' | 'saveProgress' | 'savePlan' | 'audit'>;
  };
  /**
   * Store the transition, audit and announce it (the store releases the lock when it is final).
   * `through`: states passed on the way in the same write, each audited and announced in order.
   */
  move(
    op: Operation,
    to: OperationState,
    extra?: { error?: string; progress?: ProgressPatch; through?: OperationState[] },
  ): Promise<Operation>;
  /** The roles (and how many of each) the operation's gate waits for. */
  required(op: Operation): Record<string, number>;
  /** The context the gate rules read for this operation in a phase. */
  gateContext(phase: GatePhase, op: Operation, extra?: Partial<GateContext>): GateContext;
  /** Run the operation's steps through the runner registered for its kind (`wait`: look again later). */
  apply(op: Operation): Promise<KindOutcome>;
  /** Where an applied operation goes: `verifying` when the controller watches it, else `succeeded`. */
  afterApplied(op: Operation): 'verifying' | 'succeeded';
}

export interface StateHandler {
  state: OperationState;
  handle(op: Operation, engine: EngineMoves): Promise<boolean>;
}
