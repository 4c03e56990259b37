/**
 * GitHub Deployments for apps on GitHub: an observer of operation transitions, composed as a
 * notifier beside Slack. For each promotion or rollback it creates one deployment in the
 * operation's environment (task `deploy`, payload: operation id, kind, version, requester,
 * approvers) and posts a deployment status as the operation moves:
 *
 *   approved                               → queued (the deployment is created here, once the
 *                                            approvers are known; nothing while a request waits)
 *   applying, applied, verifying           → in_progress
 *   succeeded                              → success (auto_inactive: GitHub marks the
 *                                            environment's previous successful deployment inactive)
 *   failed                                 → failure
 *   rejected, expired, cancelled           → error (only for a deployment already created)
 *
 * with `environment_url` / `log_url` = the operation's page when `board.url` is configured.
 * On success it also sets a commit status on the commit the environment now runs, context
 * `conveyor/<env>`. The deployment's ref is the commit Conveyor writes when it is already known
 * (a fast-forward moves the branch to the promoted commit itself); when Conveyor writes a new
 * commit later (a non-fast-forward promotion, a pull request merge), the deployment keeps the
 * promoted commit as its ref and the payload and commit status name the commit written.
 */
import type { Octokit } from '@octokit/rest';
import pRetry, { AbortError } from 'p-retry';
import type { Logger } from 'pino';
import { UpstreamError } from '../core/errors.js';
import { type GitOperation, isGitOperation, type Operation } from '../core/operation.js';
import type { ApprovalRow, Notice } from '../core/ports.js';
import { BackgroundSink, operationEventOf, operationPageUrl } from './operation-notice.js';

export interface DeploymentRepo {
  octokit: Octokit;
  owner: string;
  repo: string;
}

export type DeploymentState = 'queued' | 'in_progress' | 'success' | 'failure' | 'error';

export const DEPLOYMENT_STATE: Record<string, DeploymentState> = {
  requested: 'queued',
  'awaiting-approval': 'queued',
  approved: 'queued',
  applying: 'in_progress',
  applied: 'in_progress',
  verifying: 'in_progress',
  succeeded: 'success',
  failed: 'failure',
  rejected: 'error',
  expired: 'error',
  cancelled: 'error',
};

export interface GitHubDeploymentsOptions {
  /** The app's repository on GitHub, or null when the app is not on GitHub. */
  repoOf: (app: string) => DeploymentRepo | null;
  /** The stored operation (the Store port), for the plan and the commit written. */
  operation: (id: string) => Promise<Operation | null>;
  approvals: (id: string) => Promise<ApprovalRow[]>;
  boardUrl?: string;
  /** Set the `conveyor/<env>` commit status on success. */
  commitStatus?: boolean;
  retries?: number;
  minTimeoutMs?: number;
  log?: Logger;
  onFailure?: (env: string) => void;
  onError?: (err: unknown) => void;
}

/** The commit the environment runs (or will run) after this operation. */
export function writtenCommit(op: Operation): string | null {
  if (!isGitOperation(op)) return null;
  const p = op.progress;
  return p.deployedSha ?? p.mergeSha ?? p.newSha ?? (op.plan.mode === 'fast-forward' ? op.plan.sourceSha : null);
}

export class GitHubDeployments extends BackgroundSink {
  /** operation id → deployment id; after a restart, found again by listing (payload.operation). */
  private readonly deployments = new Map<string, number>();
  /** operation id → the last deployment state posted. */
  private readonly posted = new Map<string, DeploymentState>();

  constructor(private readonly options: GitHubDeploymentsOptions) {
    super(options.onError);
  }

  protected async deliver(notice: Notice): Promise<void> {
    const event = operationEventOf(notice);
    if (!event?.app || (event.kind !== 'promote' && event.kind !== 'rollback')) return;
    const target = this.options.repoOf(event.app);
    const state = DEPLOYMENT_STATE[event.state];
    if (!target || !state) return;
    const op = await this.options.operation(event.id);
    if (!op || !isGitOperation(op)) return;
    // Notices arrive in order (one delivery at a time): each state as it was announced.
    const current = state;
    if (this.posted.get(op.id) === current) return;
    // A deployment is created once the operation is cleared to go (its approvers are known);
    // a request that waits, or ends without approval, leaves nothing on GitHub.
    const cleared = event.state !== 'requested' && event.state !== 'awaiting-approval';
    if (!cleared) return;
    if (current === 'error' && !this.deployments.has(op.id) && !(await this.find(target, op))) return;
    try {
      await this.retry(async () => {
        const id = this.deployments.get(op.id) ?? (await this.find(target, op)) ?? (await this.create(target, op));
        this.deployments.set(op.id, id);
        await this.status(target, op, id, current);
        if (current === 'success' && this.options.commitStatus !== false) await this.commitStatus(target, op);
      });
      this.posted.set(op.id, current);
      if (current !== 'queued' && current !== 'in_progress') this.forgetLater(op.id);
    } catch (err) {
      this.options.onFailure?.(op.env);
      throw err;
    }
  }

  private forgetLater(id: string): void {
    // Final: nothing more will be posted for it; keep the maps small.
    if (this.deployments.size > 1000) {
      this.deployments.delete(id);
      this.posted.delete(id);
    }
  }

  private async retry<T>(fn: () => Promise<T>): Promise<T> {
    return pRetry(
      async () => {
        try {
          return await fn();
        } catch (err) {
          const status = (err as { status?: number }).status;
          const error = new UpstreamError(
            'github',
            `GitHub deployment update failed (${status ?? (err as Error).message ?? 'error'})`,
            { cause: err },
          );
          if (typeof status === 'number' && status < 500 && status !== 429 && status !== 403)
            throw new AbortError(error);
          throw error;
        }
      },
      { retries: this.options.retries ?? 3, minTimeout: this.options.minTimeoutMs ?? 1000 },
    );
  }

  private async find(target: DeploymentRepo, op: Operation): Promise<number | null> {
    const { data } = await target.octokit.rest.repos.listDeployments({
      owner: target.owner,
      repo: target.repo,
      environment: op.env,
      task: 'deploy',
      per_page: 50,
    });
    const found = data.find(
      (d) =>
        typeof d.payload === 'object' &&
        d.payload !== null &&
        (d.payload as { operation?: unknown }).operation === op.id,
    );
    return found?.id ?? null;
  }

  private async create(target: DeploymentRepo, op: GitOperation): Promise<number> {
    const approvals = await this.options.approvals(op.id);
    const written = writtenCommit(op);
    const version = op.plan.fromTag ?? op.plan.sourceSha.slice(0, 8);
    const res = await target.octokit.rest.repos.createDeployment({
      owner: target.owner,
      repo: target.repo,
      ref: written ?? op.plan.sourceSha,
      environment: op.env,
      task: 'deploy',
      auto_merge: false,
      // Conveyor's own gates decide; GitHub must not refuse the record for pending checks.
      required_contexts: [],
      description: `${op.kind} ${op.app} to ${op.env} (${op.id})`.slice(0, 140),
      payload: {
        operation: op.id,
        kind: op.kind,
        version,
        sourceSha: op.plan.sourceSha,
        commit: written,
        requester: op.requester,
        approvers: approvals.map((a) => ({ user: a.userId, role: a.role })),
      },
    });
    if (res.status !== 201 || !('id' in res.data)) {
      throw new UpstreamError('github', `GitHub did not create the deployment (${res.status})`);
    }
    return res.data.id;
  }

  private async status(target: DeploymentRepo, op: GitOperation, id: number, state: DeploymentState): Promise<void> {
    const page = operationPageUrl(this.options.boardUrl, op.id);
    const description = (
      state === 'success'
        ? `${op.app} is live in ${op.env}`
        : state === 'failure' || state === 'error'
          ? `${op.state}${op.error ? `: ${op.error}` : ''}`
          : op.state.replace('-', ' ')
    ).slice(0, 140);
    await target.octokit.rest.repos.createDeploymentStatus({
      owner: target.owner,
      repo: target.repo,
      deployment_id: id,
      state,
      description,
      ...(page ? { environment_url: page, log_url: page } : {}),
      ...(state === 'success' ? { auto_inactive: true } : {}),
    });
  }

  private async commitStatus(target: DeploymentRepo, op: Operation): Promise<void> {
    const sha = writtenCommit(op);
    if (!sha) return;
    const page = operationPageUrl(this.options.boardUrl, op.id);
    await target.octokit.rest.repos.createCommitStatus({
      owner: target.owner,
      repo: target.repo,
      sha,
      state: 'success',
      context: `conveyor/${op.env}`,
      description: `deployed to ${op.env} (${op.id})`.slice(0, 140),
      ...(page ? { target_url: page } : {}),
    });
  }
}
