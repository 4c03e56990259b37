import { describe, expect, it } from 'vitest';
import { trailer } from '../../../../src/core/deploy-tag.js';
import { tag } from '../../../../src/core/steps/git/tag.js';
import { gitOperation } from '../step-fixture.js';

/** An operation whose branch was moved (write-commit and move-branch recorded). */
async function pushed(options: Parameters<typeof gitOperation>[0] = {}) {
  const t = await gitOperation(options);
  t.host.branches.set('qa', t.source);
  await t.store.saveProgress(t.op.id, { newSha: t.source, pushing: true });
  return t;
}

describe('Git step: tag', () => {
  it('tags what the branch now runs with the next name of the day, naming the operation and its approvers', async () => {
    const { host, store, resume, reload, op, source } = await pushed();
    await store.addApproval(op.id, 'U_QA', 'qa-lead', 'T1');
    host.tagList.push({ name: 'qa/2025.03.05.1', sha: 'c-old', message: 'earlier', date: '', tree: 'T0' });
    const run = await resume();
    expect(await run.step(tag)).toBe('done');
    expect(host.writes).toEqual(['tag qa/2025.03.05.2']);
    const written = host.tagList[0]!;
    expect(written).toMatchObject({ name: 'qa/2025.03.05.2', sha: source });
    expect(trailer(written.message, 'Operation')).toBe(op.id);
    expect(trailer(written.message, 'Approved-By')).toBe('U_QA (qa-lead)');
    expect((await reload()).progress).toMatchObject({ tag: 'qa/2025.03.05.2' }); // recorded before the write
    expect(run.takeNoted()).toEqual({ deployedSha: source }); // written with the move to applied
  });

  it('a crash after the tag and before its record: the resume reuses its own tag, writing none', async () => {
    const { host, resume, reload, source } = await pushed();
    await (await resume()).step(tag);
    // The process died right after the write: the name was recorded before it; deployedSha only
    // noted, for the move to applied that never came.
    expect((await reload()).progress.deployedSha).toBeUndefined();
    const run = await resume();
    expect(await run.step(tag)).toBe('done');
    expect(host.writes).toEqual(['tag qa/2025.03.05.1']);
    expect((await reload()).progress).toMatchObject({ tag: 'qa/2025.03.05.1' });
    expect(run.takeNoted()).toEqual({ deployedSha: source });
  });

  it('finds its own tag by the operation it names where the name was not recorded; a tag of another operation is not its own', async () => {
    const { host, resume, reload, op, source } = await pushed();
    host.tagList.push(
      { name: 'qa/2025.03.05.1', sha: source, message: 'Deploy\n\nOperation: op_other', date: '', tree: 'T1' },
      { name: 'qa/2025.03.05.2', sha: source, message: `Deploy\n\nOperation: ${op.id}`, date: '', tree: 'T1' },
    );
    await (await resume()).step(tag);
    expect(host.writes).toEqual([]);
    expect((await reload()).progress.tag).toBe('qa/2025.03.05.2');
  });

  it('tags the merge where a pull request was merged, and a rollback names the version it leaves', async () => {
    const { host, store, resume, op, target } = await gitOperation({ kind: 'rollback' });
    const merge = host.commit_('T1', [target]);
    await store.saveProgress(op.id, { newSha: 'c-pr-head', mergeSha: merge });
    await (await resume()).step(tag);
    const written = host.tagList[0]!;
    expect(written.sha).toBe(merge);
    expect(written.message.split('\n')[0]).toBe('Rollback of api to qa');
    expect(trailer(written.message, 'Rolled-Back-From')).toBe(target);
    expect(trailer(written.message, 'Rolled-Back-From-Tree')).toBe('T0');
  });
});
