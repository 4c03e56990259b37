/**
 * The Git steps of a promotion or rollback, in the order they run: straight onto the branch,
 * or through a pull request where the environment is entered by one and the host has them.
 */
import type { GitPlan } from '../../operation.js';
import type { GitHost } from '../../ports.js';
import { mergePullRequest } from './merge-pr.js';
import { moveBranch } from './move-branch.js';
import { openPullRequest } from './open-pr.js';
import type { AnyGitStep } from './step.js';
import { tag } from './tag.js';
import { writeCommit } from './write-commit.js';

export { mergePullRequest, moveBranch, openPullRequest, tag, writeCommit };

export function applySteps(plan: GitPlan, host: GitHost): AnyGitStep[] {
  if (plan.viaPullRequest && host.openPullRequest) return [openPullRequest, mergePullRequest, tag];
  return [writeCommit, moveBranch, tag];
}
