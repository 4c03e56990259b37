/**
 * Plain Git, the truth integration tests check Conveyor against: run git on a bare repository,
 * read refs, trees and tag messages, and push a commit as "someone else" from a temp clone.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

const gitEnv = () => ({ ...process.env, GIT_CONFIG_GLOBAL: '/dev/null', GIT_CONFIG_NOSYSTEM: '1' });

/** Run git with argv (never a shell) on a bare repository; returns trimmed stdout. */
export function git(repo: string, ...args: string[]): string {
  return execFileSync('git', ['--git-dir', repo, ...args], {
    encoding: 'utf8',
    env: gitEnv(),
    stdio: ['ignore', 'pipe', 'pipe'],
  }).trim();
}

/** Every ref with the object it names, one "sha type name" a line: compare before/after. */
export function refsOf(repo: string): string {
  return git(repo, 'for-each-ref', '--format=%(objectname) %(objecttype) %(refname)');
}

export function head(repo: string, branch: string): string {
  return git(repo, 'rev-parse', `refs/heads/${branch}`);
}

export function treeOf(repo: string, rev: string): string {
  return git(repo, 'rev-parse', `${rev}^{tree}`);
}

export function parentsOf(repo: string, rev: string): string[] {
  return git(repo, 'rev-list', '--parents', '-n', '1', rev).split(' ').slice(1);
}

export function isAncestor(repo: string, ancestor: string, descendant: string): boolean {
  try {
    execFileSync('git', ['--git-dir', repo, 'merge-base', '--is-ancestor', ancestor, descendant], {
      env: gitEnv(),
      stdio: 'ignore',
    });
    return true;
  } catch {
    return false;
  }
}

/** Tag names under a prefix such as "prod/", sorted by name. */
export function tagNames(repo: string, prefix: string): string[] {
  const out = git(repo, 'for-each-ref', '--format=%(refname:strip=2)', `refs/tags/${prefix}`);
  return out ? out.split('\n').sort() : [];
}

/** Tags pointing at a commit (peeled), under a prefix. */
export function tagsAt(repo: string, rev: string, prefix = ''): string[] {
  const out = git(repo, 'tag', '--points-at', rev, '--list', `${prefix}*`);
  return out ? out.split('\n') : [];
}

export function tagMessage(repo: string, tag: string): string {
  return git(repo, 'tag', '-l', '--format=%(contents)', tag);
}

export function tagType(repo: string, tag: string): string {
  return git(repo, 'cat-file', '-t', `refs/tags/${tag}`);
}

/**
 * Someone else pushes one commit to `branch` of the bare repo `repo` (a temp clone, a commit,
 * a plain push). Returns the new commit's sha.
 */
export function pushCommit(
  repo: string,
  branch: string,
  change: { path?: string; content?: string; message?: string; author?: string } = {},
): string {
  const work = mkdtempSync(join(tmpdir(), 'conveyor-other-'));
  try {
    const run = (...args: string[]) =>
      execFileSync('git', args, {
        cwd: work,
        encoding: 'utf8',
        env: gitEnv(),
        stdio: ['ignore', 'pipe', 'pipe'],
      }).trim();
    run('clone', '--quiet', '--branch', branch, '--single-branch', '--', repo, '.');
    const path = change.path ?? `other/${Date.now()}-${Math.random().toString(36).slice(2)}.txt`;
    mkdirSync(dirname(join(work, path)), { recursive: true });
    writeFileSync(join(work, path), change.content ?? `a change by someone else on ${branch}\n`);
    run('add', '--', path);
    const author = change.author ?? 'Olga Other';
    run(
      '-c',
      `user.name=${author}`,
      '-c',
      'user.email=other@example.com',
      '-c',
      'commit.gpgsign=false',
      'commit',
      '--quiet',
      '-m',
      change.message ?? `Hotfix pushed by hand to ${branch}`,
    );
    run('push', '--quiet', 'origin', `HEAD:refs/heads/${branch}`);
    return run('rev-parse', 'HEAD');
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
