/**
 * IssueOps: `/conveyor approve` and `/conveyor reject [reason]` typed as a comment on the pull
 * request of an operation (a `pull-request` environment) count as the approval or rejection of
 * the Slack user `git.github.users` maps the commenter's login to. The comment runs the very
 * command a Slack Approve click runs (`approve <id>` through the CommandService), so every gate
 * rule applies: roles, quorum, no self-approval, tickets, freezes, locks, expiry.
 *
 * - Once per comment: the command carries the comment id as its idempotency key (kept in the
 *   store, so a redelivery after a restart, or under a new delivery id, approves once); a
 *   refusal that never reaches the service claims the same key.
 * - Answered on the pull request: a 👍 reaction on a comment that counted (the operation's own
 *   comment is then edited by the PR comments sink, its gate line naming who approved); a 😕
 *   reaction and a one-line reply for a comment that did not (unmapped login, not eligible,
 *   finished operation, unknown subcommand).
 * - Silent on everything else: edits and deletions, comments that are no command, comments by
 *   bots, comments on issues and on pull requests that are no Conveyor operation's.
 */
import type { Logger } from 'pino';
import { slackUserOfLogin } from '../config/github-users.js';
import type { CommandService } from '../core/command-service.js';
import { isGitOperation, type Operation } from '../core/operation.js';
import type { IssueCommentEvent, IssueCommentHandler } from '../server/github-webhooks.js';
import type { DeploymentRepo } from './github-deployments.js';

export interface PullRequestCommandsOptions {
  service: CommandService;
  /** `git.github.users`, read at each comment (the live configuration). */
  users: () => Record<string, string> | undefined;
  /** Every app on GitHub with its repository. */
  repos: () => { app: string; rest: DeploymentRepo }[];
  /** The newest operations of an app (newest first). */
  operations: (app: string) => Promise<Operation[]>;
  /** Claim a key once (the store's delivery ids); false when it was claimed before. */
  claim: (key: string) => Promise<boolean>;
  log: Pick<Logger, 'info' | 'warn'>;
}

export type CommentCommand = { verb: 'approve' } | { verb: 'reject'; reason: string | null } | { verb: 'unknown' };

const COMMAND = /^\/conveyor(?:\s+(\S+)(?:[ \t]+(.*))?)?$/i;

/** The command a comment's first non-empty line gives; null when it is not a `/conveyor` line. */
export function parseCommentCommand(body: string): CommentCommand | null {
  const first = body.split(/\r?\n/).find((l) => l.trim() !== '');
  const m = first ? COMMAND.exec(first.trim()) : null;
  if (!m) return null;
  const verb = (m[1] ?? '').toLowerCase();
  if (verb === 'approve' && !m[2]?.trim()) return { verb: 'approve' };
  if (verb === 'reject') return { verb: 'reject', reason: cleanReason(m[2] ?? '') || null };
  return { verb: 'unknown' };
}

/** A reason as one quoted word of the command line: no quotes, escapes, control characters or leading dashes. */
function cleanReason(text: string): string {
  return text
    .replace(/["'\\\u201c\u201d\u2018\u2019\u0000-\u001f\u007f\u202a-\u202e\u2066-\u2069]/g, ' ')
    .replace(/\s+/g, ' ')
    .trim()
    .replace(/^-+\s*/, '')
    .slice(0, 300);
}

/** Markdown without mentions or HTML from the text (an error message may quote user input). */
const md = (s: string) => s.replace(/[<>]/g, (c) => (c === '<' ? '&lt;' : '&gt;')).replace(/@/g, '@\u200b');

export class PullRequestCommands implements IssueCommentHandler {
  constructor(private readonly options: PullRequestCommandsOptions) {}

  async issueComment(event: IssueCommentEvent): Promise<void> {
    if (event.action !== 'created' || !event.pullRequest || event.userType === 'Bot') return;
    const command = parseCommentCommand(event.body);
    if (!command) return;
    const found = await this.operationOf(event);
    if (!found) {
      this.options.log.info(
        { repo: event.repo.slice(0, 140), pr: event.number },
        'IssueOps: a /conveyor comment on a pull request that is no operation of Conveyor; ignored',
      );
      return;
    }
    const { op, rest } = found;
    const key = `comment:${event.commentId}`;
    const refuse = async (line: string) => {
      if (!(await this.options.claim(`github-${key}`))) return;
      await this.answer(rest, event, 'confused', `@${event.login} ${md(line)}`);
    };
    if (command.verb === 'unknown')
      return refuse('a pull request comment takes `/conveyor approve` or `/conveyor reject [reason]`.');
    const user = slackUserOfLogin(this.options.users(), event.login);
    if (!user)
      return refuse(
        `is not mapped to a Slack user in Conveyor's configuration (git.github.users), so this comment does not count. Approve in Slack, or ask for the mapping.`,
      );
    const text =
      command.verb === 'approve'
        ? `approve ${op.id}`
        : `reject ${op.id}${command.reason ? ` "${command.reason}"` : ''}`;
    const reply = await this.options.service.execute({ text, user, source: 'github', idempotencyKey: key });
    if (reply.replayed) return; // this comment was handled before
    this.options.log.info(
      { operation: op.id, user, login: event.login, command: command.verb, outcome: reply.status },
      'IssueOps: a pull request comment',
    );
    if (reply.status === 'ok') await this.answer(rest, event, '+1', null);
    else await this.answer(rest, event, 'confused', `@${event.login} ${md(reply.title)}`);
  }

  /** The operation whose pull request this is (the newest, when several used the number). */
  private async operationOf(event: IssueCommentEvent): Promise<{ op: Operation; rest: DeploymentRepo } | null> {
    const name = event.repo.toLowerCase();
    for (const { app, rest } of this.options.repos()) {
      if (`${rest.owner}/${rest.repo}`.toLowerCase() !== name) continue;
      const op = (await this.options.operations(app)).find(
        (o) => isGitOperation(o) && o.progress.prNumber === event.number,
      );
      if (op) return { op, rest };
    }
    return null;
  }

  /** A reaction on the comment and, for a refusal, a one-line reply; a failure is logged, never thrown. */
  private async answer(
    rest: DeploymentRepo,
    event: IssueCommentEvent,
    reaction: '+1' | 'confused',
    line: string | null,
  ): Promise<void> {
    const where = { owner: rest.owner, repo: rest.repo };
    try {
      await rest.octokit.rest.reactions.createForIssueComment({
        ...where,
        comment_id: event.commentId,
        content: reaction,
      });
      if (line) await rest.octokit.rest.issues.createComment({ ...where, issue_number: event.number, body: line });
    } catch (err) {
      this.options.log.warn(
        { pr: event.number, status: (err as { status?: number }).status ?? 'error' },
        'IssueOps: could not answer on the pull request',
      );
    }
  }
}
