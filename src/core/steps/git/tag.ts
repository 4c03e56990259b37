/**
 * tag: the deploy tag on what the environment now runs (the merge, or the commit pushed). On a
 * resume it reuses its own tag: the name recorded, or a tag on the same commit naming this
 * operation. Its slice: `tag` (the name, recorded before the write, unless move-branch pushed the
 * tag with the branch and recorded it) and `deployedSha` (after it: the last Git step is done;
 * noted, and written with the move to `applied`).
 */
import { deployTagMessage, deployTagPrefix, nextDeployTag } from '../../deploy-tag.js';
import { syncHost } from '../../env-state.js';
import { crashPoint } from '../../fault-points.js';
import { FRESH_MS, type GitStep, type GitStepContext } from './step.js';

type TagContext = Pick<GitStepContext<'tag'>, 'op' | 'plan' | 'host' | 'tagFormat' | 'now' | 'approvers'>;

/** The deploy tag's name: this operation's own on `target` when there is one, else the next free one. */
export async function deployTagName(ctx: TagContext, target: string): Promise<string> {
  const existing = await ctx.host.tags(deployTagPrefix(ctx.tagFormat, ctx.plan.env));
  const mine = existing.find((t) => t.sha === target && t.message.includes(`Operation: ${ctx.op.id}`));
  return (
    mine?.name ??
    nextDeployTag(
      ctx.tagFormat,
      ctx.plan.env,
      ctx.now,
      existing.map((t) => t.name),
    )
  );
}

/** The deploy tag's message: who asked, who approved, what it came from (and left, for a rollback). */
export async function deployTagText(ctx: TagContext): Promise<string> {
  const { host, plan, op } = ctx;
  const summary = `${op.kind === 'rollback' ? 'Rollback' : 'Deploy'} of ${op.app} to ${plan.env}`;
  // A rollback names the version it leaves (the head it was built on), so the deploy history
  // never returns to it by itself.
  const rolledBackFrom =
    op.kind === 'rollback' && plan.targetHead
      ? { sha: plan.targetHead, tree: await host.treeOf(plan.targetHead) }
      : null;
  return deployTagMessage(summary, {
    operation: op.id,
    source: plan.sourceSha,
    requestedBy: op.requester,
    approvedBy: [...ctx.approvers],
    kind: op.kind,
    ticket: plan.ticket,
    reason: plan.reason,
    rolledBackFrom,
  });
}

export const tag: GitStep<'tag'> = {
  name: 'tag',
  async run(ctx) {
    const { host, op } = ctx;
    const target = op.progress.mergeSha ?? op.progress.newSha;
    if (!target) throw new Error('tag before a commit was recorded'); // never: it runs last
    // Only operations holding this environment's lock write its deploy tags: the tags the plan
    // fetched moments ago are current. A resume (a name recorded by an earlier run) or a late
    // approval fetches again.
    await syncHost(host, ctx.atStart.tag ? 0 : FRESH_MS);
    let name = op.progress.tag;
    if (!name) {
      name = await deployTagName(ctx, target);
      await ctx.save({ tag: name });
    }
    // Where move-branch pushed the tag with the branch, this finds it done and writes nothing.
    // A name chosen in this run (not by a run before a crash) is fresh: nothing to look for first.
    await host.createTag({ name, sha: target, message: await deployTagText(ctx), fresh: !ctx.atStart.tag });
    crashPoint('after-tag');
    // Found again by a resume (the tag names its commit): written with the move to `applied`.
    ctx.note({ deployedSha: target });
    return 'done';
  },
};
