/**
 * IssueOps, composed: `/conveyor approve|reject` comments on the pull requests of the apps on
 * GitHub (src/adapters/github-issueops.ts) run through the same CommandService as Slack, with
 * the logins mapped by `git.github.users`. Delivered on `POST /github/webhooks` (issue_comment).
 */
import type { Logger } from 'pino';
import type { DeploymentRepo } from '../adapters/github-deployments.js';
import { PullRequestCommands } from '../adapters/github-issueops.js';
import type { Config } from '../config/schema.js';
import type { CommandService } from '../core/command-service.js';
import type { GitHost, IdempotencyStore, Store } from '../core/ports.js';

export function buildPullRequestCommands(
  runtime: {
    config: Config;
    git: Map<string, GitHost>;
    store: Pick<Store, 'operations'> & Pick<IdempotencyStore, 'claimDelivery'>;
  },
  service: CommandService,
  log: Logger,
): PullRequestCommands {
  type WithRest = GitHost & { rest: DeploymentRepo };
  const onGitHub = (host: GitHost | undefined): host is WithRest => host?.kind === 'github' && 'rest' in host;
  return new PullRequestCommands({
    service,
    users: () => runtime.config.git.github?.users,
    repos: () =>
      [...runtime.git.entries()].flatMap(([app, host]) => (onGitHub(host) ? [{ app, rest: host.rest }] : [])),
    operations: (app) => runtime.store.operations({ app, limit: 200 }),
    claim: (key) => runtime.store.claimDelivery(key),
    log,
  });
}
