import { describe, expect, it } from 'vitest';
import { writeCommit } from '../../../../src/core/steps/git/write-commit.js';
import { gitOperation } from '../step-fixture.js';

describe('Git step: write-commit', () => {
  it('a fast-forward ships the source commit itself: nothing is written upstream, and it is stored with the next write', async () => {
    const { host, resume, reload, source } = await gitOperation();
    const run = await resume();
    expect(await run.step(writeCommit)).toBe('done');
    expect(host.writes).toEqual([]);
    expect(run.op.progress.newSha).toBe(source);
    // Not a write of its own: a resume would find the same commit (the plan's source).
    expect((await reload()).progress.newSha).toBeUndefined();
    await run.flush();
    expect((await reload()).progress.newSha).toBe(source);
  });

  it("where the branch diverged: one commit with the source's tree on the branch head, with the operation in its message", async () => {
    const { host, resume, reload, target } = await gitOperation({ mode: 'commit' });
    await (await resume()).step(writeCommit);
    const { progress, id } = await reload();
    const commit = host.commits.get(progress.newSha!)!;
    expect(commit).toMatchObject({ tree: 'T1', parents: [target] });
    expect(commit.message).toContain(`Conveyor-Operation: ${id}`);
    expect(commit.message).toContain('Requested-By: U_DEV');
  });

  it('once recorded, a resume writes nothing again', async () => {
    const { host, resume, reload } = await gitOperation({ mode: 'commit' });
    await (await resume()).step(writeCommit);
    const recorded = (await reload()).progress.newSha;
    await (await resume()).step(writeCommit);
    expect(host.writes).toHaveLength(1);
    expect((await reload()).progress.newSha).toBe(recorded);
  });

  it('a crash between the write and the record: the resume writes a commit again, and only the recorded one is ever used', async () => {
    const { host, resume, reload, target } = await gitOperation({ mode: 'commit' });
    const lost = await host.createCommit({ treeOfSha: host.branches.get('develop')!, parent: target, message: 'lost' });
    await (await resume()).step(writeCommit);
    const { newSha } = (await reload()).progress;
    expect(newSha).not.toBe(lost);
    expect(host.commits.get(newSha!)).toMatchObject({ tree: 'T1', parents: [target] });
    expect([...host.branches.values()]).not.toContain(lost); // the lost commit is referenced by nothing
  });
});
