import { describe, expect, it } from 'vitest';
import { ConflictError } from '../../../../src/core/errors.js';
import { mergePullRequest } from '../../../../src/core/steps/git/merge-pr.js';
import { openPullRequest } from '../../../../src/core/steps/git/open-pr.js';
import { gitOperation } from '../step-fixture.js';

/** A pull-request operation whose PR is open (what the engine does before the gate). */
async function opened() {
  const t = await gitOperation({ pullRequests: true });
  await (await t.resume()).step(openPullRequest);
  return t;
}

describe('Git step: merge-pr', () => {
  it('merges the approved head and records the merge', async () => {
    const { host, resume, reload } = await opened();
    expect(await (await resume()).step(mergePullRequest)).toBe('done');
    const { progress } = await reload();
    expect(host.prs.get(1)?.state).toBe('merged');
    expect(progress.mergeSha).toBe(host.branches.get('qa'));
  });

  it('a crash after the merge and before the record: the resume records the merge, merging nothing again', async () => {
    const { host, resume, reload } = await opened();
    const merged = await host.mergePullRequest(1, host.prs.get(1)!.headSha);
    expect(await (await resume()).step(mergePullRequest)).toBe('done');
    expect((await reload()).progress.mergeSha).toBe(merged.mergeSha);
    expect(host.writes.filter((w) => w.startsWith('merge'))).toEqual(['merge pr 1']);
  });

  it('refuses a pull request whose head moved after the approval: nothing is merged', async () => {
    const { host, resume, reload } = await opened();
    host.prs.get(1)!.headSha = 'beefcafe'.padEnd(40, '0'); // someone pushed to the PR's branch
    const error = await (await resume()).step(mergePullRequest).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConflictError);
    expect((error as Error).message).toBe(
      'pull request #1 changed after it was approved (c0000000 → beefcafe); ask again',
    );
    expect(host.prs.get(1)?.state).toBe('open');
    expect((await reload()).progress.mergeSha).toBeUndefined();
  });

  it('a pull request closed by hand cancels the operation', async () => {
    const { host, resume } = await opened();
    await host.closePullRequest(1);
    expect(await (await resume()).step(mergePullRequest)).toBe('cancelled');
    expect(host.writes.filter((w) => w.startsWith('merge'))).toEqual([]);
  });
});
