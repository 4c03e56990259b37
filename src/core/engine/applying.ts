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
    if (outcome === 'cancelled') {
      await engine.move(op, 'cancelled', { error: 'the pull request was closed by hand' });
      return true;
    }
    // Applied, and on as `applied` moves it (verifying, or succeeded), in one write (both audited).
    await engine.move(op, engine.afterApplied(op), {
      through: ['applied'],
      ...(outcome === 'done' ? {} : { progress: outcome.progress }),
    });
    return true;
  },
};
