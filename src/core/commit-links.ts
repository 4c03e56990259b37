/**
 * Where an app's commits, compare views and deploy tags can be seen in a browser: GitHub's pages
 * for GitHub repositories (`git.github.htmlUrl`, default https://github.com); for plain Git, the
 * templates in `slack.gitWeb` (none configured: no links).
 */
import type { Config } from '../config/schema.js';
import type { WebLinks } from './reply.js';

const GITHUB_REPO = /^[A-Za-z0-9][A-Za-z0-9-]{0,38}\/[A-Za-z0-9._-]{1,100}$/;

/** `acme/api` from `https://git.example.com/acme/api.git`, `git@host:acme/api.git` or `acme/api`. */
export function repoPath(repo: string): string {
  const path = repo
    .replace(/^[a-z+]+:\/\/[^/]+\//i, '')
    .replace(/^[^@/]+@[^:]+:/, '')
    .replace(/^\.?\//, '')
    .replace(/\.git$/, '')
    .replace(/\/+$/, '');
  return path;
}

export function webLinksFor(
  config: Pick<Config, 'apps' | 'git' | 'slack'> & Partial<Pick<Config, 'board'>>,
  appName: string,
  hostKind: 'github' | 'git' | undefined,
): WebLinks | null {
  const repoLinks = repoWebLinks(config, appName, hostKind);
  const board = config.board?.url ? boardPageTemplate(config.board.url) : undefined;
  return board ? { ...repoLinks, board } : repoLinks;
}

function repoWebLinks(
  config: Pick<Config, 'apps' | 'git' | 'slack'>,
  appName: string,
  hostKind: 'github' | 'git' | undefined,
): WebLinks | null {
  const app = config.apps.find((a) => a.name === appName);
  if (!app) return null;
  if (hostKind === 'github' && GITHUB_REPO.test(app.repo)) {
    const base = `${(config.git.github?.htmlUrl ?? 'https://github.com').replace(/\/+$/, '')}/${app.repo}`;
    return {
      commit: `${base}/commit/{sha}`,
      compare: `${base}/compare/{from}...{to}`,
      tag: `${base}/releases/tag/{tag}`,
    };
  }
  const templates = config.slack?.gitWeb;
  if (!templates) return null;
  const fill = (t: string | undefined) => t?.replaceAll('{app}', app.name).replaceAll('{repo}', repoPath(app.repo));
  const links: WebLinks = {
    commit: fill(templates.commit),
    compare: fill(templates.compare),
    tag: fill(templates.tag),
  };
  return links.commit || links.compare || links.tag ? links : null;
}

/** The board's page of an operation, `{id}` to fill: the one path Slack, GitHub and mail link to. */
export function boardPageTemplate(boardUrl: string): string {
  return `${boardUrl.replace(/\/+$/, '')}/ops/{id}`;
}
