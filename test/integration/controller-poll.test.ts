/**
 * The safety-net poll is conditional: GitHub answers 304 to an unchanged ETag, which costs no
 * rate limit, so 200 quiet repositories cost nothing on the second pass.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOctokit, GitHubHost, type GitMirrorReads } from '../../src/adapters/github.js';
import { RepoPoller } from '../../src/controller/repo-poller.js';
import { type GitHubFake, startGitHubFake } from '../support/github-fake.js';

describe('controller: conditional repository polling', () => {
  let gh: GitHubFake;
  beforeAll(async () => {
    gh = await startGitHubFake();
  });
  afterAll(async () => gh?.close());

  // Generous limit: 600 requests each run `git` in the fake; a loaded CI machine is slow at that.
  it('200 quiet repositories polled twice cost no rate limit on the second pass', { timeout: 180_000 }, async () => {
    const names = Array.from({ length: 200 }, (_, i) => `svc-${i}`);
    for (let i = 0; i < names.length; i += 25) {
      await Promise.all(names.slice(i, i + 25).map((n) => gh.createRepo('acme', n, { defaultBranch: 'develop' })));
    }
    await gh.commitFiles('acme', 'svc-7', 'develop', { 'a.txt': '1\n' });
    const octokit = createOctokit({ token: gh.token, baseUrl: gh.url, throttle: false, retries: 0 });
    const noMirror = {} as GitMirrorReads; // polling never reads the mirror
    const hosts = names.map((n) => new GitHubHost({ octokit, owner: 'acme', repo: n, mirror: noMirror }));
    const changed: string[] = [];
    const poller = new RepoPoller({
      sources: hosts.map((h, i) => ({ app: names[i]!, poll: (etag) => h.pollBranches(etag) })),
      intervalMs: 60_000,
      onHeads: async (app) => {
        changed.push(app);
      },
      concurrency: 16,
    });
    gh.resetCounters();
    await poller.pollAll();
    expect(gh.calls.rateLimited).toBe(names.length);
    expect(changed).toHaveLength(names.length);

    gh.resetCounters();
    changed.length = 0;
    await poller.pollAll();
    expect(gh.calls.total).toBe(names.length);
    expect(gh.calls.rateLimited).toBe(0);
    expect(gh.requests.every((r) => r.status === 304)).toBe(true);
    expect(changed).toEqual([]);

    // A push is seen on the next pass, for the price of that one repository.
    await gh.commitFiles('acme', 'svc-7', 'develop', { 'a.txt': '2\n' });
    gh.resetCounters();
    await poller.pollAll();
    expect(gh.calls.rateLimited).toBe(1);
    expect(changed).toEqual(['svc-7']);
  });
});
