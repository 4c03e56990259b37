import { describe, expect, it } from 'vitest';
import { openPullRequest } from '../../../src/core/steps/git/open-pr.js';
import { gitApply } from '../../../src/core/steps/git-apply.js';
import { gitOperation } from './step-fixture.js';

describe('step: git apply (promote, rollback)', () => {
  it('fast-forwards the branch, tags it, and records each step in its progress slice', async () => {
    const { host, engine, op, reload, source } = await gitOperation();
    // What the last steps noted is handed to the move to applied, which writes it with the state.
    expect(await gitApply.apply(op, engine)).toEqual({
      result: 'done',
      progress: { deployedSha: source, lastStep: 'tag', lastError: null },
    });
    expect(host.branches.get('qa')).toBe(source);
    expect(host.writes).toEqual(['move qa', 'tag qa/2025.03.05.1']);
    const { progress } = await reload();
    expect(progress).toMatchObject({ newSha: source, pushing: true, tag: 'qa/2025.03.05.1' });
    expect(progress.deployedSha).toBeUndefined();
    expect(host.tagList[0]!.message).toContain(`Operation: ${op.id}`);
  });

  it('adds one commit with the source tree where the branch diverged', async () => {
    const { host, engine, op, reload, target } = await gitOperation({ mode: 'commit' });
    await gitApply.apply(op, engine);
    const head = host.branches.get('qa')!;
    expect(head).not.toBe(target);
    expect(await host.treeOf(head)).toBe('T1');
    expect(host.commits.get(head)!.parents).toEqual([target]);
    expect((await reload()).progress.newSha).toBe(head);
  });

  it('resumed after a crash that came after the push: no second push, one tag', async () => {
    const { host, store, engine, op, reload, source } = await gitOperation();
    // What the store holds when the process died right after the push.
    host.branches.set('qa', source);
    await store.saveProgress(op.id, { newSha: source, pushing: true });
    expect(await gitApply.apply(await reload(), engine)).toMatchObject({ result: 'done' });
    expect(host.writes).toEqual(['tag qa/2025.03.05.1']);
    // And once more after the tag: the same tag name, nothing written again.
    expect(await gitApply.apply(await reload(), engine)).toMatchObject({ result: 'done' });
    expect(host.writes).toEqual(['tag qa/2025.03.05.1']);
  });

  it('a pull-request environment: opens the PR before the gate, merges it and tags the merge', async () => {
    const { host, engine, reload, resume } = await gitOperation({ pullRequests: true });
    const run = await resume();
    await run.step(openPullRequest);
    await run.step(openPullRequest); // idempotent: one PR
    expect([...host.prs.keys()]).toEqual([1]);
    const outcome = await gitApply.apply(await reload(), engine);
    const { progress } = await reload();
    expect(progress.prNumber).toBe(1);
    expect(outcome).toEqual({ result: 'done', progress: expect.objectContaining({ deployedSha: progress.mergeSha }) });
    expect(host.branches.get('qa')).toBe(progress.mergeSha);
  });

  it('a pull request closed by hand cancels the operation', async () => {
    const { host, engine, reload, resume } = await gitOperation({ pullRequests: true });
    await (await resume()).step(openPullRequest);
    await host.closePullRequest(1);
    expect(await gitApply.apply(await reload(), engine)).toBe('cancelled');
    expect(host.writes.filter((w) => w.startsWith('tag'))).toEqual([]);
  });
});
