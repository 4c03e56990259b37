/**
 * verifying: the controller's verdict ends it (OperationEngine.finishVerification); here only the
 * environment's `verify.timeout` does, as failed.
 */
import { findEnv } from '../runtime.js';
import type { StateHandler } from './state-handler.js';

export const verifying: StateHandler = {
  state: 'verifying',
  async handle(op, engine) {
    const now = engine.deps.clock.now();
    const env = findEnv(engine.deps.config, op.env);
    const timeout = env?.verify.timeout ?? 600_000;
    if (now.getTime() - new Date(op.updatedAt).getTime() > timeout) {
      await engine.move(op, 'failed', {
        error: `the rollout did not become healthy within ${Math.round(timeout / 1000)}s`,
      });
      return true;
    }
    return false;
  },
};
