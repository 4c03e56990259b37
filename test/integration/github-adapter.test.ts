/**
 * GitHubHost against the stateful GitHub fake: reads from a real mirror cloned over the fake's
 * smart HTTP, writes through Octokit (retry + throttling plugins) to real bare repositories.
 */
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { GitMirror } from '../../src/adapters/git-mirror.js';
import { createOctokit, GitHubHost } from '../../src/adapters/github.js';
import { ConflictError, UpstreamError } from '../../src/core/errors.js';
import { type GitHubFake, startGitHubFake } from '../support/github-fake.js';

const owner = 'acme';
const repo = 'shop';
const TOKEN = 'ghs_SECRETTOKEN0123456789';

let gh: GitHubFake;
let bare: string;
let tmp: string;
let host: GitHubHost;
let mirror: GitMirror;
let v1: string;
let v2: string;

const git = (...args: string[]) => execFileSync('git', args, { cwd: bare, encoding: 'utf8' }).trim();
const head = (branch: string) => git('rev-parse', `refs/heads/${branch}`);

function hostWith(options: Parameters<typeof createOctokit>[0] = {}): GitHubHost {
  const octokit = createOctokit({
    token: TOKEN,
    baseUrl: gh.url,
    throttle: false,
    retryAfterBaseValue: 1,
    ...options,
  });
  return new GitHubHost({ octokit, owner, repo, mirror, htmlBaseUrl: gh.url });
}

async function rejection(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => {
      throw new Error('expected a rejection');
    },
    (err: unknown) => err,
  );
}

beforeAll(async () => {
  gh = await startGitHubFake({ token: TOKEN });
  bare = await gh.createRepo(owner, repo);
  v1 = await gh.commitFiles(owner, repo, 'main', { 'app.yaml': 'version: 1\n' }, 'v1');
  v2 = await gh.commitFiles(owner, repo, 'main', { 'app.yaml': 'version: 2\n', 'extra.txt': 'x\n' }, 'v2');
  tmp = await mkdtemp(join(tmpdir(), 'github-adapter-'));
  mirror = new GitMirror({ url: gh.gitUrl(owner, repo), dir: join(tmp, 'mirror.git') });
  const octokit = createOctokit({ token: TOKEN, baseUrl: gh.url, throttle: false, retryAfterBaseValue: 1 });
  host = new GitHubHost({ octokit, owner, repo, mirror, htmlBaseUrl: gh.url });
  await host.sync();
});

afterAll(async () => {
  await gh?.close();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

beforeEach(() => gh.resetCounters());

describe('GitHubHost', () => {
  it('reads from the mirror without calling the API', async () => {
    expect(host.kind).toBe('github');
    expect(await host.branchHead('main')).toBe(v2);
    expect(await host.readFile(v1, 'app.yaml')).toBe('version: 1\n');
    expect((await host.log(v1, v2)).map((c) => c.subject)).toEqual(['v2']);
    expect(await host.isAncestor(v1, v2)).toBe(true);
    expect(gh.calls.total).toBe(0);
    expect(host.compareUrl('qa', 'main')).toBe(`${gh.url}/acme/shop/compare/qa...main`);
  });

  it("creates a commit with another commit's tree and fast-forwards the branch to it", async () => {
    const restore = await host.createCommit({ treeOfSha: v1, parent: v2, message: 'rollback to v1' });
    expect(git('rev-parse', `${restore}^{tree}`)).toBe(git('rev-parse', `${v1}^{tree}`));
    expect(git('rev-parse', `${restore}^`)).toBe(v2);

    await host.updateBranch('main', restore, v2);
    expect(head('main')).toBe(restore);
    await host.sync();
    expect(await host.branchHead('main')).toBe(restore);
    expect(await host.readFile(restore, 'extra.txt')).toBeNull();
    expect((await host.commit(restore)).subject).toBe('rollback to v1');
  });

  it('creates a branch only when absent, and fast-forwards it', async () => {
    await host.updateBranch('qa', v1, null);
    expect(head('qa')).toBe(v1);
    expect(await rejection(host.updateBranch('qa', v2, null))).toBeInstanceOf(ConflictError);
    await host.updateBranch('qa', v2, v1);
    expect(head('qa')).toBe(v2);
    await host.updateBranch('qa', v2, v1); // a retry after the move landed is not an error
    expect(head('qa')).toBe(v2);
  });

  it('refuses to move a branch that moved meanwhile, and never clobbers it', async () => {
    const seen = head('main');
    const ours = await host.createCommit({ treeOfSha: v2, parent: seen, message: 'ours' });
    const theirs = await gh.commitFiles(owner, repo, 'main', { 'theirs.txt': 't\n' }, 'theirs');
    const err = await rejection(host.updateBranch('main', ours, seen));
    expect(err).toBeInstanceOf(ConflictError);
    expect(head('main')).toBe(theirs);

    // a non-fast-forward is refused by GitHub itself (force: false)
    expect(await rejection(host.updateBranch('main', v1, theirs))).toBeInstanceOf(ConflictError);
    expect(head('main')).toBe(theirs);

    // two writers from the same head: exactly one wins
    const a = await host.createCommit({ treeOfSha: v1, parent: theirs, message: 'a' });
    const b = await host.createCommit({ treeOfSha: v2, parent: theirs, message: 'b' });
    const results = await Promise.allSettled([
      host.updateBranch('main', a, theirs),
      host.updateBranch('main', b, theirs),
    ]);
    const won = results.findIndex((r) => r.status === 'fulfilled');
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    const lost = results[1 - won] as PromiseRejectedResult;
    expect(lost.reason).toBeInstanceOf(ConflictError);
    expect(head('main')).toBe([a, b][won]);
  });

  it('creates annotated deploy tags idempotently', async () => {
    const tag = { name: 'prod/2024.01.02.1', sha: v2, message: 'source: v2\noperation: op_12345678' };
    await host.createTag(tag);
    expect(git('cat-file', '-t', 'refs/tags/prod/2024.01.02.1')).toBe('tag');
    expect(git('rev-parse', 'prod/2024.01.02.1^{commit}')).toBe(v2);

    gh.resetCounters();
    await host.createTag(tag);
    expect(gh.requests.filter((r) => r.method !== 'GET')).toEqual([]);
    expect(await rejection(host.createTag({ ...tag, sha: v1 }))).toBeInstanceOf(ConflictError);
    expect(git('rev-parse', 'prod/2024.01.02.1^{commit}')).toBe(v2);

    await host.sync();
    const [read] = await host.tags('prod/');
    expect([read?.name, read?.sha]).toEqual(['prod/2024.01.02.1', v2]);
    expect(read?.message).toContain('operation: op_12345678');
  });

  it('a fresh tag (its name chosen moments ago) is written without looking first; one that exists is still refused', async () => {
    const tag = { name: 'prod/2024.01.03.1', sha: v2, message: 'source: v2\noperation: op_fresh0001', fresh: true };
    await host.createTag(tag);
    expect(gh.requests.map((r) => `${r.method} ${r.path}`)).toEqual([
      `POST /repos/${owner}/${repo}/git/tags`,
      `POST /repos/${owner}/${repo}/git/refs`,
    ]);
    expect(git('rev-parse', 'prod/2024.01.03.1^{commit}')).toBe(v2);
    expect(git('cat-file', '-p', 'refs/tags/prod/2024.01.03.1')).toContain('operation: op_fresh0001');

    // Written again as fresh (the ref exists): the write is refused and the tag looked at, done.
    await host.createTag(tag);
    // On another commit: a conflict, and the tag stays where it was.
    expect(await rejection(host.createTag({ ...tag, sha: v1 }))).toBeInstanceOf(ConflictError);
    expect(git('rev-parse', 'prod/2024.01.03.1^{commit}')).toBe(v2);
  });

  it('moves a branch with its deploy tag in one updateRefs after the tag object: both or neither; the tag step then writes nothing', async () => {
    const seen = head('main');
    const next = await host.createCommit({ treeOfSha: v1, parent: seen, message: 'with its tag' });
    gh.resetCounters();
    const tag = { name: 'qa/2024.02.01.1', message: 'Deploy\n\nOperation: op_withtag01\n' };
    await host.updateBranchWithTag('main', next, seen, tag);
    expect(head('main')).toBe(next);
    expect(git('cat-file', '-t', `refs/tags/${tag.name}`)).toBe('tag');
    expect(git('rev-parse', `${tag.name}^{commit}`)).toBe(next);
    const writes = () =>
      gh.requests.filter((r) => r.method !== 'GET').map((r) => `${r.method} ${decodeURIComponent(r.path)}`);
    // Two round trips in a row: the tag object, then both refs at once.
    expect(writes()).toEqual([`POST /repos/${owner}/${repo}/git/tags`, 'POST /graphql']);

    gh.resetCounters();
    await host.createTag({ name: tag.name, sha: next, message: tag.message, fresh: true });
    expect(gh.requests).toEqual([]);
  });

  it('without updateRefs (an older Enterprise Server): the same branch and tag over REST, the tag ref after the branch', async () => {
    gh.options.updateRefs = false;
    try {
      const older = hostWith();
      const seen = head('main');
      const next = await older.createCommit({ treeOfSha: v2, parent: seen, message: 'with its tag, over REST' });
      gh.resetCounters();
      const tag = { name: 'qa/2024.02.01.2', message: 'Deploy\n\nOperation: op_withtag04\n' };
      await older.updateBranchWithTag('main', next, seen, tag);
      expect(head('main')).toBe(next);
      expect(git('rev-parse', `${tag.name}^{commit}`)).toBe(next);
      const writes = () =>
        gh.requests.filter((r) => r.method !== 'GET').map((r) => `${r.method} ${decodeURIComponent(r.path)}`);
      expect(
        writes()
          .filter((w) => w !== 'POST /graphql')
          .sort(),
      ).toEqual([
        `PATCH /repos/${owner}/${repo}/git/refs/heads/main`,
        `POST /repos/${owner}/${repo}/git/refs`,
        `POST /repos/${owner}/${repo}/git/tags`,
      ]);
      expect(writes().indexOf(`POST /repos/${owner}/${repo}/git/refs`)).toBeGreaterThan(
        writes().indexOf(`PATCH /repos/${owner}/${repo}/git/refs/heads/main`),
      );
      // Asked once: the host remembers that this GitHub has no updateRefs.
      gh.resetCounters();
      const again = await older.createCommit({ treeOfSha: v1, parent: next, message: 'again, over REST' });
      await older.updateBranch('main', again, next);
      expect(head('main')).toBe(again);
      expect(writes()).not.toContain('POST /graphql');
      // And it still refuses a branch that moved meanwhile.
      const theirs = await gh.commitFiles(owner, repo, 'main', { 'theirs-rest.txt': 't\n' }, 'theirs');
      const ours = await older.createCommit({ treeOfSha: v2, parent: again, message: 'ours' });
      expect(await rejection(older.updateBranch('main', ours, again))).toBeInstanceOf(ConflictError);
      expect(head('main')).toBe(theirs);
    } finally {
      gh.options.updateRefs = true;
    }
  });

  it('with no GraphQL endpoint at all (404, a proxy in front): the branch moves over REST, and GraphQL is not asked again', async () => {
    const proxied = hostWith();
    gh.failNext(1, 404, {}, 'Not Found', { method: 'POST', path: /^\/graphql$/ });
    const seen = head('main');
    const next = await proxied.createCommit({ treeOfSha: v2, parent: seen, message: 'behind a proxy' });
    gh.resetCounters();
    await proxied.updateBranch('main', next, seen);
    expect(head('main')).toBe(next);
    const asked = () => gh.requests.map((r) => `${r.method} ${decodeURIComponent(r.path)} ${r.status}`);
    expect(asked()).toEqual([
      `GET /repos/${owner}/${repo} 200`, // the repository's node id, asked once
      'POST /graphql 404',
      `GET /repos/${owner}/${repo}/git/ref/heads/main 200`,
      `PATCH /repos/${owner}/${repo}/git/refs/heads/main 200`,
    ]);
    gh.resetCounters();
    const again = await proxied.createCommit({ treeOfSha: v1, parent: next, message: 'again' });
    await proxied.updateBranch('main', again, next);
    expect(asked().some((r) => r.includes('/graphql'))).toBe(false);
  });

  it('a lost answer to updateRefs (applied, then a 502): the retry is refused, the host finds its own tag and is done', async () => {
    const seen = head('main');
    const next = await host.createCommit({ treeOfSha: v2, parent: seen, message: 'answer lost' });
    gh.loseNextAnswer(1, 502, { method: 'POST', path: /^\/graphql$/ });
    gh.resetCounters();
    const tag = { name: 'qa/2024.02.04.1', message: 'Deploy\n\nOperation: op_lostanswer1\n' };
    await host.updateBranchWithTag('main', next, seen, tag);
    expect(head('main')).toBe(next);
    expect(git('rev-parse', `${tag.name}^{commit}`)).toBe(next);
    const posts = gh.requests.filter((r) => r.path === '/graphql').map((r) => r.status);
    expect(posts).toEqual([502, 200]); // applied and lost; the retry refused (its refs moved already)
    gh.resetCounters();
    await host.createTag({ name: tag.name, sha: next, message: tag.message, fresh: true });
    expect(gh.requests).toEqual([]); // the tag step writes nothing: it was written with the branch
  });

  it('a lost answer, and someone pushes on top before the host looks: still done, not "nothing was changed", one tag', async () => {
    const seen = head('main');
    const next = await host.createCommit({ treeOfSha: v1, parent: seen, message: 'answer lost, then a push' });
    let theirs = '';
    gh.loseNextAnswer(1, 502, { method: 'POST', path: /^\/graphql$/ }, async () => {
      theirs = await gh.commitFiles(owner, repo, 'main', { 'on-top.txt': 'x\n' }, 'on top of ours');
    });
    const tag = { name: 'qa/2024.02.04.2', message: 'Deploy\n\nOperation: op_lostanswer2\n' };
    await host.updateBranchWithTag('main', next, seen, tag);
    expect(head('main')).toBe(theirs);
    expect(git('rev-parse', `${theirs}~1`)).toBe(next); // theirs is on top of ours
    expect(git('tag', '--list', 'qa/2024.02.04.*', '--points-at', next)).toBe(tag.name);
    gh.resetCounters();
    await host.createTag({ name: tag.name, sha: next, message: tag.message, fresh: true });
    expect(gh.requests).toEqual([]);
  });

  it('someone else moved the branch to this very commit (a stale plan): refused, "already runs", no tag of ours left on their move', async () => {
    const seen = head('main');
    const next = await host.createCommit({ treeOfSha: v1, parent: seen, message: 'theirs and ours' });
    git('update-ref', 'refs/heads/main', next, seen); // another serve's promotion (or a hand) got there first
    const tag = { name: 'qa/2024.02.04.3', message: 'Deploy\n\nOperation: op_stale00001\n' };
    const err = await rejection(host.updateBranchWithTag('main', next, seen, tag));
    expect(err).toBeInstanceOf(ConflictError);
    expect(String((err as Error).message)).toMatch(
      /^main already runs [0-9a-f]{8}: it was moved there meanwhile by someone else/,
    );
    expect(head('main')).toBe(next);
    expect(git('tag', '--list', tag.name)).toBe('');
  });

  it("maps GitHub's GraphQL refusals as it maps REST's: FORBIDDEN is the token's permissions (the operation waits), a replaced repository is asked again", async () => {
    const seen = head('main');
    const next = await host.createCommit({ treeOfSha: v2, parent: seen, message: 'refused' });
    gh.graphqlErrorsNext(1, [{ type: 'FORBIDDEN', message: 'Resource not accessible by integration' }]);
    const err = await rejection(host.updateBranch('main', next, seen));
    expect(err).toBeInstanceOf(UpstreamError);
    expect(String((err as Error).message)).toMatch(
      /^update main in acme\/shop: refused by GitHub: check the token's permissions \(Resource not accessible by integration\)$/,
    );
    expect(String((err as Error).message)).not.toContain(TOKEN);
    expect(head('main')).toBe(seen);

    // The repository deleted and made again under the same name: its node id is read again.
    gh.graphqlErrorsNext(1, [{ type: 'NOT_FOUND', message: "Could not resolve to a node with the global id of 'X'" }]);
    gh.resetCounters();
    await host.updateBranch('main', next, seen);
    expect(head('main')).toBe(next);
    expect(gh.requests.map((r) => `${r.method} ${r.path}`)).toEqual([
      'POST /graphql',
      `GET /repos/${owner}/${repo}`,
      'POST /graphql',
    ]);
  });

  it('with its deploy tag, still refuses a branch that moved meanwhile: theirs kept, no tag named', async () => {
    const seen = head('main');
    const ours = await host.createCommit({ treeOfSha: v1, parent: seen, message: 'ours, with a tag' });
    const theirs = await gh.commitFiles(owner, repo, 'main', { 'theirs-2.txt': 't\n' }, 'theirs, fast-forward');
    const tag = { name: 'qa/2024.02.02.1', message: 'Deploy\n\nOperation: op_withtag02\n' };
    const err = await rejection(host.updateBranchWithTag('main', ours, seen, tag));
    expect(err).toBeInstanceOf(ConflictError);
    expect(String((err as Error).message)).toMatch(/moved from .* while we worked; nothing was changed/);
    expect(head('main')).toBe(theirs);
    expect(git('tag', '--list', 'qa/2024.02.02.*')).toBe('');
    expect(gh.requests.some((r) => r.method === 'PATCH' || r.path.endsWith('/git/refs'))).toBe(false);
  });

  it('with its deploy tag whose name someone took meanwhile: the branch moves, the tag step reports the name taken', async () => {
    const seen = head('main');
    const next = await host.createCommit({ treeOfSha: v2, parent: seen, message: 'next, tag name taken' });
    const name = 'qa/2024.02.03.1';
    await host.createTag({ name, sha: seen, message: 'theirs', fresh: true }); // someone else's, on another commit
    await host.updateBranchWithTag('main', next, seen, { name, message: 'Deploy\n\nOperation: op_withtag03\n' });
    expect(head('main')).toBe(next);
    expect(git('rev-parse', `${name}^{commit}`)).toBe(seen);
    const err = await rejection(host.createTag({ name, sha: next, message: 'Deploy', fresh: true }));
    expect(err).toBeInstanceOf(ConflictError);
    expect(String((err as Error).message)).toMatch(/was created on .* by someone else/);
  });

  it('opens a pull request, merges it with the head check, and the base branch moves', async () => {
    const release = await gh.commitFiles(owner, repo, 'release', { 'app.yaml': 'version: 3\n' }, 'v3');
    const pr = await host.openPullRequest({
      base: 'main',
      head: 'release',
      title: 'Promote v3',
      body: 'by conveyor',
    });
    expect(pr).toMatchObject({
      state: 'open',
      headSha: release,
      url: `${gh.url}/acme/shop/pull/${pr.number}`,
    });
    expect((await host.openPullRequest({ base: 'main', head: 'release', title: 'again', body: '' })).number).toBe(
      pr.number,
    );

    expect(await rejection(host.mergePullRequest(pr.number, v1, 'merge'))).toBeInstanceOf(ConflictError);
    expect((await host.getPullRequest(pr.number)).state).toBe('open');

    const baseBefore = head('main');
    const merged = await host.mergePullRequest(pr.number, release, 'Promote v3 to prod\n\noperation op_1');
    expect(merged).toMatchObject({ number: pr.number, state: 'merged', headSha: release });
    expect(head('main')).toBe(merged.mergeSha);
    expect(git('log', '-1', '--format=%B', merged.mergeSha!)).toBe('Promote v3 to prod\n\noperation op_1');
    expect(git('rev-list', '--parents', '-n', '1', merged.mergeSha!).split(' ').slice(1)).toEqual([
      baseBefore,
      release,
    ]);
    expect(await host.getPullRequest(pr.number)).toMatchObject({
      state: 'merged',
      mergeSha: merged.mergeSha,
    });
    expect(await host.mergePullRequest(pr.number, release, 'again')).toMatchObject({ state: 'merged' });

    await host.sync();
    expect(await host.branchHead('main')).toBe(merged.mergeSha);
    expect(await host.readFile(merged.mergeSha!, 'app.yaml')).toBe('version: 3\n');
  });

  it('reports a closed pull request, which cannot be merged', async () => {
    const sha = await gh.commitFiles(owner, repo, 'hotfix', { 'fix.txt': 'f\n' }, 'fix');
    const pr = await host.openPullRequest({ base: 'main', head: 'hotfix', title: 'Hotfix', body: '' });
    const octokit = createOctokit({ token: TOKEN, baseUrl: gh.url, throttle: false });
    await octokit.rest.pulls.update({ owner, repo, pull_number: pr.number, state: 'closed' });
    expect(await host.getPullRequest(pr.number)).toMatchObject({ state: 'closed', headSha: sha });
    expect(await rejection(host.mergePullRequest(pr.number, sha, 'merge'))).toBeInstanceOf(ConflictError);
  });

  it('combines check runs and commit statuses', async () => {
    const sha = await gh.commitFiles(owner, repo, 'ci', { 'ci.txt': '1\n' }, 'ci');
    expect(await host.checks(sha)).toBe('none');
    gh.setChecks(sha, 'pending');
    expect(await host.checks(sha)).toBe('pending');
    gh.setChecks(sha, 'success');
    expect(await host.checks(sha)).toBe('success');
    gh.setChecks(sha, 'pending', { kind: 'status', name: 'legacy' });
    expect(await host.checks(sha)).toBe('pending');
    gh.setChecks(sha, 'failure', { kind: 'status', name: 'legacy' });
    expect(await host.checks(sha)).toBe('failure');
    gh.setChecks(sha, 'none');
    gh.setChecks(sha, 'success', { kind: 'status' });
    expect(await host.checks(sha)).toBe('success');
  });

  it('retries server errors and succeeds', async () => {
    gh.failNext(2, 500);
    const sha = await host.createCommit({ treeOfSha: v1, parent: v2, message: 'after 500s' });
    expect(git('cat-file', '-t', sha)).toBe('commit');
    expect(gh.requests.map((r) => r.status)).toEqual([500, 500, 201]);
  });

  it('reports a GitHub that stays down as an UpstreamError without the token', async () => {
    gh.failNext(4, 502); // the first try and three retries
    const err = await rejection(host.getPullRequest(1));
    expect(err).toBeInstanceOf(UpstreamError);
    expect((err as UpstreamError).system).toBe('github');
    expect((err as Error).message).toMatch(/502/);

    const denied = await rejection(hostWith({ token: `${TOKEN}-wrong` }).checks(v1));
    expect(denied).toBeInstanceOf(UpstreamError);
    expect((denied as Error).message).toMatch(/credentials/);
    for (const e of [err, denied]) expect(inspect(e, { depth: 12 })).not.toContain(TOKEN);
  });

  it('honours a secondary rate limit (Retry-After) and then succeeds', async () => {
    const sha = await gh.commitFiles(owner, repo, 'ci', { 'ci.txt': '2\n' }, 'ci2');
    gh.setChecks(sha, 'success');
    gh.failNext(1, 403, { 'retry-after': '1' });
    expect(await hostWith({ throttle: true }).checks(sha)).toBe('success');
    expect(gh.requests.filter((r) => r.status === 403)).toHaveLength(1);

    gh.failNext(1, 403, { 'retry-after': '1' });
    const err = await rejection(hostWith({ throttle: false }).checks(sha));
    expect(err).toBeInstanceOf(UpstreamError);
    expect((err as Error).message).toMatch(/rate limited/);
  });

  it('says GitHub is unreachable when nothing answers', async () => {
    const err = await rejection(hostWith({ baseUrl: 'http://127.0.0.1:1', retries: 0 }).getPullRequest(1));
    expect(err).toBeInstanceOf(UpstreamError);
    expect((err as Error).message).toMatch(/unreachable/);
  });

  it('authenticates as a GitHub App installation', async () => {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const pem = privateKey.export({ type: 'pkcs1', format: 'pem' }).toString();
    const app = hostWith({ token: undefined, appId: gh.appId, privateKey: pem, installationId: 42 });
    expect(await app.checks(v1)).toBe('none');
    expect(gh.installations).toEqual(['42']);
  });
});
