/**
 * GitHub plans read live (src/adapters/github-live.ts): the environment branches' heads and
 * their comparisons come from one GraphQL read while the mirror fetches behind it. The model a
 * live plan is held to is the plan of a host that fetches first, as before: app `api` reads live,
 * app `web` fetches, both on the same repository of the GitHub fake; after each change upstream
 * both are asked the same `--dry-run` and must answer alike, and git itself (in the fake's
 * repository) says what the answer must contain.
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { GitMirror } from '../../src/adapters/git-mirror.js';
import { createOctokit, GitHubHost } from '../../src/adapters/github.js';
import { GitHubLiveReads } from '../../src/adapters/github-live.js';
import { type GitHubFake, startGitHubFake } from '../support/github-fake.js';
import { type SeededRepo, seedGitHubRepo } from '../support/github-repo-seed.js';
import { makeRuntime, type TestRuntime } from '../support/runtime.js';

const OWNER = 'acme';
const TOKEN = 'ghs_LIVETOKEN0123456789';
const BRANCHES = ['develop', 'qa', 'staging', 'prod'];

let gh: GitHubFake;
let seeded: SeededRepo;
let t: TestRuntime;
let tmp: string;
let live: GitHubHost;
let fetching: GitHubHost;

const git = (...args: string[]) =>
  execFileSync('git', ['--git-dir', seeded.dir, ...args], {
    encoding: 'utf8',
    env: {
      ...process.env,
      GIT_CONFIG_GLOBAL: '/dev/null',
      GIT_COMMITTER_NAME: 'Someone',
      GIT_COMMITTER_EMAIL: 'someone@example.test',
    },
  }).trim();
const head = (branch: string) => git('rev-parse', `refs/heads/${branch}`);
let pushes = 0;
const push = (branch = 'develop', message = `change ${++pushes}`) =>
  gh.commitFiles(OWNER, 'api', branch, { [`changes/${pushes}.txt`]: `${pushes}\n` }, message);

function hostFor(dir: string, liveBranches?: string[]): GitHubHost {
  const octokit = createOctokit({ token: TOKEN, baseUrl: gh.url, throttle: false, retryAfterBaseValue: 1 });
  const mirror = new GitMirror({ url: gh.gitUrl(OWNER, 'api'), dir: join(tmp, dir) });
  return new GitHubHost({ octokit, owner: OWNER, repo: 'api', mirror, htmlBaseUrl: gh.url, liveBranches });
}

/** The dry-run of both apps, with the app's name taken out: they must read alike. */
async function plans(command: string): Promise<{ live: string; fetching: string }> {
  const a = await t.run(`${command.replace('APP', 'api')} --dry-run`);
  const b = await t.run(`${command.replace('APP', 'web')} --dry-run`);
  return { live: a.text.replaceAll('api', 'APP'), fetching: b.text.replaceAll('web', 'APP') };
}

beforeAll(async () => {
  gh = await startGitHubFake({ token: TOKEN, rateLimit: 1_000_000 });
  seeded = await seedGitHubRepo(gh, OWNER, 'api');
  tmp = await mkdtemp(join(tmpdir(), 'github-live-'));
  live = hostFor('live.git', BRANCHES);
  fetching = hostFor('fetching.git');
  t = await makeRuntime({
    extra: {
      gitHosts: new Map([
        ['api', live],
        ['web', fetching],
      ]),
    },
  });
}, 120_000);

afterAll(async () => {
  await live?.settled();
  await t?.close();
  await gh?.close();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

beforeEach(async () => {
  await live.settled(); // each test starts with the mirror's fetches behind earlier answers done
});

describe('GitHub plans read live', () => {
  it('sees a push to develop the moment it lands, with the commits between as git lists them', async () => {
    await live.sync(); // the process's first read fetches; later ones read live
    const before = head('qa');
    const pushed = [await push(), await push(), await push()];
    const { live: a, fetching: b } = await plans('promote APP qa');
    expect(a).toBe(b);
    const count = Number(git('rev-list', '--count', `${before}..develop`));
    expect(a).toContain(`${count} commit(s) ship`);
    expect(a).toContain(`${pushed[2]!.slice(0, 8)} (fast-forward)`);
  });

  it('plans after a push from one GraphQL read, without fetching the mirror', async () => {
    await live.sync();
    const mirrored = () =>
      execFileSync('git', ['--git-dir', join(tmp, 'live.git'), 'rev-parse', 'develop'])
        .toString()
        .trim();
    const before = mirrored();
    const pushed = await push();
    gh.resetCounters();
    const reply = await t.run('promote api qa --dry-run');
    expect(reply.text).toContain(`${pushed.slice(0, 8)} (fast-forward)`);
    expect(gh.requests.map((r) => `${r.method} ${r.path}`)).toEqual(['POST /graphql']);
    expect(mirrored()).toBe(before); // the answer did not wait for a fetch
  });

  it('promotes the pushed commit, and reads its own write back before the mirror has it', async () => {
    const pushed = await push();
    const reply = await t.run('promote api qa');
    expect(reply.operation?.state).toBe('succeeded');
    expect(head('qa')).toBe(pushed);
    expect(await live.branchHead('qa')).toBe(pushed);
    const tag = git('tag', '--points-at', pushed, '--list', 'qa/*');
    expect(tag).not.toBe('');
    expect((await live.tags('qa/')).map((x) => x.name)).toContain(tag);
    expect(await live.treeOf(pushed)).toBe(git('rev-parse', `${pushed}^{tree}`));
  });

  it('names the next deploy tag after one made upstream by hand, without a branch move', async () => {
    await push();
    const first = await plans('promote APP qa');
    const preview = /deploy tag: (\S+)/.exec(first.live)?.[1];
    expect(preview).toMatch(/^qa\//);
    // Someone tags qa's head by hand with the name Conveyor was about to use.
    git('tag', '-a', '-m', 'by hand', preview!, head('qa'));
    const again = await plans('promote APP qa');
    expect(again.live).toBe(again.fetching);
    const next = /deploy tag: (\S+)/.exec(again.live)?.[1];
    expect(next).not.toBe(preview);
    expect(git('tag', '--list', next!)).toBe('');
  });

  it('sees qa moved upstream by someone else', async () => {
    await push();
    const moved = await push('qa', 'hotfix on qa');
    const { live: a, fetching: b } = await plans('promote APP qa');
    expect(a).toBe(b);
    expect(a).toContain(`qa: ${moved.slice(0, 8)}`);
    expect(a).toContain('a new commit on top'); // no longer a fast-forward
  });

  it('counts every commit when more ship than one read lists', async () => {
    await push('qa', 'a change on qa'); // staging ← qa is the comparison this plan reads
    const before = head('staging');
    for (let i = 0; i < 55; i++) await push('qa', `qa change ${i}`);
    const { live: a, fetching: b } = await plans('promote APP staging');
    expect(a).toBe(b);
    const count = Number(git('rev-list', '--count', `${before}..qa`));
    expect(count).toBeGreaterThan(50);
    expect(a).toContain(`${count} commit(s)`);
  });

  it('resolves a short sha of a commit pushed since the mirror fetched', async () => {
    const older = await push();
    await push();
    const { live: a, fetching: b } = await plans(`promote APP qa --version ${older.slice(0, 10)}`);
    expect(a).toBe(b);
    expect(a).toContain(older.slice(0, 8));
  });

  it('reads a branch outside the environments as fresh as the sync before it', async () => {
    await live.sync();
    const feature = await push('feature/x', 'feature work');
    await live.sync();
    expect(await live.branchHead('feature/x')).toBe(feature);
  });

  /** A live host whose second sync's read GitHub refuses with `error`: that sync still sees a push. */
  async function refusedRead(dir: string, error: { type: string; message: string }) {
    const host = hostFor(dir, BRANCHES);
    await host.sync();
    gh.graphqlErrorsNext(1, [error]);
    const pushed = await push();
    await host.sync();
    expect(await host.branchHead('develop')).toBe(pushed);
    return { host, pushed };
  }

  it('a GitHub that cannot answer the read (an older schema): plans fetch first, still fresh', async () => {
    const { host } = await refusedRead('older.git', {
      type: 'undefinedField',
      message: "Field 'compare' doesn't exist on type 'Ref'",
    });
    // From then on every sync fetches: no GraphQL read is asked again.
    gh.resetCounters();
    const next = await push();
    await host.sync();
    expect(await host.branchHead('develop')).toBe(next);
    expect(gh.requests.filter((r) => r.path === '/graphql')).toEqual([]);
  });

  it('a GraphQL read that fails falls back to the fetch for that sync', async () => {
    const { host, pushed } = await refusedRead('failing.git', {
      type: 'INTERNAL',
      message: 'Something went wrong while executing your query.',
    });
    const ancestor = git('merge-base', head('qa'), pushed) === head('qa');
    expect(await host.isAncestor(head('qa'), pushed)).toBe(ancestor);
    // The next read is live again.
    gh.resetCounters();
    await push();
    await host.sync();
    expect(gh.requests.filter((r) => r.path === '/graphql').length).toBe(1);
    await host.settled();
  });
});

describe('GitHub live reads under races and odd answers', () => {
  /** A reader whose GraphQL answers can be held back (`hold`) or rewritten (`rewrite`). */
  function reader(dir: string) {
    const octokit = createOctokit({ token: TOKEN, baseUrl: gh.url, throttle: false, retryAfterBaseValue: 1 });
    const mirror = new GitMirror({ url: gh.gitUrl(OWNER, 'api'), dir: join(tmp, dir) });
    const control: { hold?: Promise<void>; rewrite?: (data: unknown) => unknown } = {};
    const reads = new GitHubLiveReads({
      mirror,
      owner: OWNER,
      repo: 'api',
      branches: BRANCHES,
      graphql: async (query, variables) => {
        const data = await octokit.graphql(query, variables);
        if (control.hold) await control.hold;
        return control.rewrite ? control.rewrite(data) : data;
      },
    });
    return { reads, control };
  }

  it('a tag moved upstream (the tag count unchanged) is what --version ships', async () => {
    const older = await push();
    const newer = await push();
    git('tag', '-a', '-m', 'release', 'release-live', older);
    await t.run('list'); // both mirrors have fetched the tag where it was
    await live.sync();
    await fetching.sync();
    git('tag', '-f', '-a', '-m', 'release, moved', 'release-live', newer);
    const { live: a, fetching: b } = await plans('promote APP qa --version release-live');
    expect(a).toBe(b);
    expect(a).toContain(newer.slice(0, 8));
  });

  it("an answer read before this process's own write never undoes it", async () => {
    const { reads, control } = reader('race.git');
    await reads.sync(); // the first read fetches
    const before = head('qa');
    let release!: () => void;
    control.hold = new Promise((r) => {
      release = r;
    });
    const syncing = reads.sync(); // GitHub answers qa = before, held back
    await new Promise((r) => setTimeout(r, 200));
    const ours = await push('qa', 'written by this process');
    reads.wroteBranch('qa', ours); // as GitHubHost does once its write succeeded
    control.hold = undefined;
    release();
    await syncing;
    expect(await reads.branchHead('qa')).toBe(ours);
    await reads.settled(); // the fetch after the write has landed
    expect(await reads.branchHead('qa')).toBe(ours);
    expect(before).not.toBe(ours);
  });

  it('an answer whose head is not a commit is not taken for a deleted branch', async () => {
    const { reads, control } = reader('odd.git');
    await reads.sync();
    const pushed = await push('qa', 'qa moved');
    control.rewrite = (data) => {
      const copy = structuredClone(data) as { repository: { h1: { target: { tree: unknown } } } };
      copy.repository.h1.target.tree = null;
      return copy;
    };
    await reads.sync();
    expect(await reads.branchHead('qa')).toBe(pushed);
    await reads.settled();
  });
});
