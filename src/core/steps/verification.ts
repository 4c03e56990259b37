/**
 * The hand-off after `applied`: whether the operation waits in `verifying` for the
 * controller's verdict on the rollout, or succeeds at once. Given to the engine when it is
 * built (or registered by the controller, which knows which workloads it watches).
 */
import type { Operation } from '../operation.js';

export type VerificationPolicy = (op: Operation) => boolean;

/** Without a controller there is nothing to verify against: applied means succeeded. */
export const noVerification: VerificationPolicy = () => false;

export function nextAfterApplied(op: Operation, policy: VerificationPolicy): 'verifying' | 'succeeded' {
  return policy(op) ? 'verifying' : 'succeeded';
}
