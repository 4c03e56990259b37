/**
 * write-commit: the commit the environment branch should end up on (before a PR merge). A
 * fast-forward ships the source commit itself (noted, stored with the next write); otherwise one
 * new commit with the source's tree on the branch head (stored at once). Its slice: `newSha`.
 */
import type { GitStepName } from '../../operation.js';
import type { GitStep, GitStepContext } from './step.js';

/** The message of the commit (and the body of the pull request) of an operation. */
export function commitMessage(ctx: Pick<GitStepContext<never>, 'plan' | 'op'>): string {
  const { plan, op } = ctx;
  const what =
    op.kind === 'rollback'
      ? `Roll back ${plan.env} to ${plan.toTag ?? plan.sourceSha.slice(0, 8)}`
      : `Promote ${plan.sourceEnv ?? 'version'} to ${plan.env}`;
  return `${what}\n\nConveyor-Source: ${plan.sourceSha}\nConveyor-Operation: ${op.id}\nRequested-By: ${op.requester}`;
}

export const writeCommit: GitStep<'write-commit'> = {
  name: 'write-commit',
  async run(ctx) {
    if (ctx.op.progress.newSha) return 'done';
    const { plan, host } = ctx;
    if (plan.mode === 'fast-forward') {
      // The plan's own source commit: a resume finds the same one, so it is stored with the
      // next write (the push's intent), not in one of its own.
      ctx.note({ newSha: plan.sourceSha });
      return 'done';
    }
    // commit mode is planned only on a branch that exists (a missing one is fast-forwarded; a rollback has a head)
    const newSha = await host.createCommit({
      treeOfSha: plan.sourceSha,
      parent: plan.targetHead!,
      message: commitMessage(ctx),
    });
    // A new commit (its date makes it unique): stored before anything points at it.
    await ctx.save({ newSha });
    return 'done';
  },
};

/** The commit the operation ships: write-commit's, written first where it is not yet recorded. */
export async function theCommit(ctx: GitStepContext<GitStepName>): Promise<string> {
  await ctx.run(writeCommit);
  const sha = ctx.op.progress.newSha;
  if (!sha) throw new Error('write-commit recorded no commit'); // never: it records one or throws
  return sha;
}
