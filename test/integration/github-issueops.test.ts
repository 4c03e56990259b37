/**
 * IssueOps end to end: `conveyor serve` (startServer) with its real Bolt app on the Slack fake,
 * the app `api` on the GitHub fake (Octokit, a mirror over smart HTTP), `git.github.users`
 * mapping logins to Slack users, and `/conveyor approve|reject` comments delivered as signed
 * `issue_comment` webhooks (the real example payload from @octokit/webhooks-examples) to
 * `POST /github/webhooks`. The authorisation matrix: an unmapped login, a mapped person who is
 * no approver, the requester, a forged signature, an eligible approver, the quorum of two roles,
 * a duplicate delivery, a finished operation, a rejection, an unrelated pull request, an edit.
 * Every reaction and reply Conveyor sends to GitHub is checked against @octokit/openapi.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Octokit } from '@octokit/rest';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { parse, stringify } from 'yaml';
import { GitMirror } from '../../src/adapters/git-mirror.js';
import { createOctokit, GitHubHost } from '../../src/adapters/github.js';
import { ensureSandbox } from '../../src/sandbox/sandbox.js';
import { type RunningServer, startServer } from '../../src/server/serve.js';
import { issueCommentPayload, signDelivery } from '../support/github-fake/comment-webhooks.js';
import { addPersonComment, type FakeComment, pullRequestComments } from '../support/github-fake/issue-comments.js';
import { type GitHubFake, startGitHubFake } from '../support/github-fake.js';
import { seedGitHubRepo } from '../support/github-repo-seed.js';
import { assertGitHubResponse, checkGitHubRequest } from '../support/openapi-check.js';
import type { SlackDriver } from '../support/slack-driver.js';
import { SlackDriver as Driver } from '../support/slack-driver.js';
import { captureLog } from '../support/slack-e2e-setup.js';
import { SlackFake } from '../support/slack-fake.js';

const OWNER = 'acme';
const TOKEN = 'ghs_ISSUEOPSTOKEN0123456789';
const HOOK_SECRET = 'issueops-webhook-secret';
const SLACK_SECRET = 'issueops-signing-secret';
const DEPLOYS = 'C0DEPLOY1';
/** GitHub login → Slack user, as `git.github.users` says. */
const USERS = { 'dara-dev': 'U_DEMO', 'Lee-Lead': 'U_LEAD', 'pat-po': 'U_PO', 'quinn-qa': 'U_QA' };
const ANSWER_PATHS = [
  '/repos/{owner}/{repo}/issues/{issue_number}/comments',
  '/repos/{owner}/{repo}/issues/comments/{comment_id}',
  '/repos/{owner}/{repo}/issues/comments/{comment_id}/reactions',
];

let gh: GitHubFake;
let slack: SlackFake;
let server: RunningServer;
let driver: SlackDriver;
let octokit: Octokit;
let root: string;
let configFile: string;
const exchanges: { method: string; url: string; body: Record<string, unknown>; status: number; data: unknown }[] = [];

async function deliver(payload: unknown, options: { secret?: string; delivery?: string } = {}) {
  const body = JSON.stringify(payload);
  const res = await fetch(`http://127.0.0.1:${server.port}/github/webhooks`, {
    method: 'POST',
    headers: signDelivery(body, options.secret ?? HOOK_SECRET, 'issue_comment', options.delivery),
    body,
  });
  await server.runtime.notifier?.flush?.();
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** A person comments on a pull request; the signed webhook is delivered. */
async function comment(number: number, login: string, text: string, options: { secret?: string } = {}) {
  const c = addPersonComment(gh, OWNER, 'api', number, login, text);
  const res = await deliver(issueCommentPayload(gh, OWNER, 'api', c), options);
  return { c, res };
}

/** Conveyor's one-line replies on a pull request (its comments that are no operation comment). */
const replies = (number: number) =>
  pullRequestComments(gh, OWNER, 'api', number).filter((c) => !c.login && !c.body.startsWith('<!-- conveyor:'));
const operationComment = (number: number) =>
  pullRequestComments(gh, OWNER, 'api', number).find((c) => c.body.startsWith('<!-- conveyor:operation='))!;
const reactions = (c: FakeComment) => c.reactions.map((r) => r.content);

/** `promote api prod` typed in Slack by U_DEMO; returns the operation and its pull request. */
async function promoteProd(trigger: string): Promise<{ id: string; pr: number; ts: string }> {
  const before = slack.messagesIn(DEPLOYS).length;
  const res = await driver.slashCommand({
    text: 'promote api prod',
    user: 'U_DEMO',
    channel: DEPLOYS,
    triggerId: trigger,
  });
  expect(res.status).toBe(200);
  await vi.waitFor(() => expect(slack.messagesIn(DEPLOYS).length).toBe(before + 1), { timeout: 20_000 });
  const msg = slack.messagesIn(DEPLOYS).at(-1)!;
  const [op] = await server.runtime.store.operations({ app: 'api', env: 'prod', limit: 1 });
  expect(op?.state).toBe('awaiting-approval');
  await server.runtime.notifier?.flush?.();
  return { id: op!.id, pr: (op!.progress as { prNumber: number }).prNumber, ts: msg.ts };
}

beforeAll(async () => {
  gh = await startGitHubFake({ token: TOKEN });
  await seedGitHubRepo(gh, OWNER, 'api');
  slack = await SlackFake.start();
  root = mkdtempSync(join(tmpdir(), 'conveyor-issueops-'));
  const sandbox = await ensureSandbox(root);
  const raw = parse(readFileSync(sandbox.configFile, 'utf8')) as Record<string, Record<string, unknown>>;
  // A state folder (not memory): the restart test starts serve again on the same store.
  raw.state = { url: 'pglite:issueops-state' };
  raw.git = { ...raw.git, github: { pullRequestComments: {}, users: USERS } };
  configFile = join(sandbox.dir, 'issueops.yaml');
  writeFileSync(configFile, stringify(raw));

  octokit = createOctokit({ token: TOKEN, baseUrl: gh.url, throttle: false, retries: 0, retryAfterBaseValue: 1 });
  octokit.hook.wrap('request', async (request, options) => {
    const response = await request(options);
    const o = options as unknown as Record<string, unknown> & { method: string; url: string };
    if (ANSWER_PATHS.includes(o.url) && o.method !== 'GET') {
      const { method, url, headers: _h, baseUrl: _b, mediaType: _m, request: _r, owner: _o, repo: _p, ...rest } = o;
      const { issue_number: _i, comment_id: _c, ...body } = rest;
      exchanges.push({ method, url, body, status: response.status, data: response.data });
    }
    return response;
  });
  await startServe();
}, 60_000);

/** `conveyor serve` on the configuration, with the app `api` on the GitHub fake. */
async function startServe(): Promise<void> {
  const mirror = new GitMirror({ url: gh.gitUrl(OWNER, 'api'), dir: join(root, 'mirror-api.git') });
  const host = new GitHubHost({ octokit, owner: OWNER, repo: 'api', mirror, htmlBaseUrl: gh.url });
  server = await startServer({
    cwd: root,
    configFile,
    port: 0,
    host: '127.0.0.1',
    out: () => {},
    log: captureLog().log,
    env: {
      SLACK_BOT_TOKEN: slack.token,
      SLACK_SIGNING_SECRET: SLACK_SECRET,
      SLACK_API_URL: slack.apiUrl,
      GITHUB_WEBHOOK_SECRET: HOOK_SECRET,
    },
    compose: { gitHosts: new Map([['api', host]]) },
  });
  driver = new Driver({ url: `http://127.0.0.1:${server.port}/slack/events`, signingSecret: SLACK_SECRET });
}

afterAll(async () => {
  await server?.stop();
  await slack?.close();
  await gh?.close();
  if (root) rmSync(root, { recursive: true, force: true });
});

describe('IssueOps: /conveyor approve and reject as pull request comments', () => {
  let first: { id: string; pr: number; ts: string };
  let strangerComment: FakeComment;
  const approvals = async (id: string) => (await server.runtime.store.approvals(id)).map((a) => a.userId);

  it('a comment by a login not in git.github.users counts for nothing and is answered on the pull request', async () => {
    first = await promoteProd('tr.issueops.1');
    expect(JSON.stringify(slack.message(DEPLOYS, first.ts)!.blocks)).toContain('*tech-lead*: waiting: <@U_LEAD>');
    const { c, res } = await comment(first.pr, 'stranger', '/conveyor approve');
    strangerComment = c;
    expect(res.status).toBe(200);
    expect(reactions(c)).toEqual(['confused']);
    expect(replies(first.pr).map((r) => r.body)).toEqual([
      expect.stringMatching(/^@stranger is not mapped to a Slack user .*git\.github\.users/),
    ]);
    expect(await approvals(first.id)).toEqual([]);
  });

  it('a mapped person who holds no approving role, and the requester, are refused by the gate rules', async () => {
    const qa = await comment(first.pr, 'quinn-qa', '/conveyor approve');
    expect(reactions(qa.c)).toEqual(['confused']);
    expect(replies(first.pr).at(-1)!.body).toBe(
      `@quinn-qa you are not one of the approvers (tech-lead, product-owner) of ${first.id}`,
    );
    const own = await comment(first.pr, 'dara-dev', '/conveyor approve');
    expect(reactions(own.c)).toEqual(['confused']);
    expect(replies(first.pr).at(-1)!.body).toBe('@dara-dev you asked for this operation; someone else must approve it');
    expect(await approvals(first.id)).toEqual([]);
    expect((await server.runtime.store.operation(first.id)).state).toBe('awaiting-approval');
  });

  it('a delivery with a forged signature is refused with 401 and changes nothing', async () => {
    const before = replies(first.pr).length;
    const { c, res } = await comment(first.pr, 'Lee-Lead', '/conveyor approve', { secret: 'not-the-secret' });
    expect(res.status).toBe(401);
    expect(reactions(c)).toEqual([]);
    expect(replies(first.pr)).toHaveLength(before);
    expect(await approvals(first.id)).toEqual([]);
  });

  let leadComment: FakeComment;
  it('an eligible approver (login matched ignoring case) approves: 👍, the PR comment and the Slack message name them', async () => {
    const { c, res } = await comment(first.pr, 'lee-lead', '/conveyor approve\n\nLooks good to me.');
    leadComment = c;
    expect(res.status).toBe(200);
    expect(reactions(c)).toEqual(['+1']);
    expect(await approvals(first.id)).toEqual(['U_LEAD']);
    const op = await server.runtime.store.operation(first.id);
    expect(op.state).toBe('awaiting-approval'); // the product owner is still awaited
    const body = operationComment(first.pr).body;
    expect(body).toMatch(/\*\*Approval \(tech-lead\):\*\* 1\/1 by U_LEAD/);
    expect(body).toMatch(/\*\*Approval \(product-owner\):\*\* 0\/1; waiting for U_PO/);
    // The living Slack message of the operation (edited in place) shows the approval too.
    await vi.waitFor(
      () => {
        const msg = slack.message(DEPLOYS, first.ts)!;
        expect(JSON.stringify(msg.blocks)).toContain('*tech-lead*: ✓ <@U_LEAD>\\n*product-owner*: waiting: <@U_PO>');
      },
      { timeout: 10_000 },
    );
    // The audit log says where the approval came from.
    const audit = await server.runtime.store.auditLog({ limit: 50 });
    expect(audit.find((a) => a.action === 'approval.given' && a.operationId === first.id)?.actor).toBe('U_LEAD');
  });

  it('the same comment delivered again (a new delivery id, then the same one) approves once and answers once', async () => {
    const payload = issueCommentPayload(gh, OWNER, 'api', leadComment);
    const repliesBefore = replies(first.pr).length;
    expect((await deliver(payload)).status).toBe(200);
    const delivery = 'f0e1d2c3-0000-4000-8000-000000000001';
    expect((await deliver(payload, { delivery })).status).toBe(200);
    expect((await deliver(payload, { delivery })).status).toBe(200);
    expect(await approvals(first.id)).toEqual(['U_LEAD']);
    expect(reactions(leadComment)).toEqual(['+1']);
    expect(replies(first.pr)).toHaveLength(repliesBefore); // no "you already approved" either
  });

  it('an edited comment is not a new command', async () => {
    const c = addPersonComment(gh, OWNER, 'api', first.pr, 'pat-po', '/conveyor approve');
    expect((await deliver(issueCommentPayload(gh, OWNER, 'api', c, { action: 'edited' }))).status).toBe(200);
    expect(reactions(c)).toEqual([]);
    expect(await approvals(first.id)).toEqual(['U_LEAD']);
  });

  it('the second role of the quorum approves: the promotion merges its pull request and succeeds', async () => {
    const { c } = await comment(first.pr, 'pat-po', '/conveyor approve');
    expect(reactions(c)).toEqual(['+1']);
    const op = await server.runtime.store.operation(first.id);
    expect(op.state, op.error ?? '').toBe('succeeded');
    const pull = await octokit.rest.pulls.get({ owner: OWNER, repo: 'api', pull_number: first.pr });
    expect(pull.data.merged).toBe(true);
    expect(await gh.refSha(OWNER, 'api', 'prod')).toBe(pull.data.merge_commit_sha);
    expect(operationComment(first.pr).body).toContain('- **State:** succeeded');
    expect(operationComment(first.pr).body).toMatch(/\*\*Approval \(product-owner\):\*\* 1\/1 by U_PO/);
  });

  it('a comment on a finished operation is answered with why nothing happened', async () => {
    const { c } = await comment(first.pr, 'pat-po', '/conveyor approve');
    expect(reactions(c)).toEqual(['confused']);
    expect(replies(first.pr).at(-1)!.body).toBe(
      `@pat-po operation ${first.id} is succeeded; there is nothing to approve`,
    );
  });

  it('an unknown /conveyor word is answered; /conveyor reject with a reason by an approver rejects the operation', async () => {
    // A new version in staging (pushed there directly), for prod to be offered.
    await gh.commitFiles(OWNER, 'api', 'staging', { 'src/next.ts': 'export const n = 1;\n' }, 'Next change');
    const second = await promoteProd('tr.issueops.2');
    expect(second.pr).not.toBe(first.pr);
    const unknown = await comment(second.pr, 'lee-lead', '/conveyor merge-now');
    expect(reactions(unknown.c)).toEqual(['confused']);
    expect(replies(second.pr).at(-1)!.body).toMatch(/^@lee-lead a pull request comment takes `\/conveyor approve`/);
    const { c } = await comment(second.pr, 'lee-lead', '/conveyor reject "not before the audit" -- really');
    expect(reactions(c)).toEqual(['+1']);
    const op = await server.runtime.store.operation(second.id);
    expect(op.state).toBe('rejected');
    expect(op.error).toBe('rejected by U_LEAD: not before the audit -- really');
    expect(operationComment(second.pr).body).toContain('- **State:** rejected');
  });

  it('a /conveyor comment on a pull request that is no operation of Conveyor, or on an issue, is ignored silently', async () => {
    await gh.commitFiles(OWNER, 'api', 'feature-x', { 'src/x.ts': 'export const x = 1;\n' }, 'Feature X', 'develop');
    const pr = await octokit.rest.pulls.create({
      owner: OWNER,
      repo: 'api',
      head: 'feature-x',
      base: 'develop',
      title: 'X',
    });
    const { c, res } = await comment(pr.data.number, 'lee-lead', '/conveyor approve');
    expect(res.status).toBe(200);
    expect(reactions(c)).toEqual([]);
    expect(pullRequestComments(gh, OWNER, 'api', pr.data.number).filter((x) => !x.login)).toEqual([]);
    const onIssue = addPersonComment(gh, OWNER, 'api', pr.data.number, 'lee-lead', '/conveyor approve');
    expect((await deliver(issueCommentPayload(gh, OWNER, 'api', onIssue, { pullRequest: false }))).status).toBe(200);
    expect(reactions(onIssue)).toEqual([]);
  });

  it('after a restart of serve on the same store, comments handled before are still handled once', async () => {
    await server.stop();
    await startServe();
    const before = replies(first.pr).length;
    for (const c of [strangerComment, leadComment]) {
      expect((await deliver(issueCommentPayload(gh, OWNER, 'api', c))).status).toBe(200);
      expect(reactions(c)).toHaveLength(1);
    }
    // Neither the refusal nor the approval ("nothing to approve" now) is answered again.
    expect(replies(first.pr)).toHaveLength(before);
    expect(await approvals(first.id)).toEqual(['U_LEAD', 'U_PO']);
    // A new comment is still answered: the server is listening and reading comments.
    const { c } = await comment(first.pr, 'stranger', '/conveyor approve');
    expect(reactions(c)).toEqual(['confused']);
    expect(replies(first.pr)).toHaveLength(before + 1);
  }, 60_000);

  it('every reaction and reply matches GitHub’s request schema, every answer its response schema', () => {
    expect(exchanges.filter((x) => x.url.endsWith('/reactions')).length).toBeGreaterThan(5);
    for (const x of exchanges) {
      expect(checkGitHubRequest(x.url, x.method, x.body), `${x.method} ${x.url}`).toEqual([]);
      assertGitHubResponse(x.url, x.method, x.status, x.data);
    }
  });
});
