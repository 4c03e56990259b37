/**
 * merge-pr: merge the operation's pull request, exactly the head that was approved (a head
 * moved since is refused, here and by GitHub). A pull request closed by hand cancels the
 * operation. Its slice: `mergeSha`.
 */
import { ConflictError } from '../../errors.js';
import { crashPoint } from '../../fault-points.js';
import type { GitStep } from './step.js';

export const mergePullRequest: GitStep<'merge-pr'> = {
  name: 'merge-pr',
  async run(ctx) {
    const { host, op } = ctx;
    const num = op.progress.prNumber;
    if (num === undefined) throw new Error('merge-pr before open-pr recorded the pull request'); // never: it runs first
    if (op.progress.mergeSha) return 'done';
    // Only hosts with pull requests are given this step (./index.ts).
    const pr = await host.getPullRequest!(num);
    if (pr.state === 'merged') {
      await ctx.save({ mergeSha: pr.mergeSha });
      return 'done';
    }
    if (pr.state === 'closed') return 'cancelled';
    // Merge exactly what was approved: if the PR's head moved, GitHub refuses (409).
    const approvedHead = op.progress.newSha ?? pr.headSha;
    if (pr.headSha !== approvedHead) {
      throw new ConflictError(
        `pull request #${num} changed after it was approved (${approvedHead.slice(0, 8)} → ${pr.headSha.slice(0, 8)}); ask again`,
      );
    }
    const merged = await host.mergePullRequest!(
      num,
      approvedHead,
      `Merge ${op.id}: ${op.kind} ${op.app} to ${ctx.plan.env}`,
    );
    crashPoint('after-merge');
    await ctx.save({ mergeSha: merged.mergeSha });
    return 'done';
  },
};
