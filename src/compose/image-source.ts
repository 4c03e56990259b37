/**
 * Where an image app's images and application commits are read for people (diff, --dry-run):
 * its registry — the OCI Distribution API, or a local OCI image layout (`image.layout`) — and its
 * application repository (`repo`): a plain Git remote or path through a mirror of its own, or a
 * GitHub repository through the GitHub host when GitHub credentials are set. Each is built on
 * first use, so a missing credential costs nothing until it is needed.
 */
import { existsSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { GitMirror } from '../adapters/git-mirror.js';
import { PlainGitHost } from '../adapters/git-plain.js';
import type { ImageSource } from '../adapters/image-versions.js';
import { OciLayoutRegistry } from '../adapters/oci-layout-registry.js';
import { OciRegistry } from '../adapters/oci-registry.js';
import { readRegistryCredentials } from '../config/strategy-schema.js';
import { githubProvider } from './git-hosts/github.js';
import type { GitHostBuild } from './git-hosts/provider.js';

const REMOTE = /^[a-z][a-z0-9+.-]*:\/\//i;
const SCP_LIKE = /^[\w.-]+@[\w.-]+:/;

export function imageSourceFor(build: GitHostBuild, env: NodeJS.ProcessEnv = process.env): ImageSource | undefined {
  const { app, baseDir } = build;
  const image = app.image;
  if (app.strategy !== 'image' || !image) return undefined;
  const appMirrorDir = build.mirrorDir.replace(/(\.git)?$/, '.application.git');
  return {
    registry: () =>
      image.layout
        ? new OciLayoutRegistry(resolve(baseDir, image.layout))
        : new OciRegistry({
            baseUrl: image.registryUrl ?? `https://${image.repository.slice(0, image.repository.indexOf('/'))}`,
            credentials: readRegistryCredentials(image, env),
            // A person waits on these reads (diff, --dry-run): one quick retry, not the poller's patience.
            retries: 1,
            maxRetryMs: 1_000,
            timeoutMs: 5_000,
          }),
    async appRepo() {
      const repo = app.repo;
      const local = resolve(baseDir, repo);
      const asGitHub = { ...build, app: { ...app, strategy: 'branch' as const }, mirrorDir: appMirrorDir, local };
      if (githubProvider.matches(asGitHub)) {
        return { host: await githubProvider.build(asGitHub), name: repo };
      }
      const url = REMOTE.test(repo) || SCP_LIKE.test(repo) || isAbsolute(repo) ? repo : local;
      if (url === local && !existsSync(local)) return null;
      const mirror = new GitMirror({ url, dir: appMirrorDir, networkTimeoutMs: build.config.git.networkTimeout });
      return { host: new PlainGitHost(mirror), name: repo };
    },
  };
}
