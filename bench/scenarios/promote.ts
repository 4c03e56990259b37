/**
 * promote: `promote api qa` from Slack (command → one GraphQL read of the environment branches'
 * heads, comparisons and tag count, as the composition root builds GitHub hosts (the mirror
 * fetches after the answer: ADR 0004) → operation stored → the deploy tag's object over REST,
 * then the branch fast-forwarded and the tag's ref created in one GraphQL `updateRefs` → reply)
 * against the GitHub fake with throttling off. Baseline: the three REST
 * writes a promotion needs without updateRefs (PATCH the branch ref, POST the tag object, POST
 * the tag ref) sent directly with Octokit to another repository of the same fake. Before each sample someone pushes to develop, so each
 * promotion has something to move. The fake and its two repositories are made while the bench
 * loads (the scenario's `prepare`: idle until its run).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GitMirror } from '../../src/adapters/git-mirror.js';
import { createOctokit, GitHubHost } from '../../src/adapters/github.js';
import { Dispatcher } from '../../src/core/dispatcher.js';
import { type GitHubFake, startGitHubFake } from '../../test/support/github-fake.js';
import { seedGitHubRepo } from '../../test/support/github-repo-seed.js';
import { makeRuntime } from '../../test/support/runtime.js';
import { figure, type Scenario } from '../lib/figure.js';
import { median, percentile, timed } from '../lib/stats.js';

const OWNER = 'acme';
const TOKEN = 'ghs_BENCHTOKEN0123456789';

/** The GitHub fake with `api` and `direct` seeded: idle once made. */
interface Upstream {
  gh: GitHubFake;
  stop(): Promise<void>;
}

/** Measures nothing (the scenario's `prepare`, started while the bench loads). */
async function seedFake(): Promise<Upstream> {
  const gh = await startGitHubFake({ token: TOKEN, rateLimit: 1_000_000 });
  try {
    await seedGitHubRepo(gh, OWNER, 'api');
    await seedGitHubRepo(gh, OWNER, 'direct');
    return { gh, stop: () => gh.close() };
  } catch (err) {
    await gh.close();
    throw err;
  }
}

export const promote: Scenario = {
  name: 'promote',
  title: 'promote api qa on the GitHub fake',
  timeoutMs: (quick) => (quick ? 180_000 : 600_000),
  prepare: () => seedFake(),
  setUpBesideTearDown: true,
  async run(ctx, prepared) {
    const samples = ctx.quick ? 7 : 25; // a median of 3 swung with one slow sample
    ctx.log(
      prepared
        ? 'the GitHub fake with api and direct seeded was made while the bench loaded; mirror and runtime'
        : 'the GitHub fake, api and direct seeded; mirror and runtime',
    );
    const { gh } = (await (prepared ?? seedFake())) as Upstream;
    let tmp: string | undefined;
    let t: Awaited<ReturnType<typeof makeRuntime>> | undefined;
    try {
      tmp = await mkdtemp(join(tmpdir(), 'conveyor-bench-promote-'));
      const octokit = createOctokit({ token: TOKEN, baseUrl: gh.url, throttle: false, retries: 0 });
      const mirror = new GitMirror({ url: gh.gitUrl(OWNER, 'api'), dir: join(tmp, 'mirrors', 'api.git') });
      // As the composition root builds it: the environment branches' heads read live (one GraphQL read).
      const host = new GitHubHost({
        octokit,
        owner: OWNER,
        repo: 'api',
        mirror,
        htmlBaseUrl: gh.url,
        liveBranches: ['develop', 'qa', 'staging', 'prod'],
      });
      t = await makeRuntime({ extra: { gitHosts: new Map([['api', host]]) } });
      const dispatcher = new Dispatcher(t.runtime);
      let n = 0;
      const promoteOnce = async () => {
        const reply = await dispatcher.execute({
          text: 'promote api qa',
          user: 'U_DEMO',
          source: 'slack',
          channel: 'C0BENCH01',
          idempotencyKey: `bench-promote-${process.pid}-${++n}`,
        });
        if (reply.operation?.state !== 'succeeded') {
          throw new Error(`promote ended ${reply.operation?.state ?? reply.status}: ${reply.title}`);
        }
      };
      const direct = async (i: number, sha: string) => {
        await octokit.rest.git.updateRef({ owner: OWNER, repo: 'direct', ref: 'heads/qa', sha, force: false });
        const tag = await octokit.rest.git.createTag({
          owner: OWNER,
          repo: 'direct',
          tag: `qa/bench.${i}`,
          message: `Deploy of direct to qa\n\nSource-Commit: ${sha}\n`,
          object: sha,
          type: 'commit',
          tagger: { name: 'Conveyor', email: 'conveyor@localhost', date: new Date().toISOString() },
        });
        await octokit.rest.git.createRef({
          owner: OWNER,
          repo: 'direct',
          ref: `refs/tags/qa/bench.${i}`,
          sha: tag.data.sha,
        });
      };
      const push = (repo: string, i: number) =>
        gh.commitFiles(OWNER, repo, 'develop', { [`bench/change-${i}.txt`]: `${i}\n` }, `Bench change ${i}`);

      await ctx.quiet(); // the earlier scenarios' tear-downs are done before the warm-up
      // warm-up: the first promotion clones the mirror
      ctx.log('warm-up (the first promotion clones the mirror)');
      await push('api', 0);
      await promoteOnce();
      await direct(0, await push('direct', 0));

      ctx.log(`${samples} promotions, each beside the direct writes`);
      const ours: number[] = [];
      const base: number[] = [];
      const asked: string[] = [];
      for (let i = 1; i <= samples; i++) {
        // The mirror's fetch behind the last promotion's answer is done: nothing of Conveyor's runs beside a measurement.
        await host.settled();
        const sha = await push('direct', i);
        base.push((await timed(() => direct(i, sha))).ms);
        await push('api', i);
        gh.resetCounters();
        ours.push((await timed(promoteOnce)).ms);
        // What the promotion asked of GitHub's API (the fake's log has no Git traffic)
        asked.push(...gh.requests.map((r) => `${r.method} ${r.path}`));
      }
      return [
        figure({
          scenario: 'promote',
          figure: 'promote reply time (median)',
          unit: 'ms',
          value: median(ours),
          baseline: median(base),
          check: { kind: 'ratio-max', max: 1.5 },
          notes:
            `${samples} promotions of api to qa${ctx.quick ? ' (quick size)' : ''}, each after a push to develop; ` +
            `p90 ${Math.round(percentile(ours, 90))} ms vs direct ${Math.round(percentile(base, 90))} ms; ` +
            `${(asked.length / samples).toFixed(1)} API requests per promotion ` +
            `(${(asked.filter((w) => w.endsWith('/graphql')).length / samples).toFixed(1)} GraphQL: the read and updateRefs; direct: 3 REST writes, no read); ` +
            'Conveyor also stores the operation and its steps; its mirror fetches after the answer, awaited before the next sample',
        }),
      ];
    } finally {
      // Stopped and removed beside the next scenario's set-up (never beside a measurement).
      const runtime = t;
      const folder = tmp;
      ctx.afterward(async () => {
        await runtime?.close();
        await gh.close();
        if (folder) await rm(folder, { recursive: true, force: true });
      });
    }
  },
};
