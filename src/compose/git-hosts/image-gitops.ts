/**
 * Apps with `strategy: image`: their environments are image references in a GitOps repository
 * (src/adapters/image-env-host.ts), reached as a plain Git remote (a URL or a local path).
 */
import { isAbsolute, resolve } from 'node:path';
import { GitMirror } from '../../adapters/git-mirror.js';
import { PlainGitHost } from '../../adapters/git-plain.js';
import { ImageEnvHost } from '../../adapters/image-env-host.js';
import type { GitHostProvider } from './provider.js';

export const imageGitopsProvider: GitHostProvider = {
  name: 'image-gitops',
  matches: ({ app }) => app.strategy === 'image',
  async build({ app, config, baseDir, mirrorDir }) {
    const repo = app.gitops?.repo ?? app.repo;
    const url =
      /^[a-z][a-z0-9+.-]*:\/\//i.test(repo) || /^[\w.-]+@[\w.-]+:/.test(repo) || isAbsolute(repo)
        ? repo
        : resolve(baseDir, repo);
    const host = new PlainGitHost(new GitMirror({ url, dir: mirrorDir }));
    return new ImageEnvHost({ app, environments: config.environments, host, tagFormat: config.git.tagFormat });
  },
};
