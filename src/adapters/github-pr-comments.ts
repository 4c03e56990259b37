/**
 * One comment per operation on the pull request it opened (`pull-request` environments), edited
 * in place as the operation moves: the headline, the state, the versions, the gate (who approved,
 * who is awaited), the problem if any, and links. The comment carries a hidden marker
 * (`<!-- conveyor:operation=<id> -->`) so it is found again after a restart instead of posting a
 * second one. An observer of operation transitions, composed beside Slack like the deployments.
 */

import pRetry, { AbortError } from 'p-retry';
import type { Logger } from 'pino';
import { UpstreamError } from '../core/errors.js';
import { isGitOperation, type Operation } from '../core/operation.js';
import type { Notice } from '../core/ports.js';
import type { DeploymentRepo } from './github-deployments.js';
import { BackgroundSink, type OperationEvent, operationEventOf } from './operation-notice.js';

export interface PullRequestCommentsOptions {
  repoOf: (app: string) => DeploymentRepo | null;
  operation: (id: string) => Promise<Operation | null>;
  boardUrl?: string;
  retries?: number;
  minTimeoutMs?: number;
  log?: Logger;
  onFailure?: (env: string) => void;
  onError?: (err: unknown) => void;
}

const marker = (id: string) => `<!-- conveyor:operation=${id} -->`;

/** Markdown without GitHub mentions or HTML from the data (commit subjects, reasons). */
const md = (s: string) => s.replace(/[<>]/g, (c) => (c === '<' ? '&lt;' : '&gt;')).replace(/@/g, '@\u200b');

export function pullRequestComment(event: OperationEvent): string {
  const card = event.card;
  const lines = [marker(event.id), `### ${md(event.headline)}`, ''];
  lines.push(`- **Operation:** \`${event.kind} ${event.id}\``);
  lines.push(`- **State:** ${md(event.stateText)}`);
  if (card) {
    lines.push(`- **Requested by:** ${md(card.requester)}`);
    lines.push(`- **Version:** ${md(card.from ? `${card.from.label} → ${card.to.label}` : card.to.label)}`);
    for (const a of card.approvals) {
      const waiting = a.waiting ? [...a.waiting.users, ...a.waiting.groups] : [];
      lines.push(
        `- **Approval (${md(a.role)}):** ${a.approvers.length}/${a.needed}${
          a.approvers.length ? ` by ${md(a.approvers.join(', '))}` : ''
        }${waiting.length ? `; waiting for ${md(waiting.join(', '))}` : ''}`,
      );
    }
    if (card.problem) lines.push(`- **Problem:** ${md(card.problem)}`);
  }
  const links = event.links.filter((l) => !l.label.startsWith('Pull request'));
  if (links.length) lines.push('', links.map((l) => `[${md(l.label)}](${l.url})`).join(' · '));
  lines.push(
    '',
    event.state === 'awaiting-approval'
      ? '<sub>Updated by Conveyor as the operation moves. Approve or reject in Slack, or comment <code>/conveyor approve</code> or <code>/conveyor reject [reason]</code> here.</sub>'
      : '<sub>Updated by Conveyor as the operation moves.</sub>',
  );
  return lines.join('\n');
}

export class PullRequestComments extends BackgroundSink {
  private readonly comments = new Map<string, number>();
  private readonly shown = new Map<string, string>();

  constructor(private readonly options: PullRequestCommentsOptions) {
    super(options.onError);
  }

  protected async deliver(notice: Notice): Promise<void> {
    const event = operationEventOf(notice, this.options.boardUrl);
    if (!event?.app) return;
    const target = this.options.repoOf(event.app);
    if (!target) return;
    const op = await this.options.operation(event.id);
    if (!op || !isGitOperation(op) || !op.progress.prNumber) return;
    const number = op.progress.prNumber;
    const body = pullRequestComment(event);
    if (this.shown.get(op.id) === body) return;
    try {
      await pRetry(
        async () => {
          try {
            const id = this.comments.get(op.id) ?? (await this.find(target, number, op.id));
            if (id) {
              await target.octokit.rest.issues.updateComment({
                owner: target.owner,
                repo: target.repo,
                comment_id: id,
                body,
              });
              this.comments.set(op.id, id);
            } else {
              const { data } = await target.octokit.rest.issues.createComment({
                owner: target.owner,
                repo: target.repo,
                issue_number: number,
                body,
              });
              this.comments.set(op.id, data.id);
            }
          } catch (err) {
            const status = (err as { status?: number }).status;
            const error = new UpstreamError('github', `pull request comment failed (${status ?? 'error'})`, {
              cause: err,
            });
            if (typeof status === 'number' && status < 500 && status !== 429 && status !== 403)
              throw new AbortError(error);
            throw error;
          }
        },
        { retries: this.options.retries ?? 3, minTimeout: this.options.minTimeoutMs ?? 1000 },
      );
      this.shown.set(op.id, body);
    } catch (err) {
      this.options.onFailure?.(op.env);
      throw err;
    }
  }

  private async find(target: DeploymentRepo, number: number, id: string): Promise<number | null> {
    const { data } = await target.octokit.rest.issues.listComments({
      owner: target.owner,
      repo: target.repo,
      issue_number: number,
      per_page: 100,
    });
    return data.find((c) => c.body?.startsWith(marker(id)))?.id ?? null;
  }
}
