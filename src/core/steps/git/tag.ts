/**
 * tag: the deploy tag on what the environment now runs (the merge, or the commit pushed). On a
 * resume it reuses its own tag: the name recorded, or a tag on the same commit naming this
 * operation. Its slice: `tag` (the name, recorded before the write) and `deployedSha` (after it:
 * the last Git step is done).
 */
import { deployTagMessage, deployTagPrefix, nextDeployTag } from '../../deploy-tag.js';
import { syncHost } from '../../env-state.js';
import { crashPoint } from '../../fault-points.js';
import { FRESH_MS, type GitStep } from './step.js';

export const tag: GitStep<'tag'> = {
  name: 'tag',
  async run(ctx) {
    const { host, plan, op } = ctx;
    const target = op.progress.mergeSha ?? op.progress.newSha;
    if (!target) throw new Error('tag before a commit was recorded'); // never: it runs last
    // Only operations holding this environment's lock write its deploy tags: the tags the plan
    // fetched moments ago are current. A resume or a late approval fetches again.
    await syncHost(host, op.progress.tag ? 0 : FRESH_MS);
    let name = op.progress.tag;
    if (!name) {
      const existing = await host.tags(deployTagPrefix(ctx.tagFormat, plan.env));
      const mine = existing.find((t) => t.sha === target && t.message.includes(`Operation: ${op.id}`));
      name =
        mine?.name ??
        nextDeployTag(
          ctx.tagFormat,
          plan.env,
          ctx.now,
          existing.map((t) => t.name),
        );
      await ctx.save({ tag: name });
    }
    const summary = `${op.kind === 'rollback' ? 'Rollback' : 'Deploy'} of ${op.app} to ${plan.env}`;
    // A rollback names the version it leaves (the head it was built on), so the deploy history
    // never returns to it by itself.
    const rolledBackFrom =
      op.kind === 'rollback' && plan.targetHead
        ? { sha: plan.targetHead, tree: await host.treeOf(plan.targetHead) }
        : null;
    await host.createTag({
      name,
      sha: target,
      message: deployTagMessage(summary, {
        operation: op.id,
        source: plan.sourceSha,
        requestedBy: op.requester,
        approvedBy: [...ctx.approvers],
        kind: op.kind,
        ticket: plan.ticket,
        reason: plan.reason,
        rolledBackFrom,
      }),
    });
    crashPoint('after-tag');
    await ctx.save({ deployedSha: target });
    return 'done';
  },
};
