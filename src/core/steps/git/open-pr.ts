/**
 * open-pr (pull-request environments): push the operation's commit to its own branch and open
 * the pull request, before the gate, so approvers see it. Its slice: `prNumber`, `prUrl`.
 */
import { ConflictError } from '../../errors.js';
import type { GitStep } from './step.js';
import { commitMessage, theCommit } from './write-commit.js';

export const openPullRequest: GitStep<'open-pr'> = {
  name: 'open-pr',
  async run(ctx) {
    if (ctx.op.progress.prNumber) return 'done';
    const { host, plan, op } = ctx;
    if (!host.openPullRequest) return 'done';
    const newSha = await theCommit(ctx);
    const head = `conveyor/${op.id}`;
    await host.sync();
    if ((await host.branchHead(head)) !== newSha) {
      await host.updateBranch(head, newSha, null).catch((err) => {
        if (!(err instanceof ConflictError)) throw err;
      });
    }
    const pr = await host.openPullRequest({
      base: plan.branch,
      head,
      title: `${op.kind === 'rollback' ? 'Roll back' : 'Promote'} ${op.app} to ${plan.env} (${op.id})`,
      body: `${commitMessage(ctx)}\n\nOpened by Conveyor; it merges this when the approval gate is satisfied.`,
    });
    await ctx.save({ prNumber: pr.number, prUrl: pr.url });
    return 'done';
  },
};
