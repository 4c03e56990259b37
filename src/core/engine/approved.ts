/**
 * approved → applying, unless the change ticket was withdrawn while the request waited (the
 * gates' `apply` phase, right before the first write): then failed, with the refusal audited.
 */
import { runGates } from '../gates/run-gates.js';
import { isGitOperation } from '../operation.js';
import type { StateHandler } from './state-handler.js';

export const approved: StateHandler = {
  state: 'approved',
  async handle(op, engine) {
    const ticket = isGitOperation(op) ? op.plan.ticket : null;
    const outcome = await runGates(engine.gateContext('apply', op, { ticket, tickets: engine.deps.tickets ?? null }));
    if (outcome.verdict === 'refuse') {
      if (outcome.audit) await engine.deps.store.audit('conveyor', outcome.audit.action, op.id, outcome.audit.detail);
      await engine.move(op, 'failed', { error: outcome.reason });
      return true;
    }
    await engine.move(op, 'applying');
    return true;
  },
};
