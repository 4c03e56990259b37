/**
 * Many GitHub repositories, cheaply (made once per run; each size of a scenario uses the first N): one repository of the GitHub fake is seeded with the
 * environment branches and deploy tags, then its bare directory is copied over each further
 * repository the fake creates; each app's local mirror starts as a copy too (with `origin`
 * pointing at the fake), so "warm" means what it means in production: mirrors exist and
 * nothing changed upstream. Copies are made by the system's `cp -R` from one shell per batch (a
 * bare repository here is ~56 small files: Node's `cpSync` took ~50 ms each), and the fake's
 * repositories are created a few at a time; none of this set-up is measured.
 */
import { execFile } from 'node:child_process';
import { appendFileSync, cpSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
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

const exec = promisify(execFile);

/** `from` copied to each of `to` (none of which exists), 200 to a shell; `cpSync` where there is no `cp`. */
async function copyEach(from: string, to: string[]): Promise<void> {
  for (let i = 0; i < to.length; i += 200) {
    const batch = to.slice(i, i + 200);
    try {
      await exec('sh', ['-c', 'src="$1"; shift; for d; do cp -R "$src" "$d" || exit 1; done', 'sh', from, ...batch]);
    } catch {
      for (const dir of batch) {
        rmSync(dir, { recursive: true, force: true });
        cpSync(from, dir, { recursive: true });
      }
    }
  }
}

export interface ScaledUpstream {
  owner: string;
  /** app-000, app-001, …: one repository of the fake each. */
  names: string[];
  /** The first repository, seeded; every other one is a copy of it. */
  seedDir: string;
}

/** `count` repositories on the GitHub fake, each a copy of one seeded repository. */
export async function seedUpstream(input: { fake: GitHubFake; owner: string; count: number }): Promise<ScaledUpstream> {
  const { fake, owner } = input;
  const names = Array.from({ length: input.count }, (_, i) => `app-${String(i).padStart(3, '0')}`);
  const seed = await seedGitHubRepo(fake, owner, names[0]!);
  const upstream: string[] = [];
  const rest = names.slice(1);
  for (let i = 0; i < rest.length; i += 8) {
    const dirs = await Promise.all(
      rest.slice(i, i + 8).map((name) => fake.createRepo(owner, name, { defaultBranch: 'develop' })),
    );
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
    upstream.push(...dirs);
  }
  await copyEach(seed.dir, upstream);
  return { owner, names, seedDir: seed.dir };
}

/**
 * Local mirrors of the first `count` repositories of `upstream` in `dir`/mirrors (copies of the
 * seed, `origin` pointing at the fake), and a GitHub host for each.
 */
export async function scaledMirrors(input: {
  fake: GitHubFake;
  octokit: Octokit;
  upstream: ScaledUpstream;
  count: number;
  dir: string;
}): Promise<ScaledRepos> {
  const { fake, upstream } = input;
  const { owner } = upstream;
  if (input.count > upstream.names.length)
    throw new Error(`${input.count} mirrors asked of ${upstream.names.length} repositories`);
  const names = upstream.names.slice(0, input.count);
  const counter = { syncs: 0 };
  const hosts = new Map<string, GitHost>();
  mkdirSync(join(input.dir, 'mirrors'), { recursive: true });
  const mirrors = names.map((name) => join(input.dir, 'mirrors', `${name}.git`));
  await copyEach(upstream.seedDir, mirrors);
  for (const [i, name] of names.entries()) {
    const mirrorDir = mirrors[i]!;
    appendFileSync(join(mirrorDir, 'config'), `[remote "origin"]\n\turl = ${fake.gitUrl(owner, name)}\n`);
    const mirror = new CountingMirror({ url: fake.gitUrl(owner, name), dir: mirrorDir }, counter);
    hosts.set(name, new GitHubHost({ octokit: input.octokit, owner, repo: name, mirror, htmlBaseUrl: fake.url }));
  }
  return { names, hosts, counter };
}

/** Both at once: `count` repositories on the fake and a mirror of each in `dir`/mirrors. */
export async function seedScaledRepos(input: {
  fake: GitHubFake;
  octokit: Octokit;
  owner: string;
  count: number;
  /** Where the mirrors go. */
  dir: string;
}): Promise<ScaledRepos> {
  const upstream = await seedUpstream(input);
  return scaledMirrors({ ...input, upstream });
}
