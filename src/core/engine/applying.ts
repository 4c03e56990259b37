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
    const result = await engine.apply(op);
    if (result === 'wait') return false;
    await engine.move(
      op,
      result === 'cancelled' ? 'cancelled' : 'applied',
      result === 'cancelled' ? { error: 'the pull request was closed by hand' } : {},
    );
    return true;
  },
};
