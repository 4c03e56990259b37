import { describe, expect, it } from 'vitest';
import { openPullRequest } from '../../../../src/core/steps/git/open-pr.js';
import { gitOperation } from '../step-fixture.js';

describe('Git step: open-pr', () => {
  it("pushes the operation's commit to its own branch and opens the pull request onto the environment branch", async () => {
    const { host, resume, reload, op, source } = await gitOperation({ pullRequests: true });
    expect(await (await resume()).step(openPullRequest)).toBe('done');
    expect(host.branches.get(`conveyor/${op.id}`)).toBe(source);
    expect(host.prs.get(1)).toMatchObject({ base: 'qa', head: `conveyor/${op.id}`, headSha: source });
    expect((await reload()).progress).toMatchObject({
      newSha: source,
      prNumber: 1,
      prUrl: 'https://github.example/pr/1',
    });
    expect(host.branches.get('qa')).not.toBe(source); // the environment branch waits for the merge
  });

  it('once recorded, a resume opens no second pull request', async () => {
    const { host, resume } = await gitOperation({ pullRequests: true });
    await (await resume()).step(openPullRequest);
    await (await resume()).step(openPullRequest);
    expect([...host.prs.keys()]).toEqual([1]);
    expect(host.writes).toEqual(['move conveyor/op_0001', 'open pr 1']);
  });

  it('a crash after the branch push and before the pull request: the resume opens it without pushing again', async () => {
    const { host, resume, op, source } = await gitOperation({ pullRequests: true });
    await host.updateBranch(`conveyor/${op.id}`, source, null);
    await (await resume()).step(openPullRequest);
    expect(host.writes).toEqual(['move conveyor/op_0001', 'open pr 1']);
  });

  it('a host without pull requests: nothing to open', async () => {
    const { host, resume, reload } = await gitOperation();
    expect(await (await resume()).step(openPullRequest)).toBe('done');
    expect(host.writes).toEqual([]);
    expect((await reload()).progress.prNumber).toBeUndefined();
  });
});
