import { describe, expect, it } from 'vitest';
import { ConflictError } from '../../../../src/core/errors.js';
import { moveBranch } from '../../../../src/core/steps/git/move-branch.js';
import { gitOperation } from '../step-fixture.js';

describe('Git step: move-branch', () => {
  it('moves the branch from the planned head, having recorded `pushing` before the push', async () => {
    const { host, store, resume, reload, source, op } = await gitOperation();
    const push = host.updateBranch.bind(host);
    let recordedAtPush: boolean | undefined;
    host.updateBranch = async (branch, sha, expected) => {
      recordedAtPush = (await store.operation(op.id)).progress.pushing;
      return push(branch, sha, expected);
    };
    expect(await (await resume()).step(moveBranch)).toBe('done');
    expect(recordedAtPush).toBe(true);
    expect(host.branches.get('qa')).toBe(source);
    expect(host.writes).toEqual(['move qa']);
    expect((await reload()).progress).toMatchObject({ newSha: source, pushing: true });
  });

  it('a crash after the push (before the next record): the resume sees its own push and pushes nothing', async () => {
    const { host, store, resume, op, source } = await gitOperation();
    host.branches.set('qa', source);
    await store.saveProgress(op.id, { newSha: source, pushing: true });
    expect(await (await resume()).step(moveBranch)).toBe('done');
    expect(host.writes).toEqual([]);
  });

  it('a branch someone else moved to this very commit is a conflict, not a second deploy', async () => {
    const { host, resume, source } = await gitOperation();
    host.branches.set('qa', source);
    await expect((await resume()).step(moveBranch)).rejects.toThrow(
      /^qa already runs c0000000: it was moved there meanwhile by someone else; nothing to do$/,
    );
    expect(host.writes).toEqual([]);
  });

  it('the branch moved under the operation: planned again once on the new head, then moved', async () => {
    const { host, resume, reload, target, source } = await gitOperation({ mode: 'commit' });
    const hotfix = host.commit_('T2', [target]);
    host.branches.set('qa', hotfix);
    expect(await (await resume()).step(moveBranch)).toBe('done');
    const { plan, progress } = await reload();
    expect(plan).toMatchObject({ targetHead: hotfix, mode: 'commit' });
    expect(progress).toMatchObject({ replanned: true, pushing: true });
    const head = host.branches.get('qa')!;
    expect(host.commits.get(head)).toMatchObject({ tree: 'T1', parents: [hotfix] });
    expect(head).toBe(progress.newSha);
    expect(head).not.toBe(source);
    expect(host.writes).toEqual(['commit on c0000000', 'commit on c0000000', 'move qa']);
  });

  it('a mirror fetched a moment ago had missed a second push: the re-plan plans on the head the remote has now', async () => {
    const { host, resume, reload, target } = await gitOperation({ mode: 'commit' });
    const first = host.commit_('T2', [target]);
    const second = host.commit_('T3', [first]);
    host.branches.set('qa', second);
    // The mirror shows the first push until a fetch made after the step looked at it.
    let stale: string | null = first;
    let shown = false;
    const head = host.branchHead.bind(host);
    host.branchHead = async (branch) => {
      if (stale === null) return head(branch);
      shown = true;
      return stale;
    };
    const sync = host.sync.bind(host);
    host.sync = async () => {
      if (shown) stale = null;
      return sync();
    };
    expect(await (await resume()).step(moveBranch)).toBe('done');
    const { plan, progress } = await reload();
    expect(plan).toMatchObject({ targetHead: second, mode: 'commit' });
    expect(progress.replanned).toBe(true);
    expect(host.commits.get(host.branches.get('qa')!)).toMatchObject({ tree: 'T1', parents: [second] });
  });

  it('a branch moved between the look and the push (compare-and-swap refused): planned again, then pushed', async () => {
    const { host, resume, reload, source, base } = await gitOperation();
    const sneaky = host.commit_('T0c', [base]);
    const push = host.updateBranch.bind(host);
    let raced = false;
    host.updateBranch = async (branch, sha, expected) => {
      if (!raced) {
        raced = true;
        host.branches.set('qa', sneaky); // someone pushes first
      }
      return push(branch, sha, expected);
    };
    expect(await (await resume()).step(moveBranch)).toBe('done');
    const { plan, progress } = await reload();
    expect(plan).toMatchObject({ targetHead: sneaky, mode: 'commit' });
    expect(progress.replanned).toBe(true);
    expect(host.commits.get(host.branches.get('qa')!)).toMatchObject({ tree: 'T1', parents: [sneaky] });
    expect(host.branches.get('qa')).not.toBe(source);
  });

  it('moved again after one re-plan: a conflict, nothing overwritten', async () => {
    const { host, store, resume, op, target } = await gitOperation();
    await store.saveProgress(op.id, { replanned: true });
    const other = host.commit_('T2', [target]);
    host.branches.set('qa', other);
    const error = await (await resume()).step(moveBranch).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConflictError);
    expect((error as Error).message).toMatch(/^qa moved again while we worked .*nothing was overwritten — ask again$/);
    expect(host.branches.get('qa')).toBe(other);
  });

  it('moved meanwhile to a commit with the very tree it ships: a conflict, no new commit', async () => {
    const { host, resume, target } = await gitOperation({ mode: 'commit' });
    const same = host.commit_('T1', [target]);
    host.branches.set('qa', same);
    await expect((await resume()).step(moveBranch)).rejects.toThrow(/qa already runs this version/);
    expect(host.writes).toEqual(['commit on c0000000']);
    expect(host.branches.get('qa')).toBe(same);
  });
});
