/**
 * The repository poller's passes never overlap (issue #23): `pollNow` while the loop's pass is
 * under way asks GitHub only for what that pass has not reached, a pass that outlasts the
 * interval is reported (the controller logs it and counts it in /metrics), and the polls in
 * flight stay within their bound. Real GitHub fake, real conditional requests.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOctokit, GitHubHost, type GitMirrorReads } from '../../src/adapters/github.js';
import { type PassReport, type PollSource, RepoPoller } from '../../src/controller/repo-poller.js';
import { type GitHubFake, startGitHubFake } from '../support/github-fake.js';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

const N = 12;

describe('controller: repository poll passes', () => {
  let gh: GitHubFake;
  let sources: PollSource[];
  let inFlight = 0;
  let maxInFlight = 0;
  beforeAll(async () => {
    gh = await startGitHubFake();
    const names = Array.from({ length: N }, (_, i) => `pass-${i}`);
    for (const n of names) await gh.createRepo('acme', n, { defaultBranch: 'develop' });
    const octokit = createOctokit({ token: gh.token, baseUrl: gh.url, throttle: false, retries: 0 });
    const noMirror = {} as GitMirrorReads; // polling never reads the mirror
    sources = names.map((n) => {
      const host = new GitHubHost({ octokit, owner: 'acme', repo: n, mirror: noMirror });
      return {
        app: n,
        async poll(etag) {
          inFlight++;
          maxInFlight = Math.max(maxInFlight, inFlight);
          try {
            return await host.pollBranches(etag);
          } finally {
            inFlight--;
          }
        },
      };
    });
  });
  afterAll(async () => gh?.close());

  it('pollAll during the first pass asks each repository once, and passes never run side by side', async () => {
    let running = 0;
    let overlapped = false;
    const passes: PassReport[] = [];
    const seen: string[] = [];
    const poller = new RepoPoller({
      sources,
      intervalMs: 60_000,
      concurrency: 3,
      onHeads: async (app) => {
        seen.push(app);
      },
      onPolled: async () => {
        running++;
        if (running > 3) overlapped = true;
        await sleep(20); // a pass long enough to be caught in the middle
        running--;
      },
      onPass: (p) => passes.push(p),
    });
    gh.resetCounters();
    maxInFlight = 0;
    poller.start(); // the loop's first pass: every repository is due
    await poller.pollAll(); // as the controller's pollNow does right after start
    await poller.stop();
    expect(gh.calls.total).toBe(N); // not 2 × N: the second pass found nothing left to ask
    expect(new Set(seen).size).toBe(N);
    expect(seen).toHaveLength(N);
    expect(maxInFlight).toBeLessThanOrEqual(3);
    expect(overlapped).toBe(false);
    expect(passes.map((p) => p.polled)).toEqual([N]);
    expect(passes[0]!.overran).toBe(false);
  });

  it('a pass that outlasts the interval is reported, and the next pass waits for it', async () => {
    // GitHub's X-Poll-Interval sets the pace (it is honoured over a shorter interval): 1 s here.
    const quick = await startGitHubFake({ pollInterval: 1 });
    try {
      const octokit = createOctokit({ token: quick.token, baseUrl: quick.url, throttle: false, retries: 0 });
      let now = 0;
      let most = 0;
      const few: PollSource[] = [];
      for (const n of ['q-0', 'q-1', 'q-2', 'q-3']) {
        await quick.createRepo('acme', n, { defaultBranch: 'develop' });
        const host = new GitHubHost({ octokit, owner: 'acme', repo: n, mirror: {} as GitMirrorReads });
        few.push({
          app: n,
          async poll(etag) {
            most = Math.max(most, ++now);
            try {
              return await host.pollBranches(etag);
            } finally {
              now--;
            }
          },
        });
      }
      const passes: PassReport[] = [];
      const poller = new RepoPoller({
        sources: few,
        intervalMs: 30,
        concurrency: 2,
        onHeads: async () => {},
        onPolled: () => sleep(25), // 4 sources, 2 at a time: the first pass takes ≥ 50 ms, more than 30
        onPass: (p) => passes.push(p),
      });
      poller.start();
      const deadline = Date.now() + 20_000;
      while (passes.length < 3 && Date.now() < deadline) await sleep(20);
      await poller.stop();
      expect(passes.length).toBeGreaterThanOrEqual(3);
      expect(passes[0]).toMatchObject({ polled: 4, overran: true });
      expect(passes.every((p) => p.overran === p.ms > 30)).toBe(true);
      // Overlapping passes would have had up to 4 polls in flight.
      expect(most).toBeLessThanOrEqual(2);
      expect(quick.calls.total).toBe(passes.reduce((n, p) => n + p.polled, 0));
    } finally {
      await quick.close();
    }
  });

  it('pollAll asked three times at once is one pass: each repository asked once', async () => {
    const passes: PassReport[] = [];
    const poller = new RepoPoller({
      sources,
      intervalMs: 60_000,
      onHeads: async () => {},
      onPass: (p) => passes.push(p),
    });
    gh.resetCounters();
    await Promise.all([poller.pollAll(), poller.pollAll(), poller.pollAll()]);
    expect(gh.calls.total).toBe(N);
    expect(passes.map((p) => p.polled)).toEqual([N]);
    // Asked again afterwards: a new pass, every repository asked again (304s this time).
    gh.resetCounters();
    await poller.pollAll();
    expect(gh.calls.total).toBe(N);
    expect(gh.requests.every((r) => r.status === 304)).toBe(true);
  });
});
