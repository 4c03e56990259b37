import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeRuntime, type TestRuntime } from '../support/runtime.js';

const git = (repo: string, ...args: string[]) =>
  execFileSync('git', ['--git-dir', repo, ...args], {
    encoding: 'utf8',
    env: { ...process.env, GIT_CONFIG_GLOBAL: '/dev/null' },
  }).trim();

describe('promote on plain Git (sandbox repositories)', () => {
  let t: TestRuntime;
  beforeAll(async () => {
    t = await makeRuntime();
  });
  afterAll(async () => t?.close());

  it('promotes the newest change one stage forward by fast-forward and tags it', async () => {
    const repo = t.repo('api');
    const develop = git(repo, 'rev-parse', 'develop');
    const reply = await t.run('promote api');
    expect(reply.status).toBe('ok');
    expect(reply.operation?.state).toBe('succeeded');
    expect(git(repo, 'rev-parse', 'qa')).toBe(develop);
    const tag = git(repo, 'describe', '--exact-match', '--match', 'qa/*', 'qa');
    expect(tag).toMatch(/^qa\/\d{4}\.\d{2}\.\d{2}\.1$/);
    const message = git(repo, 'tag', '-l', '--format=%(contents)', tag);
    expect(message).toContain(`Source-Commit: ${develop}`);
    expect(message).toContain(`Operation: ${reply.operation!.id}`);
    expect(message).toContain('Requested-By: U_DEMO');
  });
});
