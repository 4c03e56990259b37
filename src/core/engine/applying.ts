/**
 * applying → applied: the steps of the operation's kind (src/core/steps/), each idempotent, so a
 * resume after a crash picks up where it stopped; cancelled when its pull request was closed by hand.
 * A runner that waits (a pre-deploy hook's Job still running) leaves the operation in `applying`:
 * the engine's sweep runs it again, quietly.
 */
import type { StateHandler } from './state-handler.js';

export const applying: StateHandler = {
  state: 'applying',
  async handle(op, engine) {
    const outcome = await engine.apply(op);
    if (outcome === 'wait') return false;
    await engine.move(
      op,
      outcome === 'cancelled' ? 'cancelled' : 'applied',
      outcome === 'cancelled'
        ? { error: 'the pull request was closed by hand' }
        : outcome === 'done'
          ? {}
          : { progress: outcome.progress },
    );
    return true;
  },
};
