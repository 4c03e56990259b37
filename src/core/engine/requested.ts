/**
 * requested → awaiting-approval, or, where the gate wants nobody, through approved to applying
 * (or failed, as `approved` decides) in one write. A pull-request environment opens its pull
 * request first, so approvers see it.
 */
import { isGitOperation } from '../operation.js';
import { openPullRequest } from '../steps/git/open-pr.js';
import { gitRun } from '../steps/git/run.js';
import { startApplying } from './approved.js';
import type { StateHandler } from './state-handler.js';

export const requested: StateHandler = {
  state: 'requested',
  async handle(op, engine) {
    if (isGitOperation(op) && op.plan.viaPullRequest) {
      const run = await gitRun(engine, op);
      if (run.host.openPullRequest) await run.step(openPullRequest);
    }
    if (Object.keys(engine.required(op)).length > 0) await engine.move(op, 'awaiting-approval');
    // Nobody to wait for: approved, and on as `approved` moves it, in one write (both audited).
    else await startApplying(op, engine, ['approved']);
    return true;
  },
};
