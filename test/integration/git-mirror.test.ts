/**
 * The mirror's one-read snapshot that `list` and the planners use: heads with their commit and
 * tree, and each environment's deploy tags newest first, equal to what plain Git says; commit
 * subjects and tag messages holding the old field separators (\x1e, \x1f) cannot shift fields;
 * tag formats whose prefix does not end in a slash still find their tags.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GitMirror } from '../../src/adapters/git-mirror.js';
import { git, head, pushCommit, treeOf } from '../support/git-helpers.js';

describe('GitMirror.refsSnapshot', () => {
  let dir: string;
  let origin: string;
  let mirror: GitMirror;
  const tagger = ['-c', 'user.name=Tess Tagger', '-c', 'user.email=t@example.com'];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'conveyor-mirror-'));
    origin = join(dir, 'origin.git');
    execFileSync('git', ['init', '--quiet', '--bare', '--initial-branch=develop', origin]);
    // pushCommit clones the branch: give it a first commit (the empty tree) to clone
    const empty = execFileSync('git', ['--git-dir', origin, 'mktree'], { input: '', encoding: 'utf8' }).trim();
    const env = {
      ...process.env,
      GIT_AUTHOR_NAME: 'A',
      GIT_AUTHOR_EMAIL: 'a@x',
      GIT_COMMITTER_NAME: 'A',
      GIT_COMMITTER_EMAIL: 'a@x',
    };
    const first = execFileSync('git', ['--git-dir', origin, 'commit-tree', '-m', 'First', empty], {
      encoding: 'utf8',
      env,
    }).trim();
    git(origin, 'update-ref', 'refs/heads/develop', first);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('answers heads, commits, trees and tags as plain Git does, whatever the messages hold', async () => {
    const hostile = 'Fix\x1fthe\x1eparser "quoted" $(id)';
    const sha = pushCommit(origin, 'develop', { message: hostile, author: 'Ann\x1fAuthor' });
    git(origin, 'branch', 'qa', sha);
    git(origin, ...tagger, 'tag', '-a', '-m', `Deploy\x1e one\n\nOperation: op_1\x1f`, 'qa/2026.11.23.1', sha);
    git(origin, ...tagger, 'tag', '-a', '-m', 'Deploy two', 'qa/2026.11.23.10', sha);
    git(origin, ...tagger, 'tag', '-a', '-m', 'Other format', 'qa-2026.11.23.1', sha);
    git(origin, 'tag', 'qa/lightweight', sha);
    mirror = new GitMirror({ url: origin, dir: join(dir, 'mirror.git') });
    await mirror.sync();

    const snap = await mirror.refsSnapshot(['develop', 'qa', 'prod'], ['qa/', 'qa-']);
    expect([...snap.heads.keys()].sort()).toEqual(['develop', 'qa']); // prod does not exist
    const develop = snap.heads.get('develop')!;
    expect(develop.commit.sha).toBe(head(origin, 'develop'));
    expect(develop.commit.subject).toBe(git(origin, 'log', '-1', '--format=%s', 'develop'));
    expect(develop.commit.author).toBe('Ann\x1fAuthor');
    expect(develop.tree).toBe(treeOf(origin, 'develop'));
    // the one-off readers parse the same way
    expect(await mirror.commit(sha)).toEqual(develop.commit);
    expect(await mirror.log(null, sha)).toEqual([
      develop.commit,
      expect.objectContaining({ subject: 'First', author: 'A' }),
    ]);

    const qa = snap.tags.get('qa/')!;
    expect(qa.map((t) => t.name).sort()).toEqual(['qa/2026.11.23.1', 'qa/2026.11.23.10', 'qa/lightweight']);
    expect(qa.every((t) => t.sha === sha)).toBe(true);
    expect(qa.find((t) => t.name === 'qa/2026.11.23.1')!.message).toBe('Deploy\x1e one\n\nOperation: op_1\x1f');
    expect(snap.tags.get('qa-')!.map((t) => t.name)).toEqual(['qa-2026.11.23.1']);
    expect(await mirror.tags('qa/')).toEqual(qa);
  });

  it('refuses a branch or prefix that could be read as an option', async () => {
    await expect(mirror.refsSnapshot(['--output=/tmp/x'], [])).rejects.toThrow(/not a valid branch name/);
    await expect(mirror.refsSnapshot([], ['--format=x'])).rejects.toThrow(/not a valid tag prefix/);
  });

  it('answers from memory only while the ref files are unchanged, whoever changes them', async () => {
    const first = await mirror.refsSnapshot(['develop', 'qa'], ['qa/']);
    const again = await mirror.refsSnapshot(['develop', 'qa'], ['qa/']);
    expect(again).toEqual(first);
    again.tags.get('qa/')!.pop(); // callers get their own copy
    expect(await mirror.refsSnapshot(['develop', 'qa'], ['qa/'])).toEqual(first);

    // another process moves a branch and adds a tag in the mirror itself
    const mirrorDir = join(dir, 'mirror.git');
    const develop = head(mirrorDir, 'develop');
    const parent = git(mirrorDir, 'rev-parse', `${develop}^`);
    git(mirrorDir, 'update-ref', 'refs/heads/qa', parent);
    git(mirrorDir, ...tagger, 'tag', '-a', '-m', 'Deploy three', 'qa/2026.11.24.1', parent);
    const moved = await mirror.refsSnapshot(['develop', 'qa'], ['qa/']);
    expect(moved.heads.get('qa')!.commit.sha).toBe(parent);
    expect(moved.tags.get('qa/')!.map((t) => t.name)).toContain('qa/2026.11.24.1');

    // pack-refs moves every loose ref into packed-refs: still the same answer
    git(mirrorDir, 'pack-refs', '--all');
    expect(await mirror.refsSnapshot(['develop', 'qa'], ['qa/'])).toEqual(moved);

    // another process fetches into the mirror a tag nested below a folder that already exists
    git(origin, ...tagger, 'tag', '-a', '-m', 'Nested one', 'qa/2026/11/one', parent);
    git(mirrorDir, 'fetch', '--quiet', 'origin', '+refs/tags/*:refs/tags/*');
    expect((await mirror.refsSnapshot(['develop', 'qa'], ['qa/'])).tags.get('qa/')!.map((t) => t.name)).toContain(
      'qa/2026/11/one',
    );
    git(origin, ...tagger, 'tag', '-a', '-m', 'Nested two', 'qa/2026/11/two', parent);
    git(mirrorDir, 'fetch', '--quiet', 'origin', '+refs/tags/*:refs/tags/*');
    expect((await mirror.refsSnapshot(['develop', 'qa'], ['qa/'])).tags.get('qa/')!.map((t) => t.name)).toContain(
      'qa/2026/11/two',
    );

    // upstream moves and the mirror fetches: the fetch's answer
    const pushed = pushCommit(origin, 'develop', { message: 'Later' });
    await mirror.sync();
    expect((await mirror.refsSnapshot(['develop', 'qa'], ['qa/'])).heads.get('develop')!.commit.sha).toBe(pushed);
  });
});
