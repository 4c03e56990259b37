/** The context the Git steps (src/core/git-steps.ts) run in, for one operation. */

import { NotAllowedError } from '../errors.js';
import { approvalSubject } from '../gates/quorum.js';
import type { StepContext } from '../git-steps.js';
import { isGitPlan, type Operation } from '../operation.js';
import type { GitHost } from '../ports.js';
import type { StepEngine } from './kind-runner.js';

export async function gitStepContext(engine: StepEngine, op: Operation): Promise<StepContext & { host: GitHost }> {
  const { deps } = engine;
  if (!isGitPlan(op.plan)) throw new Error('not a Git operation');
  const host = deps.git.get(op.app);
  if (!host) throw new NotAllowedError(`no repository is connected for ${op.app}`);
  const approvals = await deps.store.approvals(op.id);
  return {
    op,
    plan: op.plan,
    host,
    tagFormat: deps.config.git.tagFormat,
    now: deps.clock.now(),
    approvers: [
      ...new Set(approvals.filter((a) => a.sha === approvalSubject(op)).map((a) => `${a.userId} (${a.role})`)),
    ],
    save: async (progress) => {
      Object.assign(op.progress, progress);
      await deps.store.saveProgress(op.id, progress);
    },
    savePlan: async (plan) => {
      op.plan = plan;
      await deps.store.savePlan(op.id, plan);
    },
  };
}
