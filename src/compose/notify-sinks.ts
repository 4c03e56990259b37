/**
 * The notification sinks beyond Slack (email over SMTP, Microsoft Teams), built from each
 * environment's `email` / `teams` and `notify.email`; they join the fan-out beside the Slack
 * notifier. Credentials and webhook URLs come from the environment (or `<NAME>_FILE`), are
 * checked here at startup, and are never logged.
 */

import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import { secretValue } from '../config/secrets.js';
import { ConfigError } from '../core/errors.js';
import type { Metrics } from '../core/metrics.js';
import type { GitHost, Notifier, Store } from '../core/ports.js';

/** `board.url` when the configuration has one (the web board's address), for links. */
export function boardUrlOf(config: Config): string | undefined {
  const board = (config as { board?: { url?: unknown } }).board;
  return typeof board?.url === 'string' ? board.url : undefined;
}

export function hasNotifySinks(config: Config): boolean {
  return config.environments.some((e) => e.email || e.teams);
}

export interface SinkOptions {
  /** Backoff before the first retry (tests shorten it). */
  minTimeoutMs?: number;
  /** A delivery given up on (logged by the caller, without URLs or credentials). */
  onError?: (err: unknown) => void;
}

export async function buildNotifySinks(
  config: Config,
  env: NodeJS.ProcessEnv,
  metrics: Metrics,
  options: SinkOptions = {},
): Promise<Notifier[]> {
  const sinks: Notifier[] = [];
  const boardUrl = boardUrlOf(config);
  const emailEnvs = config.environments.filter((e) => e.email);
  const smtp = config.notify?.email;
  if (emailEnvs.length && smtp) {
    const nodemailer = await import('nodemailer');
    const { EmailNotifier } = await import('../adapters/email-notifier.js');
    const user = secretValue(env, 'SMTP_USER');
    const pass = secretValue(env, 'SMTP_PASSWORD');
    if (Boolean(user) !== Boolean(pass))
      throw new ConfigError('SMTP_USER and SMTP_PASSWORD go together (or set neither for an open relay)');
    const transport = nodemailer.createTransport({
      host: smtp.smtp.host,
      port: smtp.smtp.port,
      secure: smtp.smtp.secure,
      requireTLS: smtp.smtp.requireTls,
      ...(user && pass ? { auth: { user, pass } } : {}),
      logger: false,
      connectionTimeout: 10_000,
      greetingTimeout: 10_000,
      socketTimeout: 20_000,
    });
    sinks.push(
      new EmailNotifier({
        transport,
        from: smtp.from,
        routes: Object.fromEntries(emailEnvs.map((e) => [e.name, e.email!])),
        retries: smtp.retries,
        minTimeoutMs: options.minTimeoutMs,
        boardUrl,
        onFailure: (envName) => metrics.notificationFailures.inc({ sink: 'email', env: envName }),
        onError: options.onError,
      }),
    );
  }
  const teamsEnvs = config.environments.filter((e) => e.teams);
  if (teamsEnvs.length) {
    const { TeamsNotifier } = await import('../adapters/teams-notifier.js');
    const routes = Object.fromEntries(
      teamsEnvs.map((e) => {
        const name = e.teams!.urlEnv;
        const url = secretValue(env, name);
        if (!url)
          throw new ConfigError(
            `environments ${e.name}: teams.urlEnv names ${name}, but neither ${name} nor ${name}_FILE is set`,
          );
        if (!/^https?:\/\/[^\s]+$/.test(url))
          throw new ConfigError(`environments ${e.name}: ${name} is not an http(s) URL`);
        return [e.name, { url, on: e.teams!.on }];
      }),
    );
    sinks.push(
      new TeamsNotifier({
        routes,
        minTimeoutMs: options.minTimeoutMs,
        boardUrl,
        onFailure: (envName) => metrics.notificationFailures.inc({ sink: 'teams', env: envName }),
        onError: options.onError,
      }),
    );
  }
  return sinks;
}

/** The GitHub deployments observer, for the apps whose host is GitHub (`git.github.deployments`). */
export async function buildGitHubObservers(
  config: Config,
  git: Map<string, GitHost>,
  store: Pick<Store, 'findOperation' | 'approvals'>,
  metrics: Metrics,
  log: Logger,
  options: SinkOptions = {},
): Promise<Notifier[]> {
  const settings = config.git.github?.deployments;
  const observers: Notifier[] = [];
  const warn = (err: unknown) => log.warn({ err: (err as Error).message }, 'a GitHub notification failed');
  type WithRest = GitHost & { rest: import('../adapters/github-deployments.js').DeploymentRepo };
  const onGitHub = (host: GitHost | undefined): host is WithRest => host?.kind === 'github' && 'rest' in host;
  const repoOf = (app: string) => {
    const host = git.get(app);
    return onGitHub(host) ? host.rest : null;
  };
  if (config.git.github?.pullRequestComments) {
    const { PullRequestComments } = await import('../adapters/github-pr-comments.js');
    observers.push(
      new PullRequestComments({
        repoOf,
        operation: (id) => store.findOperation(id),
        get boardUrl() {
          return boardUrlOf(config);
        },
        minTimeoutMs: options.minTimeoutMs,
        log,
        onFailure: (envName) => metrics.notificationFailures.inc({ sink: 'github-pr-comments', env: envName }),
        onError: warn,
      }),
    );
  }
  if (!settings) return observers;
  const { GitHubDeployments } = await import('../adapters/github-deployments.js');
  observers.push(
    new GitHubDeployments({
      repoOf,
      operation: (id) => store.findOperation(id),
      approvals: (id) => store.approvals(id),
      // Read at each transition: `board.url` may be set on the live configuration.
      get boardUrl() {
        return boardUrlOf(config);
      },
      commitStatus: settings.commitStatus,
      minTimeoutMs: options.minTimeoutMs,
      log,
      onFailure: (envName) => metrics.notificationFailures.inc({ sink: 'github-deployments', env: envName }),
      onError: warn,
    }),
  );
  return observers;
}
