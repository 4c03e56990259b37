/** Any other remote (URL, scp-like, or a local path): fetch and push, polled with `git ls-remote`. */
import { existsSync } from 'node:fs';
import { isAbsolute } from 'node:path';
import { GitMirror } from '../../adapters/git-mirror.js';
import { PlainGitHost } from '../../adapters/git-plain.js';
import { lsRemoteSource } from '../../controller/repo-poller.js';
import type { GitHostProvider } from './provider.js';

export const plainGitProvider: GitHostProvider = {
  name: 'git',
  matches: () => true,
  async build({ app, config, local, mirrorDir }) {
    const url =
      /^[a-z][a-z0-9+.-]*:\/\//i.test(app.repo) || /^[\w.-]+@[\w.-]+:/.test(app.repo)
        ? app.repo
        : isAbsolute(app.repo)
          ? app.repo
          : local;
    return new PlainGitHost(new GitMirror({ url, dir: mirrorDir, networkTimeoutMs: config.git.networkTimeout }));
  },
  pollSource(app, host) {
    if (!(host instanceof PlainGitHost)) return null;
    return lsRemoteSource(app, async () => {
      if (!existsSync(host.mirror.dir)) await host.mirror.sync(); // ls-remote runs in the mirror
      return host.mirror.raw(['ls-remote', '--heads', 'origin']);
    });
  },
};
