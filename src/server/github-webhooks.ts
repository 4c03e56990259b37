/**
 * `POST /github/webhooks`: GitHub deliveries, verified with `@octokit/webhooks` against
 * GITHUB_WEBHOOK_SECRET (X-Hub-Signature-256), de-duplicated by X-GitHub-Delivery in the store
 * (a redelivery is answered 200 and ignored), then handed to the controller as small plain
 * events. Without a secret the route refuses everything: unsigned deliveries are never trusted.
 * GitHub sends no timestamp to bound replays; the delivery id is the replay guard.
 *
 * Headers are checked before a byte of the body is read (a missing or malformed signature,
 * event or delivery id is refused at once), a declared length over the limit is refused
 * unread, the body is read up to WEBHOOK_MAX_BODY only, and at most WEBHOOK_LARGE_BODIES
 * bodies over 64 KiB are read at a time (the rest get 503 and GitHub's redelivery, or the poll).
 */
import { Webhooks } from '@octokit/webhooks';
import type { Logger } from 'pino';
import { z } from 'zod';
import type { RepoPush } from '../controller/run-controller.js';
import type { IdempotencyStore } from '../core/ports.js';
import { BodyGate, type HttpServer, readBody, sendJson } from './http-server.js';

export const GITHUB_WEBHOOK_PATH = '/github/webhooks';
/**
 * GitHub caps payloads at 25 MB, but the events Conveyor reads (pushes, pull requests, checks)
 * are far smaller: a push lists at most 20 commits. A bigger delivery is refused (413) and the
 * repository poll catches up on it.
 */
export const WEBHOOK_MAX_BODY = 5 * 1024 * 1024;
export const WEBHOOK_LARGE_BODIES = 2;

const webhookHeaders = z.object({
  'x-hub-signature-256': z.string().regex(/^sha256=[0-9a-f]{64}$/),
  'x-github-delivery': z.string().regex(/^[\w-]{1,100}$/),
  'x-github-event': z.string().regex(/^[a-z_]{1,64}$/),
});

/** A push as the controller handles it (RepoPush), with the webhook delivery it came in. */
export interface PushEvent extends RepoPush {
  delivery: string;
}

export interface RepoActivityEvent {
  delivery: string;
  repo: string;
  event: 'pull_request' | 'pull_request_review' | 'check_suite' | 'check_run';
  action: string;
}

/**
 * A comment on an issue or pull request (`issue_comment`), as IssueOps reads it
 * (src/adapters/github-issueops.ts). Only `created` comments act: an edit is not a new command.
 */
export interface IssueCommentEvent {
  delivery: string;
  repo: string;
  action: string;
  /** The issue or pull request number. */
  number: number;
  /** False for a comment on a plain issue. */
  pullRequest: boolean;
  commentId: number;
  body: string;
  login: string;
  /** "User", "Bot", "Organization". */
  userType: string;
}

export interface IssueCommentHandler {
  issueComment(event: IssueCommentEvent): Promise<void>;
}

export interface GitHubEventSink {
  push(event: PushEvent): Promise<void>;
  /** Pull requests, reviews and checks: something an operation may be waiting for moved. */
  repoActivity(event: RepoActivityEvent): Promise<void>;
}

const pushPayload = z.object({
  ref: z.string(),
  after: z.string().regex(/^[0-9a-f]{40}$/),
  deleted: z.boolean().default(false),
  repository: z.object({ full_name: z.string() }),
  pusher: z.object({ name: z.string() }).partial().optional(),
  head_commit: z
    .object({ message: z.string(), author: z.object({ name: z.string() }).partial() })
    .partial()
    .nullable()
    .optional(),
});

const ACTIVITY_EVENTS = new Set(['pull_request', 'pull_request_review', 'check_suite', 'check_run']);
const activityPayload = z.object({ action: z.string().default(''), repository: z.object({ full_name: z.string() }) });

const issueCommentPayload = z.object({
  action: z.string(),
  issue: z.object({ number: z.number().int().positive(), pull_request: z.object({}).loose().nullish() }),
  comment: z.object({
    id: z.number().int().positive(),
    body: z.string().nullish(),
    user: z.object({ login: z.string().max(100), type: z.string().max(40).default('User') }),
  }),
  repository: z.object({ full_name: z.string() }),
});

const header = (value: string | string[] | undefined) => (Array.isArray(value) ? value[0] : value) ?? '';

export function mountGitHubWebhooks(
  http: HttpServer,
  options: {
    secret: string | undefined;
    store: Pick<IdempotencyStore, 'claimDelivery'>;
    log: Logger;
    sink: GitHubEventSink;
    /** `/conveyor approve|reject` comments on pull requests (IssueOps); none: comments are ignored. */
    comments?: IssueCommentHandler;
  },
): void {
  const { store, log, sink, comments } = options;
  const gate = new BodyGate(WEBHOOK_LARGE_BODIES);
  const webhooks = options.secret ? new Webhooks({ secret: options.secret }) : null;
  if (webhooks) {
    webhooks.on('push', async ({ id, payload }) => {
      const p = pushPayload.parse(payload);
      const branch = p.ref.startsWith('refs/heads/') ? p.ref.slice('refs/heads/'.length) : null;
      await sink.push({
        delivery: id,
        repo: p.repository.full_name,
        branch,
        after: p.after,
        deleted: p.deleted,
        subject: p.head_commit?.message,
        author: p.head_commit?.author?.name,
        pusher: p.pusher?.name,
      });
    });
    webhooks.on(['pull_request', 'pull_request_review', 'check_suite', 'check_run'], async ({ id, name, payload }) => {
      const p = activityPayload.parse(payload);
      await sink.repoActivity({ delivery: id, repo: p.repository.full_name, event: name, action: p.action });
    });
    if (comments)
      webhooks.on('issue_comment', async ({ id, payload }) => {
        const p = issueCommentPayload.parse(payload);
        await comments.issueComment({
          delivery: id,
          repo: p.repository.full_name,
          action: p.action,
          number: p.issue.number,
          pullRequest: Boolean(p.issue.pull_request),
          commentId: p.comment.id,
          body: p.comment.body ?? '',
          login: p.comment.user.login,
          userType: p.comment.user.type,
        });
      });
  }

  http.add('POST', GITHUB_WEBHOOK_PATH, async (req, res) => {
    if (!webhooks) {
      sendJson(res, 503, { error: 'GitHub webhooks are not configured (GITHUB_WEBHOOK_SECRET is not set)' });
      return;
    }
    const signature = header(req.headers['x-hub-signature-256']);
    const delivery = header(req.headers['x-github-delivery']);
    const event = header(req.headers['x-github-event']);
    const headers = webhookHeaders.safeParse({
      'x-hub-signature-256': signature,
      'x-github-delivery': delivery,
      'x-github-event': event,
    });
    if (!headers.success) {
      req.resume();
      const bad = headers.error.issues.map((i) => String(i.path[0])).join(', ');
      log.warn(
        { delivery: delivery.slice(0, 64), event: event.slice(0, 64), bad },
        'GitHub webhook refused before reading: bad headers',
      );
      if (bad.includes('signature')) sendJson(res, 401, { error: 'X-Hub-Signature-256 is missing or malformed' });
      else sendJson(res, 400, { error: 'X-GitHub-Delivery and X-GitHub-Event are required' });
      return;
    }
    const release = gate.enter(req);
    if (!release) {
      req.resume();
      log.warn({ delivery }, 'GitHub webhook refused: too many large deliveries at once');
      sendJson(res, 503, { error: 'too many large deliveries at once; retry later' }, { 'retry-after': '5' });
      return;
    }
    let body: string;
    try {
      body = (await readBody(req, WEBHOOK_MAX_BODY)).toString('utf8');
    } finally {
      release();
    }
    if (!(await webhooks.verify(body, signature).catch(() => false))) {
      log.warn({ delivery: delivery.slice(0, 64), event: event.slice(0, 64) }, 'GitHub webhook refused: bad signature');
      sendJson(res, 401, { error: 'signature does not match' });
      return;
    }
    let payload: unknown;
    try {
      payload = JSON.parse(body);
    } catch {
      payload = undefined;
    }
    if (payload === null || typeof payload !== 'object' || Array.isArray(payload)) {
      log.warn({ delivery, event }, 'GitHub webhook refused: the body is not a JSON object');
      sendJson(res, 400, { error: 'the body is not a JSON object' });
      return;
    }
    const schema =
      event === 'push'
        ? pushPayload
        : ACTIVITY_EVENTS.has(event)
          ? activityPayload
          : event === 'issue_comment' && comments
            ? issueCommentPayload
            : null;
    const shaped = schema?.safeParse(payload);
    if (shaped && !shaped.success) {
      const issue = shaped.error.issues[0];
      log.warn(
        { delivery, event, issue: `${issue?.path.join('.')}: ${issue?.message}` },
        'GitHub webhook refused: unexpected payload shape',
      );
      sendJson(res, 400, {
        error: `unexpected ${event} payload: ${issue?.path.join('.') || '(body)'}: ${issue?.message}`,
      });
      return;
    }
    // A comment is de-duplicated by its own id (IssueOps), which also holds across a redelivery
    // under a new delivery id; claiming the delivery first would lose a comment whose handling a
    // crash cut short, as no poll catches up on comments.
    if (event !== 'issue_comment' && !(await store.claimDelivery(delivery))) {
      sendJson(res, 200, { ok: true, duplicate: true });
      return;
    }
    try {
      // biome-ignore lint/suspicious/noExplicitAny: the event name was checked against a pattern; unknown ones have no handler
      await webhooks.receive({ id: delivery, name: event as any, payload: payload as any });
      sendJson(res, 200, { ok: true });
    } catch (err) {
      // The delivery is claimed: the poll is the safety net that catches what was missed here.
      log.error({ delivery, event, err: (err as Error).message }, 'GitHub webhook handling failed');
      sendJson(res, 500, { error: 'the delivery could not be handled; the next poll will catch up' });
    }
  });
}
