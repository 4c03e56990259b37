/**
 * `issue_comment` webhook payloads for comments in the GitHub fake: the real example delivery
 * from @octokit/webhooks-examples (`issue_comment.created`), re-pointed at the fake's repository,
 * pull request and comment, with `issue.pull_request` set as GitHub sets it on a pull request's
 * comments. `signDelivery` signs a body as GitHub does (X-Hub-Signature-256).
 */
import { createHmac, randomUUID } from 'node:crypto';
import examples from '@octokit/webhooks-examples';
import { commentAsJson, type FakeComment } from './issue-comments.js';
import type { GitHubFake } from './server.js';

// biome-ignore lint/suspicious/noExplicitAny: a webhook payload is free-form JSON
type Json = Record<string, any>;

function example(action: string): Json {
  const all = (examples as unknown as { name: string; examples: Json[] }[]).find((e) => e.name === 'issue_comment')!;
  return structuredClone(all.examples.find((p) => p.action === action)!);
}

export function issueCommentPayload(
  fake: GitHubFake,
  owner: string,
  repo: string,
  comment: FakeComment,
  options: { action?: 'created' | 'edited' | 'deleted'; pullRequest?: boolean } = {},
): Json {
  const p = example(options.action ?? 'created');
  p.repository.name = repo;
  p.repository.full_name = `${owner}/${repo}`;
  p.repository.owner.login = owner;
  p.issue.number = comment.issue;
  if (options.pullRequest ?? true)
    p.issue.pull_request = {
      url: `${fake.url}/repos/${owner}/${repo}/pulls/${comment.issue}`,
      html_url: `${fake.url}/${owner}/${repo}/pull/${comment.issue}`,
      diff_url: `${fake.url}/${owner}/${repo}/pull/${comment.issue}.diff`,
      patch_url: `${fake.url}/${owner}/${repo}/pull/${comment.issue}.patch`,
      merged_at: null,
    };
  else delete p.issue.pull_request;
  p.comment = { ...p.comment, ...commentAsJson(fake, owner, repo, comment) };
  p.sender = { ...p.sender, login: comment.login ?? p.sender.login };
  return p;
}

/** Headers of a signed delivery (a fresh delivery id unless given). */
export function signDelivery(
  body: string,
  secret: string,
  event = 'issue_comment',
  delivery: string = randomUUID(),
): Record<string, string> {
  return {
    'content-type': 'application/json',
    'x-github-event': event,
    'x-github-delivery': delivery,
    'x-hub-signature-256': `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`,
  };
}
