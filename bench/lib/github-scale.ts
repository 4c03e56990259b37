/**
 * Many GitHub repositories, cheaply: one repository of the GitHub fake is seeded with the
 * environment branches and deploy tags, then its bare directory is copied over each further
 * repository the fake creates; each app's local mirror starts as a copy too (with `origin`
 * pointing at the fake), so "warm" means what it means in production: mirrors exist and
 * nothing changed upstream.
 */
import { appendFileSync, cpSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Octokit } from '@octokit/rest';
import { GitMirror } from '../../src/adapters/git-mirror.js';
import { GitHubHost } from '../../src/adapters/github.js';
import type { GitHost } from '../../src/core/ports.js';
import type { GitHubFake } from '../../test/support/github-fake.js';
import { seedGitHubRepo } from '../../test/support/github-repo-seed.js';

/** A mirror that counts its fetches (shared counter across mirrors). */
export class CountingMirror extends GitMirror {
  constructor(
    options: { url: string; dir: string },
    private readonly counter: { syncs: number },
  ) {
    super(options);
  }

  override async sync(): Promise<void> {
    this.counter.syncs++;
    await super.sync();
  }
}

export interface ScaledRepos {
  names: string[];
  hosts: Map<string, GitHost>;
  counter: { syncs: number };
}

export async function seedScaledRepos(input: {
  fake: GitHubFake;
  octokit: Octokit;
  owner: string;
  count: number;
  /** Where the mirrors go. */
  dir: string;
}): Promise<ScaledRepos> {
  const { fake, owner } = input;
  const names = Array.from({ length: input.count }, (_, i) => `app-${String(i).padStart(3, '0')}`);
  const seed = await seedGitHubRepo(fake, owner, names[0]!);
  for (const name of names.slice(1)) {
    const dir = await fake.createRepo(owner, name, { defaultBranch: 'develop' });
    rmSync(dir, { recursive: true, force: true });
    cpSync(seed.dir, dir, { recursive: true });
  }
  const counter = { syncs: 0 };
  const hosts = new Map<string, GitHost>();
  mkdirSync(join(input.dir, 'mirrors'), { recursive: true });
  for (const name of names) {
    const mirrorDir = join(input.dir, 'mirrors', `${name}.git`);
    cpSync(seed.dir, mirrorDir, { recursive: true });
    appendFileSync(join(mirrorDir, 'config'), `[remote "origin"]\n\turl = ${fake.gitUrl(owner, name)}\n`);
    const mirror = new CountingMirror({ url: fake.gitUrl(owner, name), dir: mirrorDir }, counter);
    hosts.set(name, new GitHubHost({ octokit: input.octokit, owner, repo: name, mirror, htmlBaseUrl: fake.url }));
  }
  return { names, hosts, counter };
}
