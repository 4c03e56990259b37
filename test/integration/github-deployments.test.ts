/**
 * GitHub deployments through real promotions: the runtime's GitHubHost (Octokit) over the
 * stateful GitHub fake, with `git.github.deployments` configured. Every deployment, deployment
 * status and commit status request Conveyor sends is checked against the request body schema in
 * @octokit/openapi, and every answer the fake gives against the documented response.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Octokit } from '@octokit/rest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GitMirror } from '../../src/adapters/git-mirror.js';
import { createOctokit, GitHubHost } from '../../src/adapters/github.js';
import { commitStatusesOf, deploymentsOf } from '../support/github-fake/deployments.js';
import { pullRequestComments } from '../support/github-fake/issue-comments.js';
import { type GitHubFake, startGitHubFake } from '../support/github-fake.js';
import { type SeededRepo, seedGitHubRepo } from '../support/github-repo-seed.js';
import { assertGitHubResponse, checkGitHubRequest } from '../support/openapi-check.js';
import { makeRuntime, type TestRuntime } from '../support/runtime.js';

const OWNER = 'acme';
const TOKEN = 'ghs_DEPLOYTOKEN0123456789';
const DEPLOY_PATHS = [
  '/repos/{owner}/{repo}/issues/{issue_number}/comments',
  '/repos/{owner}/{repo}/issues/comments/{comment_id}',
  '/repos/{owner}/{repo}/deployments',
  '/repos/{owner}/{repo}/deployments/{deployment_id}/statuses',
  '/repos/{owner}/{repo}/statuses/{sha}',
];

let gh: GitHubFake;
let octokit: Octokit;
let t: TestRuntime;
let tmp: string;
let seeded: SeededRepo;
/** Every deployment-related request Conveyor sent, with the fake's answer. */
const exchanges: { method: string; url: string; body: Record<string, unknown>; status: number; data: unknown }[] = [];

/** Run a command, then wait for the GitHub observers (they write in the background). */
async function run(text: string, user?: string) {
  const reply = await t.run(text, user);
  await t.runtime.notifier?.flush?.();
  return reply;
}

const states = (env: string) => deploymentsOf(gh, OWNER, 'api').filter((d) => d.environment === env);

beforeAll(async () => {
  gh = await startGitHubFake({ token: TOKEN });
  tmp = await mkdtemp(join(tmpdir(), 'github-deployments-'));
  octokit = createOctokit({ token: TOKEN, baseUrl: gh.url, throttle: false, retries: 0, retryAfterBaseValue: 1 });
  octokit.hook.wrap('request', async (request, options) => {
    const response = await request(options);
    const o = options as unknown as Record<string, unknown> & { method: string; url: string };
    if (DEPLOY_PATHS.includes(o.url) && o.method !== 'GET') {
      const { method, url, headers: _h, baseUrl: _b, mediaType: _m, request: _r, owner: _o, repo: _p, ...rest } = o;
      const { deployment_id: _d, sha: _s, issue_number: _i, comment_id: _c, ...body } = rest;
      exchanges.push({ method, url, body, status: response.status, data: response.data });
    }
    return response;
  });
  const mirror = new GitMirror({ url: gh.gitUrl(OWNER, 'api'), dir: join(tmp, 'mirrors', 'api.git') });
  t = await makeRuntime({
    edit: (config) => {
      config.git = { ...(config.git ?? {}), github: { deployments: {}, pullRequestComments: {} } };
    },
    extra: {
      gitHosts: new Map([['api', new GitHubHost({ octokit, owner: OWNER, repo: 'api', mirror, htmlBaseUrl: gh.url })]]),
    },
  });
  seeded = await seedGitHubRepo(gh, OWNER, 'api');
});

afterAll(async () => {
  await t?.close();
  await gh?.close();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

describe('GitHub deployments', () => {
  it('an ungated promotion is one deployment of the promoted commit: queued, in progress, success, and a commit status', async () => {
    const reply = await run('promote api qa');
    expect(reply.operation?.state, reply.text).toBe('succeeded');
    const id = reply.operation!.id;
    const sha = seeded.heads.develop;
    expect(await gh.refSha(OWNER, 'api', 'qa')).toBe(sha);

    const [d, ...more] = states('qa');
    expect(more).toHaveLength(0);
    expect(d).toMatchObject({ sha, ref: sha, task: 'deploy', environment: 'qa' });
    expect(d!.payload).toMatchObject({
      operation: id,
      kind: 'promote',
      requester: 'U_DEMO',
      approvers: [],
      commit: sha,
    });
    expect(d!.statuses.map((s) => s.state)).toEqual(['queued', 'in_progress', 'success']);
    expect(d!.statuses.at(-1)!.description).toBe('api is live in qa');
    // No board configured: no links, rather than made-up ones.
    expect(d!.statuses.every((s) => s.environmentUrl === '' && s.logUrl === '')).toBe(true);
    expect(commitStatusesOf(gh, OWNER, 'api')).toEqual([
      expect.objectContaining({ sha, state: 'success', context: 'conveyor/qa', description: `deployed to qa (${id})` }),
    ]);
    // GitHub's own view of the commit now names the environment it reached.
    const combined = await octokit.rest.repos.getCombinedStatusForRef({ owner: OWNER, repo: 'api', ref: sha });
    expect(combined.data.statuses.map((s) => s.context)).toContain('conveyor/qa');
  });

  it('a gated promotion creates nothing while it waits, then records who approved', async () => {
    const asked = await run('promote api staging');
    expect(asked.operation?.state).toBe('awaiting-approval');
    expect(states('staging')).toHaveLength(0);

    const approved = await run(`approve ${asked.operation!.id}`, 'U_QA');
    expect(approved.operation?.state, approved.text).toBe('succeeded');
    const [d] = states('staging');
    expect(d!.payload).toMatchObject({
      operation: asked.operation!.id,
      approvers: [{ user: 'U_QA', role: 'qa-lead' }],
    });
    expect(d!.statuses.map((s) => s.state)).toEqual(['queued', 'in_progress', 'success']);
  });

  it('a rejected request leaves no deployment behind', async () => {
    await gh.commitFiles(OWNER, 'api', 'develop', { 'src/feature.ts': 'export const f = 1;\n' }, 'A feature');
    await run('promote api qa');
    const asked = await run('promote api staging');
    const before = states('staging').length;
    expect((await run(`reject ${asked.operation!.id} not today`, 'U_QA')).operation?.state).toBe('rejected');
    expect(states('staging')).toHaveLength(before);
  });

  it("a newer success marks the environment's previous deployment inactive (auto_inactive)", async () => {
    const qa = states('qa');
    expect(qa).toHaveLength(2); // the first promotion and the one in the test before
    expect(qa[0]!.statuses.map((s) => s.state)).toEqual(['queued', 'in_progress', 'success', 'inactive']);
    expect(qa[1]!.statuses.at(-1)!.state).toBe('success');
    expect(qa[1]!.sha).toBe(await gh.refSha(OWNER, 'api', 'qa'));
  });

  it('links each status to the operation page once board.url is configured', async () => {
    (t.runtime.config as { board?: { url: string } }).board = { url: 'https://conveyor.example.com/' };
    try {
      await gh.commitFiles(OWNER, 'api', 'develop', { 'src/other.ts': 'export const o = 2;\n' }, 'Another');
      const id = (await run('promote api qa')).operation!.id;
      const d = states('qa').at(-1)!;
      expect(d.statuses.at(-1)).toMatchObject({
        state: 'success',
        environmentUrl: `https://conveyor.example.com/ops/${id}`,
        logUrl: `https://conveyor.example.com/ops/${id}`,
      });
      expect(commitStatusesOf(gh, OWNER, 'api').at(-1)!.targetUrl).toBe(`https://conveyor.example.com/ops/${id}`);
    } finally {
      delete (t.runtime.config as { board?: unknown }).board;
    }
  });

  it('a deployment GitHub refuses is counted and tried again at the next transition; the promotion still succeeds', async () => {
    const failures = async () =>
      (await t.runtime.metrics.registry.metrics())
        .split('\n')
        .filter((l) => l.startsWith('conveyor_notification_failures_total{'));
    expect(await failures()).toEqual([]);
    // The fake refuses the creation of this operation's deployment (and nothing else).
    gh.failNext(1, 422, {}, 'Validation Failed', { method: 'POST', path: /^\/repos\/[^/]+\/[^/]+\/deployments$/ });
    await gh.commitFiles(OWNER, 'api', 'develop', { 'src/third.ts': 'export const t = 3;\n' }, 'Third');
    const before = states('qa').length;
    const reply = await run('promote api qa');
    expect(reply.operation?.state, reply.text).toBe('succeeded');
    expect(await failures()).toEqual(['conveyor_notification_failures_total{sink="github-deployments",env="qa"} 1']);
    const d = states('qa');
    expect(d).toHaveLength(before + 1);
    // Created at the next state instead: the queued status is missing, the rest is there.
    expect(d.at(-1)!.payload).toMatchObject({ operation: reply.operation!.id });
    expect(d.at(-1)!.statuses.map((s) => s.state)).toEqual(['in_progress', 'success']);
  });

  it('a promotion through a pull request keeps one comment on it, edited as it moves', async () => {
    const asked = await run('promote api prod');
    expect(asked.operation?.state, asked.text).toBe('awaiting-approval');
    const id = asked.operation!.id;
    const number = (await t.runtime.store.operation(id)).progress.prNumber!;
    let [comment, ...others] = pullRequestComments(gh, OWNER, 'api', number);
    expect(others).toHaveLength(0);
    expect(comment!.body).toContain(`<!-- conveyor:operation=${id} -->`);
    expect(comment!.body).toContain('- **State:** waiting for approval');
    expect(comment!.body).toMatch(/\*\*Approval \(tech-lead\):\*\* 0\/1; waiting for U_LEAD/);

    expect((await run(`approve ${id}`, 'U_LEAD')).operation?.state).toBe('awaiting-approval');
    const done = await run(`approve ${id}`, 'U_PO');
    expect(done.operation?.state, done.text).toBe('succeeded');
    [comment, ...others] = pullRequestComments(gh, OWNER, 'api', number);
    expect(others).toHaveLength(0); // edited in place, never a second comment
    expect(comment!.edits.length).toBeGreaterThan(0);
    expect(comment!.body).toContain('- **State:** succeeded');
    expect(comment!.body).toMatch(/\*\*Approval \(tech-lead\):\*\* 1\/1 by U_LEAD/);
    expect(comment!.body).toMatch(/\*\*Approval \(product-owner\):\*\* 1\/1 by U_PO/);
    // The prod deployment records both approvers.
    expect(states('prod').at(-1)!.payload).toMatchObject({
      operation: id,
      approvers: [
        { user: 'U_LEAD', role: 'tech-lead' },
        { user: 'U_PO', role: 'product-owner' },
      ],
    });
  });

  it('every request matches GitHub’s request schema and every answer its response schema', async () => {
    expect(exchanges.length).toBeGreaterThan(10);
    for (const x of exchanges) {
      expect(checkGitHubRequest(x.url, x.method, x.body), `${x.method} ${x.url}`).toEqual([]);
      assertGitHubResponse(x.url, x.method, x.status, x.data);
    }
    const list = await octokit.rest.repos.listDeployments({ owner: OWNER, repo: 'api', environment: 'qa' });
    assertGitHubResponse('/repos/{owner}/{repo}/deployments', 'get', 200, list.data);
    const statuses = await octokit.rest.repos.listDeploymentStatuses({
      owner: OWNER,
      repo: 'api',
      deployment_id: list.data[0]!.id,
    });
    assertGitHubResponse('/repos/{owner}/{repo}/deployments/{deployment_id}/statuses', 'get', 200, statuses.data);
    // The newest deployment (the one whose creation was refused once), its statuses newest first.
    expect(statuses.data.map((s) => s.state)).toEqual(['success', 'in_progress']);
  });
});
