/**
 * requested → awaiting-approval (or approved where the gate wants nobody). A pull-request
 * environment opens its pull request first, so approvers see it.
 */
import { isGitOperation } from '../operation.js';
import { openPullRequest } from '../steps/git/open-pr.js';
import { gitRun } from '../steps/git/run.js';
import type { StateHandler } from './state-handler.js';

export const requested: StateHandler = {
  state: 'requested',
  async handle(op, engine) {
    if (isGitOperation(op) && op.plan.viaPullRequest) {
      const run = await gitRun(engine, op);
      if (run.host.openPullRequest) await run.step(openPullRequest);
    }
    const needed = Object.keys(engine.required(op)).length > 0;
    await engine.move(op, needed ? 'awaiting-approval' : 'approved');
    return true;
  },
};
