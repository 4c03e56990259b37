/**
 * Promote and rollback: the Git steps in order (./git/: write commit, move branch or open/merge
 * the pull request, tag), each stored as the last step done before the next begins.
 */
import { markStale } from '../env-state.js';
import { applySteps } from './git/index.js';
import { gitRun } from './git/run.js';
import type { KindRunner } from './kind-runner.js';

export const gitApply: KindRunner = {
  async apply(op, engine) {
    const run = await gitRun(engine, op);
    try {
      for (const step of applySteps(run.plan, run.host)) {
        const result = await run.step(step);
        if (result === 'cancelled') return 'cancelled';
        await engine.deps.store.saveProgress(op.id, { lastStep: step.name, lastError: null });
      }
      return 'done';
    } finally {
      markStale(run.host); // the steps wrote upstream: the next read fetches before it answers
    }
  },
};
