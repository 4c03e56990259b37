/** Operations: the persisted promotions, rollbacks and journal moves, and who works on them. */
import type { Operation, OperationKind, OperationState, ProgressPatch } from '../operation.js';
import type { MessageRef } from './notifier.js';

export interface NewOperation {
  kind: OperationKind;
  app: string;
  env: string;
  requester: string;
  plan: Operation['plan'];
  idempotencyKey: string | null;
  expiresAt: string | null;
  state?: OperationState;
  /** The progress record it starts with (default: empty). */
  progress?: ProgressPatch;
  /** Claimed for this worker for `untilMs` from the start, as `claim` would (no other worker runs it meanwhile). */
  claim?: { worker: string; untilMs: number };
}

export interface OperationFilter {
  app?: string;
  env?: string;
  states?: OperationState[];
  kinds?: OperationKind[];
  limit?: number;
}

export interface OperationStore {
  /** A new operation (and its `operation.requested` audit line). */
  createOperation(input: NewOperation): Promise<Operation>;
  /** NotFoundError when there is none. */
  operation(id: string): Promise<Operation>;
  findOperation(id: string): Promise<Operation | null>;
  /** The operation a request key created, if any. */
  operationByKey(key: string): Promise<Operation | null>;
  /** Newest first. */
  operations(filter?: OperationFilter): Promise<Operation[]>;
  /** How many operations match (the filter's `limit` is ignored): a count, no rows read out. */
  countOperations(filter?: OperationFilter): Promise<number>;
  /**
   * Move an operation to a new state (audited), merging `progress` into its progress record in
   * the same write; ConflictError when the state machine forbids it. A final state releases the
   * operation's lock (not a manual one) and its claim in that write too. `through`: states passed
   * on the way, in the same write, each audited as a move of its own. Returns the row as written.
   */
  transition(
    id: string,
    to: OperationState,
    actor: string,
    extra?: {
      error?: string | null;
      detail?: Record<string, unknown>;
      progress?: ProgressPatch;
      through?: OperationState[];
    },
  ): Promise<Operation>;
  /** Merge into the operation's progress (as JSONB `||`: a key given as null is stored as null). */
  saveProgress(id: string, progress: ProgressPatch): Promise<void>;
  savePlan(id: string, plan: Operation['plan']): Promise<void>;
  /** Remember the message that shows an operation. */
  attachMessage(id: string, ref: MessageRef): Promise<void>;
  /** Claim an operation for a worker for `untilMs`: the operation as claimed, or null when another live worker has it. */
  claim(id: string, worker: string, untilMs: number): Promise<Operation | null>;
  release(id: string, worker: string): Promise<void>;
  /** Drop every claim (only when this process is the store's only user). */
  releaseAllClaims(): Promise<void>;
}
