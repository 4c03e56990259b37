/**
 * `diff <src> <dst> [<app>]` on real repositories: behind (the commits and files dst lacks and
 * the exact command that closes the gap), in sync, and diverged after a rollback. Read-only.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { git, head, pushCommit, refsOf, tagsAt } from '../support/git-helpers.js';
import { makeRuntime, type TestRuntime } from '../support/runtime.js';

describe('diff', () => {
  let t: TestRuntime;
  let repo: string;
  beforeAll(async () => {
    t = await makeRuntime();
    repo = t.repo('api');
  });
  afterAll(async () => t?.close());

  it('behind: lists the commits qa lacks, the files with +/- counts, and the promote command', async () => {
    const before = refsOf(repo);
    const develop = head(repo, 'develop');
    const qa = head(repo, 'qa');
    const qaTag = tagsAt(repo, qa, 'qa/')[0]!;
    const reply = await t.run('diff development qa api');
    expect(reply.status).toBe('ok');
    expect(reply.title).toBe('qa differs from development for 1 of 1 app(s)');
    expect(reply.text).toContain(`api: development ${develop.slice(0, 8)} ↔ qa ${qaTag} — qa lacks 1 commit(s)`);
    expect(reply.text).toContain(`${develop.slice(0, 8)} Fix timezone in reports (Chloe Dev)`);
    // the same numbers plain git gives
    const numstat = git(repo, 'diff', '--numstat', qa, develop)
      .split('\n')
      .map((l) => l.split('\t'));
    expect(numstat).toHaveLength(2);
    expect(reply.text).toContain('2 file(s) changed, +2 -1');
    for (const [added, deleted, path] of numstat) expect(reply.text).toContain(`${path} +${added} -${deleted}`);
    expect(reply.text).toContain('k8s/deployment.yaml +1 -1');
    expect(reply.text).toContain('src/reports.ts +1 -0');
    expect(reply.blocks.at(-1)).toEqual({ type: 'code', text: 'promote api qa' });
    expect(refsOf(repo)).toBe(before);
  });

  it('across two stages: both missing commits, and the promotes stage by stage (staging does not allow skipping)', async () => {
    const reply = await t.run('diff development staging api');
    expect(reply.text).toContain('staging lacks 2 commit(s)');
    expect(reply.text).toContain('Fix timezone in reports');
    expect(reply.text).toContain('Paginate the orders list');
    expect(reply.blocks.at(-1)).toEqual({ type: 'code', text: 'promote api qa\npromote api staging' });
    expect(reply.data).toEqual({ suggestions: ['promote api qa', 'promote api staging'] });
  });

  it('without an app: one section per app', async () => {
    const reply = await t.run('diff development qa');
    expect(reply.title).toBe('qa differs from development for 2 of 2 app(s)');
    expect(reply.text).toMatch(/^api: development/m);
    expect(reply.text).toMatch(/^web: development/m);
    expect(reply.text).toContain('promote web qa');
  });

  it('in sync after promoting', async () => {
    expect((await t.run('promote api qa')).operation?.state).toBe('succeeded');
    const reply = await t.run('diff development qa api');
    expect(reply.status).toBe('ok');
    expect(reply.title).toBe('qa is in sync with development');
    expect(reply.text).toMatch(/api: development \S+ ↔ qa qa\/\S+ — in sync/);
    expect(reply.text).not.toContain('promote api');
  });

  it('diverged after a rollback: qa has a commit of its own and runs another version', async () => {
    expect((await t.run('rollback api qa')).operation?.state).toBe('succeeded');
    const reply = await t.run('diff development qa api');
    expect(reply.title).toBe('qa differs from development for 1 of 1 app(s)');
    expect(reply.text).toContain(
      'qa has every commit of development but runs another version; it has 1 of its own (e.g. a rollback)',
    );
    expect(reply.text).not.toContain('lacks 0 commit(s)');
    expect(reply.text).toContain('k8s/deployment.yaml +1 -1');
    expect(reply.text).toContain('src/reports.ts +1 -0');
    // qa rolled back from development's version: a plain promote would be refused, so it is not advised
    expect(reply.text).toContain('`promote api qa` would be refused now: ');
    expect(reply.blocks.at(-1)).toEqual({ type: 'code', text: 'promote api qa --force' });
  });

  it('diverged and behind: new commits on develop after a rollback of qa', async () => {
    const other = pushCommit(repo, 'develop', {
      path: 'src/feature.ts',
      content: 'export const on = 1;\nexport const off = 0;\n',
      message: 'Add the feature flag',
    });
    const reply = await t.run('diff development qa api');
    expect(reply.text).toContain('qa lacks 1 commit(s) and has 1 of its own (e.g. a rollback)');
    expect(reply.text).toContain(`${other.slice(0, 8)} Add the feature flag (Olga Other)`);
    expect(reply.text).toContain('3 file(s) changed, +4 -1');
    expect(reply.text).toContain('src/feature.ts +2 -0');
    expect(reply.blocks.at(-1)).toEqual({ type: 'code', text: 'promote api qa' });
    // and following that advice brings qa to develop's version with one new commit
    const qaBefore = head(repo, 'qa');
    expect((await t.run('promote api qa')).operation?.state).toBe('succeeded');
    expect(git(repo, 'rev-parse', 'qa^{tree}')).toBe(git(repo, 'rev-parse', 'develop^{tree}'));
    expect(git(repo, 'rev-parse', 'qa^')).toBe(qaBefore);
    expect((await t.run('diff development qa api')).title).toBe('qa is in sync with development');
  });

  it('refuses the same environment twice and unknown ones, with the usage', async () => {
    const same = await t.run('diff qa qa');
    expect(same.status).toBe('usage');
    expect(same.text).toContain('compare two different environments');
    expect(same.text).toContain('usage: diff <src_env> <dst_env> [<app>]');
    const unknown = await t.run('diff development nowhere');
    expect(unknown.status).toBe('usage');
    expect(unknown.text).toContain('unknown environment "nowhere"');
  });
});
