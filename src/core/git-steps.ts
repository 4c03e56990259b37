/**
 * The Git steps of a promotion or rollback, each idempotent: it first looks whether its
 * effect is already there (a crash may have come after the write and before the record),
 * then acts, then records. Run in order by the operation engine.
 */
import { deployTagMessage, deployTagPrefix, nextDeployTag } from './deploy-tag.js';
import { syncHost } from './env-state.js';
import { ConflictError, UpstreamError } from './errors.js';
import { crashPoint } from './fault-points.js';
import type { GitPlan, Operation } from './operation.js';
import type { GitHost } from './ports.js';

/** How old a fetch the steps of an operation may build on (the plan's own fetch). */
const FRESH_MS = 2_000;

export interface StepContext {
  op: Operation;
  plan: GitPlan;
  host: GitHost;
  tagFormat: string;
  now: Date;
  approvers: string[];
  save(progress: Record<string, unknown>): Promise<void>;
  savePlan(plan: GitPlan): Promise<void>;
}

export type StepResult = 'done' | 'wait' | 'cancelled';

export interface Step {
  name: string;
  run(ctx: StepContext): Promise<StepResult>;
}

function commitMessage(ctx: StepContext): string {
  const { plan, op } = ctx;
  const what =
    op.kind === 'rollback'
      ? `Roll back ${plan.env} to ${plan.toTag ?? plan.sourceSha.slice(0, 8)}`
      : `Promote ${plan.sourceEnv ?? 'version'} to ${plan.env}`;
  return `${what}\n\nConveyor-Source: ${plan.sourceSha}\nConveyor-Operation: ${op.id}\nRequested-By: ${op.requester}`;
}

/** The commit the environment branch should end up on (before a PR merge). */
const writeCommit: Step = {
  name: 'write-commit',
  async run(ctx) {
    if (ctx.op.progress.newSha) return 'done';
    const { plan, host } = ctx;
    const newSha =
      plan.mode === 'fast-forward'
        ? plan.sourceSha
        : await host.createCommit({ treeOfSha: plan.sourceSha, parent: plan.targetHead!, message: commitMessage(ctx) });
    await ctx.save({ newSha });
    return 'done';
  },
};

/** Re-plan once when the branch moved under us: build again on the new head. */
async function replan(ctx: StepContext, head: string): Promise<void> {
  if (ctx.op.progress.replanned) {
    throw new ConflictError(
      `${ctx.plan.branch} moved again while we worked (now ${head.slice(0, 8)}); nothing was overwritten — ask again`,
    );
  }
  await ctx.host.sync();
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
  ctx.plan = plan;
  ctx.op.progress.newSha = undefined;
  ctx.op.progress.pushing = false;
  await ctx.save({ newSha: null, replanned: true, pushing: false });
}

const moveBranch: Step = {
  name: 'move-branch',
  async run(ctx) {
    const { host } = ctx;
    for (let attempt = 0; attempt < 2; attempt++) {
      if (!ctx.op.progress.newSha) await writeCommit.run(ctx);
      const newSha = ctx.op.progress.newSha as string;
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
      await ctx.save({ pushing: true }); // recorded before the push, so a resume knows it was ours
      try {
        await host.updateBranch(ctx.plan.branch, newSha, ctx.plan.targetHead);
      } catch (err) {
        if (err instanceof ConflictError && attempt === 0) {
          await host.sync();
          const moved = await host.branchHead(ctx.plan.branch);
          if (moved === newSha) return 'done';
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

/** Pull-request environments: open the PR before the gate, so approvers see it. */
export const openPullRequest: Step = {
  name: 'open-pr',
  async run(ctx) {
    if (ctx.op.progress.prNumber) return 'done';
    const { host, plan, op } = ctx;
    if (!host.openPullRequest) return 'done';
    if (!ctx.op.progress.newSha) await writeCommit.run(ctx);
    const head = `conveyor/${op.id}`;
    await host.sync();
    if ((await host.branchHead(head)) !== ctx.op.progress.newSha) {
      await host.updateBranch(head, ctx.op.progress.newSha as string, null).catch((err) => {
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

const mergePullRequest: Step = {
  name: 'merge-pr',
  async run(ctx) {
    const { host, op } = ctx;
    const num = op.progress.prNumber as number;
    if (op.progress.mergeSha) return 'done';
    const pr = await host.getPullRequest!(num);
    if (pr.state === 'merged') {
      await ctx.save({ mergeSha: pr.mergeSha });
      return 'done';
    }
    if (pr.state === 'closed') return 'cancelled';
    // Merge exactly what was approved: if the PR's head moved, GitHub refuses (409).
    const approvedHead = (op.progress.newSha as string | undefined) ?? pr.headSha;
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

const tag: Step = {
  name: 'tag',
  async run(ctx) {
    const { host, plan, op } = ctx;
    const target = (op.progress.mergeSha ?? op.progress.newSha) as string;
    // Only operations holding this environment's lock write its deploy tags: the tags the plan
    // fetched moments ago are current. A resume or a late approval fetches again.
    await syncHost(host, op.progress.tag ? 0 : FRESH_MS);
    let name = op.progress.tag as string | undefined;
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
        approvedBy: ctx.approvers,
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

export function applySteps(plan: GitPlan, host: GitHost): Step[] {
  if (plan.viaPullRequest && host.openPullRequest) return [openPullRequest, mergePullRequest, tag];
  return [writeCommit, moveBranch, tag];
}

export function assertHostSupports(host: GitHost, plan: GitPlan): void {
  if (plan.viaPullRequest && host.kind === 'github' && !host.mergePullRequest) {
    throw new UpstreamError('github', 'this GitHub adapter cannot merge pull requests');
  }
}
