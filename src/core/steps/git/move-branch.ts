/**
 * move-branch: move the environment branch to the operation's commit, only from the head it was
 * planned on (compare-and-swap). When the branch moved under the operation, it is planned once
 * more on the new head; twice is a conflict. Its slice: `pushing` (recorded before the push, so a
 * resume knows a branch at the commit was its own push) and `replanned`, which discards the
 * commit written for the old plan (`newSha: null`). Where the host can, the deploy tag of the next
 * step is written with the branch (plain Git: one atomic push; GitHub: see `updateBranchWithTag`),
 * and its name (`tag`) recorded with `pushing`.
 */

import { syncHost } from '../../env-state.js';
import { ConflictError } from '../../errors.js';
import { crashPoint } from '../../fault-points.js';
import type { GitPlan } from '../../operation.js';
import { FRESH_MS, type GitStep, type GitStepContext } from './step.js';
import { deployTagName, deployTagText } from './tag.js';
import { theCommit } from './write-commit.js';

/** Re-plan once when the branch moved under us: build again on the new head. */
async function replan(ctx: GitStepContext<'move-branch'>, seen: string): Promise<void> {
  if (ctx.op.progress.replanned) {
    throw new ConflictError(
      `${ctx.plan.branch} moved again while we worked (now ${seen.slice(0, 8)}); nothing was overwritten — ask again`,
    );
  }
  await ctx.host.sync();
  // `seen` may come from a mirror fetched a moment ago (FRESH_MS): plan on the head the
  // remote has now, or a push made since that fetch would count as a second move.
  const head = (await ctx.host.branchHead(ctx.plan.branch)) ?? seen;
  if ((await ctx.host.treeOf(head)) === ctx.plan.sourceTree) {
    // Someone else already brought the branch to this very version: a new commit and a second
    // deploy tag for it would be a lie.
    throw new ConflictError(
      `${ctx.plan.branch} already runs this version (${head.slice(0, 8)}): it was moved there meanwhile by someone else; nothing to do`,
    );
  }
  const ff = await ctx.host.isAncestor(head, ctx.plan.sourceSha);
  const plan: GitPlan = { ...ctx.plan, targetHead: head, mode: ff ? 'fast-forward' : 'commit' };
  await ctx.savePlan(plan);
  await ctx.save({ newSha: null, replanned: true, pushing: false });
}

export const moveBranch: GitStep<'move-branch'> = {
  name: 'move-branch',
  async run(ctx) {
    const { host } = ctx;
    for (let attempt = 0; attempt < 2; attempt++) {
      const newSha = await theCommit(ctx);
      // The plan fetched the mirror moments ago (a resume or a late approval fetches again);
      // the write itself is a compare-and-swap, so a branch moved since is still caught.
      await syncHost(host, ctx.op.progress.pushing ? 0 : FRESH_MS);
      const head = await host.branchHead(ctx.plan.branch);
      if (head === newSha) {
        // Our own push, when a crash came after it. Otherwise someone else (an operation planned
        // on the same old head) moved the branch to this very version: nothing to do, and a
        // second deploy tag for it would be a lie.
        if (ctx.op.progress.pushing) return 'done';
        throw new ConflictError(
          `${ctx.plan.branch} already runs ${newSha.slice(0, 8)}: it was moved there meanwhile by someone else; nothing to do`,
        );
      }
      if (head !== ctx.plan.targetHead) {
        await replan(ctx, head!);
        continue;
      }
      // The deploy tag (the next step) goes with the branch where the host can (plain Git: the
      // same atomic push; GitHub: its object beside the branch's update). Its name is recorded
      // with the intent; the tag step then finds it there, as after a crash.
      const tag = host.updateBranchWithTag
        ? { name: await deployTagName(ctx, newSha), message: await deployTagText(ctx) }
        : null;
      // Recorded before the push, so a resume knows it was ours.
      await ctx.save(tag ? { pushing: true, tag: tag.name } : { pushing: true });
      try {
        if (tag && host.updateBranchWithTag) {
          await host.updateBranchWithTag(ctx.plan.branch, newSha, ctx.plan.targetHead, tag);
        } else await host.updateBranch(ctx.plan.branch, newSha, ctx.plan.targetHead);
      } catch (err) {
        if (err instanceof ConflictError && attempt === 0) {
          await host.sync();
          const moved = await host.branchHead(ctx.plan.branch);
          // Refused, so not ours (a host that finds its own write behind a lost answer returns):
          // someone else moved the branch to this very version.
          if (moved === newSha) {
            throw new ConflictError(
              `${ctx.plan.branch} already runs ${newSha.slice(0, 8)}: it was moved there meanwhile by someone else; nothing to do`,
            );
          }
          await replan(ctx, moved!);
          continue;
        }
        throw err;
      }
      crashPoint('after-push');
      return 'done';
    }
    throw new ConflictError(`${ctx.plan.branch} keeps moving; nothing was overwritten`);
  },
};
