/**
 * approved → applying, unless the change ticket was withdrawn while the request waited (the
 * gates' `apply` phase, right before the first write): then failed, with the refusal audited.
 */
import { runGates } from '../gates/run-gates.js';
import { isGitOperation, type Operation, type OperationState } from '../operation.js';
import type { EngineMoves, StateHandler } from './state-handler.js';

/**
 * What `approved` does, for an operation approved now or before: `through` are the states it
 * passes on the way in the same write (`approved` itself, for a request nobody has to approve).
 */
export async function startApplying(op: Operation, engine: EngineMoves, through: OperationState[] = []): Promise<void> {
  const ticket = isGitOperation(op) ? op.plan.ticket : null;
  const outcome = await runGates(engine.gateContext('apply', op, { ticket, tickets: engine.deps.tickets ?? null }));
  if (outcome.verdict === 'refuse') {
    if (outcome.audit) await engine.deps.store.audit('conveyor', outcome.audit.action, op.id, outcome.audit.detail);
    await engine.move(op, 'failed', { error: outcome.reason, through });
    return;
  }
  await engine.move(op, 'applying', { through });
}

export const approved: StateHandler = {
  state: 'approved',
  async handle(op, engine) {
    await startApplying(op, engine);
    return true;
  },
};
