/**
 * Apps with `strategy: image` (environments are image references in a GitOps repository,
 * src/adapters/image-env-host.ts) or `strategy: directory` (environments are folders of one
 * branch, src/adapters/directory-env-host.ts), reached as a plain Git remote (a URL or a path).
 */
import { isAbsolute, resolve } from 'node:path';
import { DirectoryEnvHost } from '../../adapters/directory-env-host.js';
import { GitMirror } from '../../adapters/git-mirror.js';
import { PlainGitHost } from '../../adapters/git-plain.js';
import { ImageEnvHost } from '../../adapters/image-env-host.js';
import { imageSourceFor } from '../image-source.js';
import type { GitHostProvider } from './provider.js';

export const imageGitopsProvider: GitHostProvider = {
  name: 'image-gitops',
  matches: ({ app }) => app.strategy === 'image' || app.strategy === 'directory',
  async build(build) {
    const { app, config, baseDir, mirrorDir } = build;
    const repo = app.gitops?.repo ?? app.repo;
    const url =
      /^[a-z][a-z0-9+.-]*:\/\//i.test(repo) || /^[\w.-]+@[\w.-]+:/.test(repo) || isAbsolute(repo)
        ? repo
        : resolve(baseDir, repo);
    const host = new PlainGitHost(new GitMirror({ url, dir: mirrorDir, networkTimeoutMs: config.git.networkTimeout }));
    const options = { app, environments: config.environments, host, tagFormat: config.git.tagFormat };
    if (app.strategy === 'directory') return new DirectoryEnvHost(options);
    const images = imageSourceFor(build);
    return new ImageEnvHost(images ? { ...options, images } : options);
  },
};
