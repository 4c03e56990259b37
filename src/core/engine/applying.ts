/**
 * applying → applied: the steps of the operation's kind (src/core/steps/), each idempotent, so a
 * resume after a crash picks up where it stopped; cancelled when its pull request was closed by hand.
 */
import type { StateHandler } from './state-handler.js';

export const applying: StateHandler = {
  state: 'applying',
  async handle(op, engine) {
    const result = await engine.apply(op);
    await engine.move(
      op,
      result === 'cancelled' ? 'cancelled' : 'applied',
      result === 'cancelled' ? { error: 'the pull request was closed by hand' } : {},
    );
    return true;
  },
};
