/**
 * A Git host provider: which repositories it serves, how its GitHost is built, and (when it has
 * them) the poll source the controller's safety net asks and the webhook route its events
 * arrive on. Adding a host is one adapter under src/adapters/, one provider here and one line in
 * ./index.ts.
 */
import type { Logger } from 'pino';
import type { AppConfig, Config } from '../../config/schema.js';
import type { Secrets } from '../../config/secrets.js';
import type { PollSource } from '../../controller/repo-poller.js';
import type { RepoEvents } from '../../controller/run-controller.js';
import type { Metrics } from '../../core/metrics.js';
import type { GitHost, IdempotencyStore } from '../../core/ports.js';
import type { IssueCommentHandler } from '../../server/github-webhooks.js';
import type { HttpServer } from '../../server/http-server.js';

export interface GitHostBuild {
  app: AppConfig;
  config: Config;
  secrets: Secrets;
  baseDir: string;
  log: Logger;
  metrics: Metrics;
  /** The app's mirror folder. */
  mirrorDir: string;
  /** `app.repo` as a path relative to baseDir. */
  local: string;
}

export interface WebhookMount {
  http: HttpServer;
  secrets: Secrets;
  /** Where webhook delivery ids are claimed (each delivery is handled once). */
  store: Pick<IdempotencyStore, 'claimDelivery'>;
  log: Logger;
  events: RepoEvents;
  /** `/conveyor approve|reject` comments on pull requests (IssueOps, src/compose/issueops.ts). */
  comments?: IssueCommentHandler;
}

export interface GitHostProvider {
  readonly name: string;
  /** Whether this provider serves the app's repository. */
  matches(build: GitHostBuild): boolean;
  build(build: GitHostBuild): Promise<GitHost>;
  /** The poller's source for a host of this provider's kind; null for other hosts. */
  pollSource?(app: string, host: GitHost): PollSource | null;
  /** Put this host's webhook route on the HTTP server (every replica serves it). */
  mountWebhooks?(mount: WebhookMount): void;
}
