/** The Git host providers, asked in order: the first that matches an app's repository builds its host. */
import { resolve } from 'node:path';
import type { Logger } from 'pino';
import type { AppConfig, Config } from '../../config/schema.js';
import type { Secrets } from '../../config/secrets.js';
import type { PollSource } from '../../controller/repo-poller.js';
import type { Metrics } from '../../core/metrics.js';
import type { GitHost } from '../../core/ports.js';
import { githubProvider } from './github.js';
import { imageGitopsProvider } from './image-gitops.js';
import { plainGitProvider } from './plain-git.js';
import type { GitHostProvider, WebhookMount } from './provider.js';

export type { GitHostProvider } from './provider.js';

export const GIT_HOST_PROVIDERS: readonly GitHostProvider[] = [
  imageGitopsProvider, // first: an image app's environments live in its GitOps repository
  githubProvider,
  plainGitProvider, // last: it takes any repository
];

export async function buildGitHost(
  app: AppConfig,
  context: { config: Config; secrets: Secrets; baseDir: string; log: Logger; metrics: Metrics },
  providers: readonly GitHostProvider[] = GIT_HOST_PROVIDERS,
): Promise<GitHost> {
  const build = {
    ...context,
    app,
    mirrorDir: resolve(context.baseDir, context.config.git.mirrorDir, `${app.name}.git`),
    local: resolve(context.baseDir, app.repo),
  };
  const provider = providers.find((p) => p.matches(build));
  if (!provider) throw new Error(`no Git host provider for apps.${app.name}.repo`);
  return provider.build(build);
}

/** The poll source of each app whose host has one. */
export function pollSourcesOf(
  git: Map<string, GitHost>,
  apps: string[],
  providers: readonly GitHostProvider[] = GIT_HOST_PROVIDERS,
): PollSource[] {
  const sources: PollSource[] = [];
  for (const app of apps) {
    const host = git.get(app);
    if (!host) continue;
    for (const p of providers) {
      const source = p.pollSource?.(app, host);
      if (source) {
        sources.push(source);
        break;
      }
    }
  }
  return sources;
}

/** Every provider's webhook route. */
export function mountGitHostWebhooks(
  mount: WebhookMount,
  providers: readonly GitHostProvider[] = GIT_HOST_PROVIDERS,
): void {
  for (const p of providers) p.mountWebhooks?.(mount);
}
