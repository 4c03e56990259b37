/**
 * The state machine's handlers, in the machine's order (Flux-style ordered reconcile functions):
 * one per state that moves on by itself; final states have none. The engine runs the handler of
 * the operation's state until one leaves it waiting.
 */
import type { OperationState } from '../operation.js';
import { applied } from './applied.js';
import { applying } from './applying.js';
import { approved } from './approved.js';
import { awaitingApproval } from './awaiting-approval.js';
import { requested } from './requested.js';
import type { StateHandler } from './state-handler.js';
import { verifying } from './verifying.js';

export const STATE_HANDLERS: readonly StateHandler[] = [
  requested,
  awaitingApproval,
  approved,
  applying,
  applied,
  verifying,
];

const BY_STATE = new Map<OperationState, StateHandler>(STATE_HANDLERS.map((h) => [h.state, h]));

export function handlerFor(state: OperationState): StateHandler | undefined {
  return BY_STATE.get(state);
}
