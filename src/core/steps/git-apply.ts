/**
 * Promote and rollback: the Git steps in order (write commit, move branch or open/merge the
 * pull request, tag), each stored as the last step done before the next begins.
 */
import { markStale } from '../env-state.js';
import { applySteps } from '../git-steps.js';
import { gitStepContext } from './git-step-context.js';
import type { KindRunner } from './kind-runner.js';

export const gitApply: KindRunner = {
  async apply(op, engine) {
    const ctx = await gitStepContext(engine, op);
    try {
      for (const step of applySteps(ctx.plan, ctx.host)) {
        const result = await step.run(ctx);
        if (result === 'cancelled') return 'cancelled';
        await engine.deps.store.saveProgress(op.id, { lastStep: step.name, lastError: null });
      }
      return 'done';
    } finally {
      markStale(ctx.host); // the steps wrote upstream: the next read fetches before it answers
    }
  },
};
