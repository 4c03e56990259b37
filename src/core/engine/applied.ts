/** applied → verifying where the controller watches the workload, else succeeded. */
import type { StateHandler } from './state-handler.js';

export const applied: StateHandler = {
  state: 'applied',
  async handle(op, engine) {
    await engine.move(op, engine.afterApplied(op));
    return true;
  },
};
