/**
 * The operation engine as the core's commands see it (src/core/operation-engine.ts implements
 * it): ask, check, approve, reject, move on. Registering kinds of operation and the
 * verification policy belong to the composition root, which holds the engine itself.
 */
import type { Operation, OperationRequest } from '../operation.js';

export type EngineRequestCheck = Pick<OperationRequest, 'kind' | 'env' | 'requester' | 'emergency'> & { app?: string };

export interface Engine {
  /** Policy checks before anything is stored: freeze, who may ask, whether anyone else could approve. */
  checkRequest(req: EngineRequestCheck, options?: { needsApproval?: boolean }): Promise<void>;
  /** Everything `request` would refuse, without storing anything (dry-runs, diff's advice). */
  preflight(req: Pick<OperationRequest, 'kind' | 'app' | 'env' | 'requester' | 'emergency'>): Promise<void>;
  request(req: OperationRequest): Promise<Operation>;
  /** Run the operation's next steps as far as they go now. */
  advance(id: string): Promise<Operation>;
  approve(id: string, user: string): Promise<{ op: Operation; role: string }>;
  reject(id: string, user: string, reason: string | null): Promise<Operation>;
  /** Show the operation's current state on its message (edit it) or post it; once per state. */
  publish(op: Operation): Promise<void>;
  /** Resume what is unfinished and unclaimed. */
  sweep(): Promise<void>;
  startSweeper(intervalMs?: number): void;
  stop(): Promise<void>;
}
