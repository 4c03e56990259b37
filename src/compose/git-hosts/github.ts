/** GitHub repositories ("owner/repo"): the REST API for writes, a mirror for reads, push webhooks. */
import { existsSync } from 'node:fs';
import { GitMirror } from '../../adapters/git-mirror.js';
import type { BranchPoll, GitHubHost } from '../../adapters/github.js';
import { ConfigError } from '../../core/errors.js';
import { mountGitHubWebhooks } from '../../server/github-webhooks.js';
import type { GitHostProvider } from './provider.js';

const GITHUB_REPO = /^[A-Za-z0-9][A-Za-z0-9-]{0,38}\/[A-Za-z0-9._-]{1,100}$/;

export const githubProvider: GitHostProvider = {
  name: 'github',
  matches: ({ app, local }) => GITHUB_REPO.test(app.repo) && !existsSync(local),
  async build({ app, config, secrets, log, metrics, mirrorDir }) {
    const [owner, repo] = app.repo.split('/') as [string, string];
    if (!secrets.GITHUB_TOKEN && !secrets.GITHUB_APP_ID) {
      throw new ConfigError(`apps.${app.name}.repo is on GitHub, but neither GITHUB_TOKEN nor GITHUB_APP_ID is set`);
    }
    // Octokit and its plugins load only when an app is on GitHub (not in the sandbox).
    const { createOctokit, GitHubHost } = await import('../../adapters/github.js');
    const octokit = createOctokit({
      token: secrets.GITHUB_TOKEN,
      appId: secrets.GITHUB_APP_ID,
      privateKey: secrets.GITHUB_APP_PRIVATE_KEY,
      installationId: secrets.GITHUB_APP_INSTALLATION_ID,
      baseUrl: config.git.github?.baseUrl,
      log,
      timeoutMs: config.git.networkTimeout,
    });
    octokit.hook.after('request', (response) => {
      const remaining = Number(response.headers['x-ratelimit-remaining']);
      if (Number.isFinite(remaining)) metrics.githubRateLimit.set(remaining);
    });
    const gitBase = config.git.github?.gitUrl ?? 'https://github.com';
    const header = secrets.GITHUB_TOKEN ? [`http.extraHeader=Authorization: Bearer ${secrets.GITHUB_TOKEN}`] : [];
    const mirror = new GitMirror({
      url: `${gitBase}/${owner}/${repo}.git`,
      dir: mirrorDir,
      config: header,
      networkTimeoutMs: config.git.networkTimeout,
    });
    return new GitHubHost({
      octokit,
      owner,
      repo,
      mirror,
      htmlBaseUrl: config.git.github?.htmlUrl,
      // A plan asks GitHub for these branches' heads in one GraphQL read (github-live.ts).
      liveBranches: config.environments.map((e) => e.branch),
    });
  },
  pollSource: (app, host) =>
    host.kind === 'github' && 'pollBranches' in host
      ? { app, poll: (etag): Promise<BranchPoll> => (host as GitHubHost).pollBranches(etag) }
      : null,
  mountWebhooks: ({ http, secrets, store, log, events, comments }) =>
    mountGitHubWebhooks(http, { secret: secrets.GITHUB_WEBHOOK_SECRET, store, log, sink: events, comments }),
};
