/**
 * Promote and rollback: the Git steps in order (./git/: write commit, move branch or open/merge
 * the pull request, tag). The last step done is recorded with the next write (each step records
 * its intent before its effect), and at the end with the move to `applied`.
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
        if (result === 'cancelled') {
          await run.flush();
          return 'cancelled';
        }
        // Which step is done is shown, not acted on (each step looks for its own effect on a
        // resume): it goes with the next step's first write, not in a write of its own.
        run.note({ lastStep: step.name, lastError: null });
      }
      // What the last steps noted goes with the move to `applied`, in its write.
      return { result: 'done', progress: run.takeNoted() };
    } catch (err) {
      await run.flush().catch(() => undefined); // what is known so far, where the store still answers
      throw err;
    } finally {
      markStale(run.host); // the steps wrote upstream: the next read fetches before it answers
    }
  },
};
