/**
 * The GitHub end-to-end story of promote and rollback: real commands through the dispatcher,
 * the operation engine and GitHubHost (Octokit with plugin-retry, throttling off) against the
 * stateful GitHub fake, which keeps real bare repositories we read with git afterwards.
 * One runtime for the whole file (PGlite is slow to open); one fake repository per theme:
 * acme/api the main story, acme/shop checks and hand-closed PRs, acme/web races and outages.
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Octokit } from '@octokit/rest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GitMirror } from '../../src/adapters/git-mirror.js';
import { createOctokit, GitHubHost } from '../../src/adapters/github.js';
import type { GitHost } from '../../src/core/ports.js';
import { type GitHubFake, startGitHubFake } from '../support/github-fake.js';
import { type SeededRepo, seedGitHubRepo } from '../support/github-repo-seed.js';
import { makeRuntime, type TestRuntime } from '../support/runtime.js';

const OWNER = 'acme';
const TOKEN = 'ghs_STORYTOKEN0123456789';

let gh: GitHubFake;
let octokit: Octokit;
let t: TestRuntime;
let tmp: string;
const repos: Record<string, SeededRepo> = {};

/** One-shot actions run right before a matching API request leaves Octokit (before its retries). */
type RequestOptions = Record<string, unknown> & { method: string; url: string };
const beforeRequest: { when: (o: RequestOptions) => boolean; action: () => unknown }[] = [];

const git = (repo: string, ...args: string[]) =>
  execFileSync('git', ['--git-dir', repos[repo]!.dir, ...args], {
    encoding: 'utf8',
    env: { ...process.env, GIT_CONFIG_GLOBAL: '/dev/null' },
  }).trim();
const head = (repo: string, branch: string) => git(repo, 'rev-parse', `refs/heads/${branch}`);
const tree = (repo: string, rev: string) => git(repo, 'rev-parse', `${rev}^{tree}`);
const parents = (repo: string, rev: string) => git(repo, 'rev-list', '--parents', '-n', '1', rev).split(' ').slice(1);
const isAncestor = (repo: string, a: string, b: string) => {
  try {
    git(repo, 'merge-base', '--is-ancestor', a, b);
    return true;
  } catch {
    return false;
  }
};
const tagMessage = (repo: string, name: string) => git(repo, 'tag', '-l', '--format=%(contents)', name);
/** [object type of the tag ref, commit it peels to]. */
const tagTarget = (repo: string, name: string) =>
  git(repo, 'for-each-ref', '--format=%(objecttype) %(*objectname)', `refs/tags/${name}`).split(' ');

/** Every write the fake answered since the last reset, as "METHOD /path-in-repo status". */
function writes(repo: string): string[] {
  const prefix = `/repos/${OWNER}/${repo}`;
  return gh.requests
    .filter((r) => r.method !== 'GET')
    .map((r) => `${r.method} ${decodeURIComponent(r.path).replace(prefix, '')} ${r.status}`);
}

function today(): string {
  const d = t.clock.now();
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${d.getUTCFullYear()}.${pad(d.getUTCMonth() + 1)}.${pad(d.getUTCDate())}`;
}

const operation = (id: string) => t.runtime.store.operation(id);
const pulls = async (repo: string) =>
  (await octokit.rest.pulls.list({ owner: OWNER, repo, state: 'all' })).data.sort((a, b) => a.number - b.number);

function hostFor(repo: string): GitHost {
  const mirror = new GitMirror({ url: gh.gitUrl(OWNER, repo), dir: join(tmp, 'mirrors', `${repo}.git`) });
  return new GitHubHost({ octokit, owner: OWNER, repo, mirror, htmlBaseUrl: gh.url });
}

beforeAll(async () => {
  gh = await startGitHubFake({ token: TOKEN });
  tmp = await mkdtemp(join(tmpdir(), 'github-story-'));
  octokit = createOctokit({ token: TOKEN, baseUrl: gh.url, throttle: false, retries: 3, retryAfterBaseValue: 1 });
  octokit.hook.before('request', async (options) => {
    const o = options as unknown as RequestOptions;
    const i = beforeRequest.findIndex((b) => b.when(o));
    if (i >= 0) await beforeRequest.splice(i, 1)[0]!.action();
  });
  t = await makeRuntime({
    edit: (config) => {
      config.environments.find((e: { name: string }) => e.name === 'prod').gate.requireChecks = true;
      config.apps.push({ name: 'shop', repo: `${OWNER}/shop` });
      config.roles['tech-lead'].users.push('U_LEAD2'); // so a tech-lead may force a version past a rollback
    },
    extra: { gitHosts: new Map(['api', 'web', 'shop'].map((r) => [r, hostFor(r)])) },
  });
  repos.api = await seedGitHubRepo(gh, OWNER, 'api');
  repos.web = await seedGitHubRepo(gh, OWNER, 'web');
  repos.shop = await seedGitHubRepo(gh, OWNER, 'shop');
});

afterAll(async () => {
  await t?.close();
  await gh?.close();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

describe('promote develop → qa → staging → prod, then roll prod back, on GitHub', () => {
  const seeded = () => repos.api!;

  it('fast-forwards qa through the REST API and marks it with an annotated deploy tag', async () => {
    gh.resetCounters();
    const reply = await t.run('promote api qa');
    expect(reply.operation?.state, reply.text).toBe('succeeded');
    const id = reply.operation!.id;
    const tag = `qa/${today()}.1`;
    // The tag object, then the branch and the tag's ref in one updateRefs (both or neither).
    expect(writes('api')).toEqual(['POST /git/tags 201', 'POST /graphql 200']);
    expect(head('api', 'qa')).toBe(seeded().heads.develop);
    expect(tagTarget('api', tag)).toEqual(['tag', seeded().heads.develop]);
    const message = tagMessage('api', tag);
    expect(message).toContain(`Source-Commit: ${seeded().heads.develop}`);
    expect(message).toContain(`Operation: ${id}`);
    expect(message).toContain('Requested-By: U_DEMO');
  });

  it('moves staging only after the qa-lead approves', async () => {
    const asked = await t.run('promote api staging');
    expect(asked.operation?.state, asked.text).toBe('awaiting-approval');
    expect(head('api', 'staging')).toBe(seeded().heads.staging);
    expect((await t.run(`approve ${asked.operation!.id}`, 'U_LEAD')).status).toBe('refused');

    const approved = await t.run(`approve ${asked.operation!.id}`, 'U_QA');
    expect(approved.operation?.state, approved.text).toBe('succeeded');
    expect(head('api', 'staging')).toBe(seeded().heads.develop);
    expect(tagMessage('api', `staging/${today()}.1`)).toMatch(/Approved-By: U_QA \(qa-lead\)/);
  });

  it('opens a pull request into prod when asked and merges it once tech-lead and product-owner approve', async () => {
    const staging = head('api', 'staging');
    const oldProd = head('api', 'prod');
    gh.setChecks(staging, 'success');
    gh.resetCounters();
    const asked = await t.run('promote api prod');
    expect(asked.operation?.state, asked.text).toBe('awaiting-approval');
    const id = asked.operation!.id;
    const prUrl = `${gh.url}/${OWNER}/api/pull/1`;
    expect(asked.text).toContain(prUrl);
    expect((await operation(id)).progress).toMatchObject({ prNumber: 1, prUrl });
    expect(writes('api')).toEqual(['POST /graphql 200', 'POST /pulls 201']);
    const [pr] = await pulls('api');
    expect(pr).toMatchObject({
      number: 1,
      state: 'open',
      head: { ref: `conveyor/${id}`, sha: staging },
      base: { ref: 'prod' },
    });
    expect(head('api', 'prod')).toBe(oldProd);

    expect((await t.run(`approve ${id}`, 'U_LEAD')).operation?.state).toBe('awaiting-approval');
    expect(head('api', 'prod')).toBe(oldProd);
    gh.resetCounters();
    const done = await t.run(`approve ${id}`, 'U_PO');
    expect(done.operation?.state, done.text).toBe('succeeded');
    expect(writes('api')).toEqual(['PUT /pulls/1/merge 200', 'POST /git/tags 201', 'POST /git/refs 201']);

    const merge = head('api', 'prod');
    expect(parents('api', merge)).toEqual([oldProd, staging]);
    expect(tree('api', merge)).toBe(tree('api', 'staging'));
    expect((await pulls('api'))[0]).toMatchObject({ state: 'closed', merge_commit_sha: merge });
    const tag = `prod/${today()}.1`;
    expect(tagTarget('api', tag)).toEqual(['tag', merge]);
    const message = tagMessage('api', tag);
    expect(message).toContain(`Source-Commit: ${staging}`);
    expect(message).toContain(`Operation: ${id}`);
    expect(message).toMatch(/Approved-By: .*U_LEAD \(tech-lead\)/);
    expect(message).toMatch(/Approved-By: .*U_PO \(product-owner\)/);
  });

  it('rolls prod back in an emergency with the tech-lead alone, by one new commit (no PR, no force)', async () => {
    const before = head('api', 'prod');
    const asked = await t.run('rollback api prod --emergency');
    expect(asked.operation?.state, asked.text).toBe('awaiting-approval');
    expect(asked.text).toContain('tech-lead: 0/1');
    expect(asked.text).not.toContain('product-owner');
    gh.resetCounters();
    const done = await t.run(`approve ${asked.operation!.id}`, 'U_LEAD');
    expect(done.operation?.state, done.text).toBe('succeeded');
    expect(writes('api')).toEqual(['POST /git/commits 201', 'POST /git/tags 201', 'POST /graphql 200']);
    const prod = head('api', 'prod');
    expect(parents('api', prod)).toEqual([before]);
    expect(tree('api', prod)).toBe(tree('api', seeded().heads.prod));
    expect(await pulls('api')).toHaveLength(1);
    expect(tagMessage('api', `prod/${today()}.2`)).toMatch(/Kind: rollback[\s\S]*Approved-By: U_LEAD \(tech-lead\)$/m);
  });

  it('promotes prod again after the rollback, forced by a tech-lead: a new commit with staging’s tree on top of the old head', async () => {
    const rolledBack = head('api', 'prod');
    const refused = await t.run('promote api prod');
    expect(refused.status).toBe('refused');
    expect(refused.title).toContain('was rolled back from in prod');
    gh.resetCounters();
    const asked = await t.run('promote api prod --force', 'U_LEAD');
    expect(asked.operation?.state, asked.text).toBe('awaiting-approval');
    expect(asked.text).toContain('new commit with the same tree');
    expect(writes('api')).toEqual(['POST /git/commits 201', 'POST /graphql 200', 'POST /pulls 201']);
    const id = asked.operation!.id;
    const prHead = head('api', `conveyor/${id}`);
    expect(parents('api', prHead)).toEqual([rolledBack]);
    expect(tree('api', prHead)).toBe(tree('api', 'staging'));

    await t.run(`approve ${id}`, 'U_PO');
    const done = await t.run(`approve ${id}`, 'U_LEAD2');
    expect(done.operation?.state, done.text).toBe('succeeded');
    const prod = head('api', 'prod');
    expect(tree('api', prod)).toBe(tree('api', 'staging'));
    expect(isAncestor('api', rolledBack, prod)).toBe(true);
    expect(tagTarget('api', `prod/${today()}.3`)).toEqual(['tag', prod]);
    expect((await pulls('api'))[1]).toMatchObject({ number: 2, state: 'closed', merge_commit_sha: prod });
  });

  it('rolls prod back without --emergency through a pull request and the full gate', async () => {
    const before = head('api', 'prod');
    const asked = await t.run('rollback api prod');
    expect(asked.operation?.state, asked.text).toBe('awaiting-approval');
    const id = asked.operation!.id;
    expect(asked.text).toContain(`${gh.url}/${OWNER}/api/pull/3`);
    expect((await pulls('api'))[2]).toMatchObject({
      state: 'open',
      head: { ref: `conveyor/${id}` },
      base: { ref: 'prod' },
    });

    const first = await t.run(`approve ${id}`, 'U_LEAD');
    expect(first.operation?.state).toBe('awaiting-approval');
    expect(head('api', 'prod')).toBe(before);
    const done = await t.run(`approve ${id}`, 'U_PO');
    expect(done.operation?.state, done.text).toBe('succeeded');
    const prod = head('api', 'prod');
    expect(tree('api', prod)).toBe(tree('api', seeded().heads.prod));
    expect(isAncestor('api', before, prod)).toBe(true);
    expect((await pulls('api'))[2]).toMatchObject({ state: 'closed', merge_commit_sha: prod });
    expect(tagMessage('api', `prod/${today()}.4`)).toContain('Kind: rollback');
  });
});

describe('checks and pull requests closed by hand', () => {
  let waiting = '';

  it('refuses a source commit whose checks fail or still run when prod requires checks; passing checks go ahead', async () => {
    const staging = repos.shop!.heads.staging;
    gh.setChecks(staging, 'failure');
    const failing = await t.run('promote shop prod');
    expect(failing.status).toBe('refused');
    expect(failing.text).toMatch(/checks of .* are failing/);

    gh.setChecks(staging, 'pending');
    const pending = await t.run('promote shop prod');
    expect(pending.status).toBe('refused');
    expect(pending.text).toMatch(/still running/);
    expect(await pulls('shop')).toEqual([]);

    gh.setChecks(staging, 'success');
    const passing = await t.run('promote shop prod');
    expect(passing.operation?.state, passing.text).toBe('awaiting-approval');
    waiting = passing.operation!.id;
    expect(await pulls('shop')).toHaveLength(1);
  });

  it('cancels the operation at its next advance when its pull request is closed by hand', async () => {
    const prod = head('shop', 'prod');
    const { prNumber } = (await operation(waiting)).progress as { prNumber: number };
    await octokit.rest.pulls.update({ owner: OWNER, repo: 'shop', pull_number: prNumber, state: 'closed' });

    const late = await t.run(`approve ${waiting}`, 'U_LEAD'); // the next approval advances it
    expect(late.status).toBe('refused');
    const op = await operation(waiting);
    expect(op.state).toBe('cancelled');
    expect(op.error).toMatch(/closed by hand/);
    expect(head('shop', 'prod')).toBe(prod);
    expect(git('shop', 'tag', '--list', `prod/${today()}.*`)).toBe('');
  });

  it('frees the lock after the cancellation, and closes the PR of a request that is withdrawn', async () => {
    const again = await t.run('promote shop prod');
    expect(again.operation?.state, again.text).toBe('awaiting-approval');
    expect((await pulls('shop')).map((p) => p.state)).toEqual(['closed', 'open']);
    const withdrawn = await t.run(`reject ${again.operation!.id} changed my mind`);
    expect(withdrawn.operation?.state, withdrawn.text).toBe('cancelled');
    // Regression: the PR used to stay open after its operation ended (anyone could still merge it)
    expect((await pulls('shop')).map((p) => p.state)).toEqual(['closed', 'closed']);
  });

  it('never merges a commit pushed onto the PR branch after approvals were given for another tree', async () => {
    const prod = head('shop', 'prod');
    const asked = await t.run('promote shop prod');
    expect(asked.operation?.state, asked.text).toBe('awaiting-approval');
    const id = asked.operation!.id;
    const foreign = await gh.commitFiles(OWNER, 'shop', `conveyor/${id}`, { 'backdoor.txt': 'x\n' }, 'Sneak in');
    await t.run(`approve ${id}`, 'U_LEAD');
    const done = await t.run(`approve ${id}`, 'U_PO');
    // the PR changed: the tech-lead's approval (for the old tree) lapsed, nothing is merged
    expect(done.operation?.state, done.text).toBe('awaiting-approval');
    expect(done.text).toContain('tech-lead: 0/1');
    expect(head('shop', 'prod')).toBe(prod);
    expect(isAncestor('shop', foreign, head('shop', 'prod'))).toBe(false);
    expect((await t.run(`reject ${id}`)).operation?.state).toBe('cancelled');
  });
});

describe('races and outages on GitHub', () => {
  const newChange = (file: string) =>
    gh.commitFiles(OWNER, 'web', 'develop', { [file]: `${file}\n` }, `Change ${file}`);
  let pausedReply = '';
  let webNodeId = '';
  beforeAll(async () => {
    webNodeId = (await octokit.rest.repos.get({ owner: OWNER, repo: 'web' })).data.node_id;
  });
  const refsMove = { method: 'POST', path: /^\/graphql$/ };
  /** The updateRefs request that moves `branch` of web. */
  const isRefMove = (branch: string) => (o: RequestOptions) =>
    o.method === 'POST' &&
    o.url === '/graphql' &&
    JSON.stringify(o.variables ?? {}).includes(`"refs/heads/${branch}"`) &&
    JSON.stringify(o.variables ?? {}).includes(webNodeId);

  it('retries GitHub 500 and 502 answers on writes, and the promotion completes', async () => {
    const develop = await newChange('a.txt');
    // Only the request named fails.
    beforeRequest.push({ when: isRefMove('qa'), action: () => gh.failNext(2, 500, {}, undefined, refsMove) });
    beforeRequest.push({
      when: (o) => o.method === 'POST' && o.url.endsWith('/git/tags'),
      action: () => gh.failNext(1, 502, {}, undefined, { method: 'POST', path: /\/git\/tags$/ }),
    });
    gh.resetCounters();
    const reply = await t.run('promote web qa');
    expect(reply.operation?.state, reply.text).toBe('succeeded');
    expect(writes('web')).toEqual([
      'POST /git/tags 502',
      'POST /git/tags 201',
      'POST /graphql 500',
      'POST /graphql 500',
      'POST /graphql 200',
    ]);
    expect(head('web', 'qa')).toBe(develop);
    expect(tagTarget('web', `qa/${today()}.1`)).toEqual(['tag', develop]);
  });

  it('pauses (not fails) while GitHub stays down, and a later sweep completes it exactly once', async () => {
    const before = head('web', 'qa');
    const develop = await newChange('b.txt');
    // the try and 3 retries
    beforeRequest.push({ when: isRefMove('qa'), action: () => gh.failNext(4, 502, {}, undefined, refsMove) });
    gh.resetCounters();
    const reply = await t.run('promote web qa');
    const id = reply.operation!.id;
    const paused = await operation(id);
    expect(paused.state).toBe('applying');
    expect(paused.progress.lastError).toMatch(/update qa in acme\/web: GitHub answered 502/);
    expect(head('web', 'qa')).toBe(before);
    // The tag object written before the refused update is unreachable: no tag names it.
    expect(git('web', 'tag', '--list', 'qa/*', '--points-at', develop)).toBe('');
    pausedReply = reply.text;

    gh.resetCounters();
    await t.runtime.engine.sweep();
    expect((await operation(id)).state).toBe('succeeded');
    expect(head('web', 'qa')).toBe(develop);
    expect(writes('web')).toEqual(['POST /git/tags 201', 'POST /graphql 200']);
    expect(git('web', 'tag', '--points-at', develop, '--list', 'qa/*')).toBe(`qa/${today()}.2`);

    gh.resetCounters();
    await t.runtime.engine.sweep();
    expect(writes('web')).toEqual([]);
  });

  it('tells the person who asked that GitHub is down and the operation will be retried', () => {
    // Regression: the reply used to say only "applying"; lastError is now shown
    expect(pausedReply).toMatch(/GitHub answered 502/);
  });

  it('re-plans when someone pushes to qa between plan and write, and keeps their commit', async () => {
    const develop = await newChange('c.txt');
    let foreign = '';
    beforeRequest.push({
      when: isRefMove('qa'),
      action: async () => {
        foreign = await gh.commitFiles(OWNER, 'web', 'qa', { 'hotfix.txt': 'by hand\n' }, 'Hotfix pushed by hand');
      },
    });
    gh.resetCounters();
    const reply = await t.run('promote web qa');
    expect(reply.operation?.state, reply.text).toBe('succeeded');
    // The first tag object went with the refused update (GraphQL refuses with 200 and `errors`)
    // and stays unreachable; the re-planned commit gets its own.
    expect(writes('web')).toEqual([
      'POST /git/tags 201',
      'POST /graphql 200',
      'POST /git/commits 201',
      'POST /git/tags 201',
      'POST /graphql 200',
    ]);
    expect(git('web', 'tag', '--list', 'qa/*', '--contains', foreign)).toBe(`qa/${today()}.3`);
    const qa = head('web', 'qa');
    expect(parents('web', qa)).toEqual([foreign]);
    expect(tree('web', qa)).toBe(tree('web', develop));
    const op = await operation(reply.operation!.id);
    expect(op.progress.replanned).toBe(true);
    expect(op.plan).toMatchObject({ mode: 'commit', targetHead: foreign });
  });
});
