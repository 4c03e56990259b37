/**
 * The GitHub fake's own tests: every answer is checked against GitHub's published description
 * (@octokit/openapi) so the fake cannot drift, and its Git side is real (clone, refs, objects).
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Octokit } from '@octokit/rest';
import { simpleGit } from 'simple-git';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type GitHubFake, startGitHubFake } from '../support/github-fake.js';
import { assertGitHubResponse, checkGitHubResponse } from '../support/openapi-check.js';

const quiet = { debug() {}, info() {}, warn() {}, error() {} };
const R = '/repos/{owner}/{repo}';
const owner = 'acme';
const repo = 'shop';

let gh: GitHubFake;
let octokit: Octokit;
let bare: string;
let first: string;
let second: string;
const tmp: string[] = [];

function gitIn(dir: string, ...args: string[]): string {
  return execFileSync('git', args, { cwd: dir, encoding: 'utf8' }).trim();
}

/** Status and body of a request that is expected to fail. */
async function failure(p: Promise<unknown>): Promise<{ status: number; data: unknown }> {
  try {
    await p;
  } catch (err) {
    const e = err as { status: number; response?: { data: unknown } };
    return { status: e.status, data: e.response?.data };
  }
  throw new Error('expected the request to fail');
}

beforeAll(async () => {
  gh = await startGitHubFake({ token: 'fake-token', pollInterval: 30 });
  bare = await gh.createRepo(owner, repo);
  first = await gh.commitFiles(owner, repo, 'main', { 'app.yaml': 'version: 1\n', 'nested/dir/a.txt': 'a\n' }, 'first');
  second = await gh.commitFiles(owner, repo, 'main', { 'app.yaml': 'version: 2\n' }, 'second');
  octokit = new Octokit({ auth: gh.token, baseUrl: gh.url, log: quiet });
});

afterAll(async () => {
  await gh?.close();
  await Promise.all(tmp.map((d) => rm(d, { recursive: true, force: true })));
});

describe('GitHub fake REST API matches @octokit/openapi', () => {
  it('serves the repository and its refs, with slashes in refs encoded or not', async () => {
    const r = await octokit.rest.repos.get({ owner, repo });
    assertGitHubResponse(R, 'get', 200, r.data);
    expect(r.data.default_branch).toBe('main');

    const ref = await octokit.rest.git.getRef({ owner, repo, ref: 'heads/main' });
    assertGitHubResponse(`${R}/git/ref/{ref}`, 'get', 200, ref.data);
    // the check is not vacuous: a wrong shape is reported
    expect(checkGitHubResponse(`${R}/git/ref/{ref}`, 'get', 200, { ...ref.data, object: { sha: 1 } })).toEqual(
      expect.arrayContaining([expect.stringContaining('/object')]),
    );
    expect(ref.data.object.sha).toBe(second);
    const raw = await fetch(`${gh.url}/repos/${owner}/${repo}/git/ref/heads/main`, {
      headers: { authorization: `Bearer ${gh.token}` },
    });
    expect(((await raw.json()) as { object: { sha: string } }).object.sha).toBe(second);

    const matching = await octokit.rest.git.listMatchingRefs({ owner, repo, ref: 'heads/' });
    assertGitHubResponse(`${R}/git/matching-refs/{ref}`, 'get', 200, matching.data);
    expect(matching.data.map((x) => x.ref)).toEqual(['refs/heads/main']);

    const missing = await failure(octokit.rest.git.getRef({ owner, repo, ref: 'heads/nope' }));
    expect(missing.status).toBe(404);
    assertGitHubResponse(`${R}/git/ref/{ref}`, 'get', 404, missing.data);
  });

  it('creates refs and refuses an existing one', async () => {
    const created = await octokit.rest.git.createRef({
      owner,
      repo,
      ref: 'refs/heads/feature/x',
      sha: first,
    });
    assertGitHubResponse(`${R}/git/refs`, 'post', 201, created.data);
    expect(gitIn(bare, 'rev-parse', 'refs/heads/feature/x')).toBe(first);

    const again = await failure(octokit.rest.git.createRef({ owner, repo, ref: 'refs/heads/feature/x', sha: second }));
    expect(again.status).toBe(422);
    assertGitHubResponse(`${R}/git/refs`, 'post', 422, again.data);
    expect(gitIn(bare, 'rev-parse', 'refs/heads/feature/x')).toBe(first);
  });

  it('creates a real commit from a tree and parents, and reads it back', async () => {
    const tree = gitIn(bare, 'rev-parse', `${first}^{tree}`);
    const made = await octokit.rest.git.createCommit({
      owner,
      repo,
      message: 'restore v1',
      tree,
      parents: [second],
    });
    assertGitHubResponse(`${R}/git/commits`, 'post', 201, made.data);
    expect(gitIn(bare, 'rev-parse', `${made.data.sha}^{tree}`)).toBe(tree);
    expect(gitIn(bare, 'rev-parse', `${made.data.sha}^`)).toBe(second);

    const read = await octokit.rest.git.getCommit({ owner, repo, commit_sha: made.data.sha });
    assertGitHubResponse(`${R}/git/commits/{commit_sha}`, 'get', 200, read.data);
    expect(read.data.message).toBe('restore v1');

    const bad = await failure(
      octokit.rest.git.createCommit({ owner, repo, message: 'x', tree: '0'.repeat(40), parents: [] }),
    );
    expect(bad.status).toBe(422);
  });

  it('fast-forwards a branch and refuses a non-fast-forward unless forced', async () => {
    await octokit.rest.git.createRef({ owner, repo, ref: 'refs/heads/qa', sha: first });
    const ff = await octokit.rest.git.updateRef({ owner, repo, ref: 'heads/qa', sha: second, force: false });
    assertGitHubResponse(`${R}/git/refs/{ref}`, 'patch', 200, ff.data);
    expect(gitIn(bare, 'rev-parse', 'refs/heads/qa')).toBe(second);

    const back = await failure(octokit.rest.git.updateRef({ owner, repo, ref: 'heads/qa', sha: first, force: false }));
    expect(back.status).toBe(422);
    assertGitHubResponse(`${R}/git/refs/{ref}`, 'patch', 422, back.data);
    expect((back.data as { message: string }).message).toBe('Update is not a fast forward');
    expect(gitIn(bare, 'rev-parse', 'refs/heads/qa')).toBe(second);
  });

  it('creates annotated tags with git mktag', async () => {
    const tag = await octokit.rest.git.createTag({
      owner,
      repo,
      tag: 'prod/2024.01.02.1',
      message: 'source abc',
      object: second,
      type: 'commit',
    });
    assertGitHubResponse(`${R}/git/tags`, 'post', 201, tag.data);
    expect(gitIn(bare, 'cat-file', '-t', tag.data.sha)).toBe('tag');
    const ref = await octokit.rest.git.createRef({
      owner,
      repo,
      ref: 'refs/tags/prod/2024.01.02.1',
      sha: tag.data.sha,
    });
    expect(ref.data.object.type).toBe('tag');
    expect(gitIn(bare, 'rev-parse', 'prod/2024.01.02.1^{commit}')).toBe(second);
    const read = await octokit.rest.git.getTag({ owner, repo, tag_sha: tag.data.sha });
    expect(read.data.object.sha).toBe(second);
    expect(read.data.message).toBe('source abc\n');
  });

  it('opens, lists, reads, merges (with the head check) and closes pull requests', async () => {
    const head = await gh.commitFiles(owner, repo, 'release', { 'app.yaml': 'version: 3\n' }, 'v3');
    const pr = await octokit.rest.pulls.create({
      owner,
      repo,
      base: 'main',
      head: 'release',
      title: 'Release',
      body: 'b',
    });
    assertGitHubResponse(`${R}/pulls`, 'post', 201, pr.data);
    expect(pr.data.head.sha).toBe(head);

    const dup = await failure(
      octokit.rest.pulls.create({ owner, repo, base: 'main', head: 'release', title: 'again' }),
    );
    expect(dup.status).toBe(422);
    assertGitHubResponse(`${R}/pulls`, 'post', 422, dup.data);

    const list = await octokit.rest.pulls.list({ owner, repo, state: 'open' });
    assertGitHubResponse(`${R}/pulls`, 'get', 200, list.data);
    expect(list.data.map((p) => p.number)).toEqual([pr.data.number]);

    const got = await octokit.rest.pulls.get({ owner, repo, pull_number: pr.data.number });
    assertGitHubResponse(`${R}/pulls/{pull_number}`, 'get', 200, got.data);
    expect(got.data.mergeable).toBe(true);

    const stale = await failure(octokit.rest.pulls.merge({ owner, repo, pull_number: pr.data.number, sha: first }));
    expect(stale.status).toBe(409);
    assertGitHubResponse(`${R}/pulls/{pull_number}/merge`, 'put', 409, stale.data);

    const baseBefore = gitIn(bare, 'rev-parse', 'refs/heads/main');
    const merged = await octokit.rest.pulls.merge({ owner, repo, pull_number: pr.data.number, sha: head });
    assertGitHubResponse(`${R}/pulls/{pull_number}/merge`, 'put', 200, merged.data);
    expect(gitIn(bare, 'rev-parse', 'refs/heads/main')).toBe(merged.data.sha);
    expect(gitIn(bare, 'rev-list', '--parents', '-n', '1', merged.data.sha).split(' ').slice(1)).toEqual([
      baseBefore,
      head,
    ]);
    expect(gitIn(bare, 'show', `${merged.data.sha}:app.yaml`)).toBe('version: 3');

    const after = await octokit.rest.pulls.get({ owner, repo, pull_number: pr.data.number });
    assertGitHubResponse(`${R}/pulls/{pull_number}`, 'get', 200, after.data);
    expect([after.data.state, after.data.merged, after.data.merge_commit_sha]).toEqual([
      'closed',
      true,
      merged.data.sha,
    ]);
    const twice = await failure(octokit.rest.pulls.merge({ owner, repo, pull_number: pr.data.number }));
    expect(twice.status).toBe(405);
    assertGitHubResponse(`${R}/pulls/{pull_number}/merge`, 'put', 405, twice.data);

    await gh.commitFiles(owner, repo, 'hotfix', { 'b.txt': 'b\n' }, 'hotfix');
    const other = await octokit.rest.pulls.create({
      owner,
      repo,
      base: 'main',
      head: 'hotfix',
      title: 'Hotfix',
    });
    const closed = await octokit.rest.pulls.update({
      owner,
      repo,
      pull_number: other.data.number,
      state: 'closed',
    });
    assertGitHubResponse(`${R}/pulls/{pull_number}`, 'patch', 200, closed.data);
    expect([closed.data.state, closed.data.merged]).toEqual(['closed', false]);
  });

  it('reports check runs and combined status set by the test', async () => {
    const empty = await octokit.rest.checks.listForRef({ owner, repo, ref: first });
    assertGitHubResponse(`${R}/commits/{ref}/check-runs`, 'get', 200, empty.data);
    expect(empty.data.total_count).toBe(0);

    gh.setChecks(first, 'pending');
    gh.setChecks(first, 'failure', { name: 'lint' });
    gh.setChecks(first, 'success', { kind: 'status', name: 'ci/legacy' });
    const runs = await octokit.rest.checks.listForRef({ owner, repo, ref: first });
    assertGitHubResponse(`${R}/commits/{ref}/check-runs`, 'get', 200, runs.data);
    expect(runs.data.check_runs.map((c) => [c.name, c.status, c.conclusion])).toEqual([
      ['ci', 'in_progress', null],
      ['lint', 'completed', 'failure'],
    ]);
    const status = await octokit.rest.repos.getCombinedStatusForRef({ owner, repo, ref: first });
    assertGitHubResponse(`${R}/commits/{ref}/status`, 'get', 200, status.data);
    expect([status.data.state, status.data.total_count]).toEqual(['success', 1]);

    const byBranch = await octokit.rest.repos.getCombinedStatusForRef({ owner, repo, ref: 'feature/x' });
    expect(byBranch.data.sha).toBe(first);
    gh.setChecks(first, 'none');
    expect((await octokit.rest.checks.listForRef({ owner, repo, ref: first })).data.total_count).toBe(0);
  });

  it('serves branches, commit lists and rate limit; 304s with ETag cost no rate limit', async () => {
    const branch = await octokit.rest.repos.getBranch({ owner, repo, branch: 'feature/x' });
    assertGitHubResponse(`${R}/branches/{branch}`, 'get', 200, branch.data);
    expect(branch.data.commit.sha).toBe(first);

    const commits = await octokit.rest.repos.listCommits({ owner, repo, sha: 'qa', per_page: 5 });
    assertGitHubResponse(`${R}/commits`, 'get', 200, commits.data);
    expect(commits.data.map((c) => c.sha)).toEqual([second, first]);

    const limits = await octokit.rest.rateLimit.get();
    assertGitHubResponse('/rate_limit', 'get', 200, limits.data);

    const url = `${gh.url}/repos/${owner}/${repo}/branches/main`;
    const headers = { authorization: `token ${gh.token}` };
    const one = await fetch(url, { headers });
    const etag = one.headers.get('etag')!;
    expect(one.headers.get('x-poll-interval')).toBe('30');
    const remaining = Number(one.headers.get('x-ratelimit-remaining'));
    const before = gh.calls.rateLimited;
    const two = await fetch(url, { headers: { ...headers, 'if-none-match': etag } });
    expect(two.status).toBe(304);
    expect(Number(two.headers.get('x-ratelimit-remaining'))).toBe(remaining);
    expect(gh.calls.rateLimited).toBe(before);

    await gh.commitFiles(owner, repo, 'main', { 'c.txt': 'c\n' }, 'moved');
    const three = await fetch(url, { headers: { ...headers, 'if-none-match': etag } });
    expect(three.status).toBe(200);
    expect(gh.calls.rateLimited).toBe(before + 1);
  });

  it('issues installation tokens to a GitHub App JWT', async () => {
    const jwt = (payload: object) =>
      ['{"alg":"RS256"}', JSON.stringify(payload), 'sig'].map((p) => Buffer.from(p).toString('base64url')).join('.');
    const url = `${gh.url}/app/installations/7/access_tokens`;
    const res = await fetch(url, {
      method: 'POST',
      headers: { authorization: `Bearer ${jwt({ iss: gh.appId })}` },
    });
    const body = await res.json();
    expect(res.status).toBe(201);
    assertGitHubResponse('/app/installations/{installation_id}/access_tokens', 'post', 201, body);
    expect((body as { token: string }).token).toBe(gh.token);
    const other = await fetch(url, {
      method: 'POST',
      headers: { authorization: `Bearer ${jwt({ iss: 'other' })}` },
    });
    expect(other.status).toBe(401);
  });

  it('rejects a wrong token and injects faults on demand', async () => {
    const wrong = new Octokit({ auth: 'nope', baseUrl: gh.url, log: quiet });
    const denied = await failure(wrong.rest.repos.get({ owner, repo }));
    expect(denied.status).toBe(401);

    gh.failNext(2, 502);
    expect((await failure(octokit.rest.repos.get({ owner, repo }))).status).toBe(502);
    expect((await failure(octokit.rest.repos.get({ owner, repo }))).status).toBe(502);
    expect((await octokit.rest.repos.get({ owner, repo })).status).toBe(200);

    gh.failNext(1, 403, { 'retry-after': '7' });
    const limited = await fetch(`${gh.url}/repos/${owner}/${repo}`, {
      headers: { authorization: `token ${gh.token}` },
    });
    expect([limited.status, limited.headers.get('retry-after')]).toEqual([403, '7']);
    expect(((await limited.json()) as { message: string }).message).toMatch(/secondary rate limit/);
  });
});

describe("GitHub fake GraphQL: updateRefs, validated against GitHub's published schema", () => {
  const ZERO = '0'.repeat(40);
  const UPDATE = 'mutation ($input: UpdateRefsInput!) { updateRefs(input: $input) { clientMutationId } }';
  const post = async (body: unknown) => {
    const res = await fetch(`${gh.url}/graphql`, {
      method: 'POST',
      headers: { authorization: `bearer ${gh.token}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as { data?: unknown; errors?: { message: string }[] } };
  };
  const ref = (name: string) => {
    try {
      return gitIn(bare, 'rev-parse', '--verify', '--quiet', name);
    } catch {
      return null;
    }
  };

  it('answers the repository id that REST calls node_id, and refuses what the schema does not have', async () => {
    const rest = await octokit.rest.repos.get({ owner, repo });
    const q = await post({ query: 'query { repository(owner: "acme", name: "shop") { id } }' });
    expect(q).toEqual({ status: 200, body: { data: { repository: { id: rest.data.node_id } } } });
    // As GitHub does: HTTP 200 with `errors` for a query its schema refuses.
    const bad = await post({ query: 'mutation { updateRefs(input: {}) { nope } }' });
    expect(bad.status).toBe(200);
    expect(bad.body.errors?.map((e) => e.message).join('\n')).toMatch(/nope|refUpdates|repositoryId/);
    expect(bad.body.data).toBeUndefined();
    // An older Enterprise Server (no updateRefs in its schema) refuses the mutation at validation.
    gh.options.updateRefs = false;
    try {
      const older = await post({
        query: UPDATE,
        variables: { input: { repositoryId: rest.data.node_id, refUpdates: [] } },
      });
      expect(older.status).toBe(200);
      expect(older.body.data).toBeUndefined();
      expect(older.body.errors?.map((e) => e.message)).toEqual(
        expect.arrayContaining([expect.stringMatching(/UpdateRefsInput/), expect.stringMatching(/updateRefs/)]),
      );
    } finally {
      gh.options.updateRefs = true;
    }
  });

  it('moves several refs at once, each only from the value given, all or none', async () => {
    const repositoryId = (await octokit.rest.repos.get({ owner, repo })).data.node_id;
    const main = ref('refs/heads/main')!;
    const next = await gh.commitFiles(owner, repo, 'gq-next', { 'gq.txt': 'next\n' }, 'next', 'main');
    const tagObject = (
      await octokit.rest.git.createTag({ owner, repo, tag: 'gq/1', message: 'm', object: next, type: 'commit' })
    ).data.sha;
    const both = (before: string) => ({
      repositoryId,
      refUpdates: [
        { name: 'refs/heads/main', beforeOid: before, afterOid: next },
        { name: 'refs/tags/gq/1', beforeOid: ZERO, afterOid: tagObject },
      ],
    });
    // a stale beforeOid on one of them: nothing moves, the tag is not created either
    const stale = await octokit.graphql(UPDATE, { input: both(first) }).catch((e: unknown) => e);
    expect(String((stale as Error).message)).toMatch(/refs\/heads\/main is not at/);
    expect([ref('refs/heads/main'), ref('refs/tags/gq/1')]).toEqual([main, null]);

    expect(await octokit.graphql(UPDATE, { input: both(main) })).toEqual({ updateRefs: { clientMutationId: null } });
    expect([ref('refs/heads/main'), ref('refs/tags/gq/1')]).toEqual([next, tagObject]);

    // an existing ref with beforeOid zero, a non-fast-forward without force, an unknown node
    const again = await octokit.graphql(UPDATE, { input: both(next) }).catch((e: unknown) => e);
    expect(String((again as Error).message)).toMatch(/refs\/tags\/gq\/1 already exists/);
    const back = { repositoryId, refUpdates: [{ name: 'refs/heads/main', beforeOid: next, afterOid: main }] };
    const nonFf = await octokit.graphql(UPDATE, { input: back }).catch((e: unknown) => e);
    expect(String((nonFf as Error).message)).toMatch(/not a fast forward/);
    const nowhere = await octokit
      .graphql(UPDATE, { input: { ...back, repositoryId: 'UmVwb3NpdG9yeTo5OTk5' } })
      .catch((e: unknown) => e);
    expect(String((nowhere as Error).message)).toMatch(/Could not resolve to a node/);
    expect(ref('refs/heads/main')).toBe(next);
    // forced, it goes back
    const forced = { ...back, refUpdates: [{ ...back.refUpdates[0]!, force: true }] };
    await octokit.graphql(UPDATE, { input: forced });
    expect(ref('refs/heads/main')).toBe(main);
  });
});

describe('GitHub fake smart HTTP', () => {
  it('clones and fetches over git http-backend, and accepts an authenticated push', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'gh-fake-clone-'));
    tmp.push(dir);
    const git = simpleGit({ allowEnvironment: ['GIT_CONFIG_GLOBAL', 'GIT_CONFIG_NOSYSTEM'] });
    await git.clone(gh.gitUrl(owner, repo), join(dir, 'work'));
    const work = simpleGit({
      baseDir: join(dir, 'work'),
      allowEnvironment: ['GIT_CONFIG_GLOBAL', 'GIT_CONFIG_NOSYSTEM'],
    });
    expect(await readFile(join(dir, 'work', 'nested/dir/a.txt'), 'utf8')).toBe('a\n');
    expect((await work.revparse(['HEAD'])).trim()).toBe(gitIn(bare, 'rev-parse', 'refs/heads/main'));

    const moved = await gh.commitFiles(owner, repo, 'main', { 'd.txt': 'd\n' }, 'after clone');
    await work.fetch();
    expect((await work.revparse(['origin/main'])).trim()).toBe(moved);

    await work.addConfig('user.name', 'T').addConfig('user.email', 't@example.test');
    await work.checkoutLocalBranch('pushed');
    await work.commit('pushed', ['--allow-empty']);
    const authed = gh.gitUrl(owner, repo).replace('http://', `http://x-access-token:${gh.token}@`);
    await work.push(authed, 'pushed');
    expect(gitIn(bare, 'rev-parse', 'refs/heads/pushed')).toBe((await work.revparse(['HEAD'])).trim());
  });
});
