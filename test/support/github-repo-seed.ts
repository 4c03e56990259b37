/**
 * Seeds a repository of the GitHub fake with the environment branches Conveyor promotes along
 * (develop → qa → staging → prod), a short history and one older annotated deploy tag on each
 * of qa, staging and prod, the shape of the sandbox's demo repositories.
 *
 *   const gh = await startGitHubFake({ token });
 *   const api = await seedGitHubRepo(gh, 'acme', 'api');                         // its own history
 *   const web = await seedGitHubRepo(gh, 'acme', 'web', { from: t.repo('web') }); // a copy of a bare repo
 *   api.heads.prod; api.tags.prod; git('--git-dir', api.dir, 'log', 'prod');
 *
 * Built history: five commits on develop, prod on the 2nd, staging on the 3rd, qa on the 4th.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { GitHubFake } from './github-fake.js';

const exec = promisify(execFile);
const GIT_ENV = { ...process.env, GIT_CONFIG_GLOBAL: '/dev/null', GIT_CONFIG_NOSYSTEM: '1' };
const DAY = 86_400_000;

export type EnvBranch = 'develop' | 'qa' | 'staging' | 'prod';

export interface SeededRepo {
  owner: string;
  repo: string;
  /** The bare repository behind the fake; read it with `git --git-dir <dir> …`. */
  dir: string;
  /** The commits of develop, oldest first. */
  commits: string[];
  heads: Record<EnvBranch, string>;
  /** The deploy tag on each environment branch's head, e.g. `prod/2024.05.01.1`. */
  tags: Record<Exclude<EnvBranch, 'develop'>, string>;
}

export interface SeedOptions {
  /** Copy every branch and tag of this bare repository instead of building a history. */
  from?: string;
  /** App name used in the files and tag messages (default: the repo name). */
  app?: string;
  /** "Today" for the older deploy tags' dates (default: now). */
  now?: Date;
}

async function git(dir: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<string> {
  const { stdout } = await exec('git', ['--git-dir', dir, ...args], { env: { ...GIT_ENV, ...env } });
  return stdout.trim();
}

function deployment(app: string, version: string): string {
  return [
    'apiVersion: apps/v1',
    'kind: Deployment',
    `metadata: { name: ${app} }`,
    'spec:',
    '  template:',
    '    spec:',
    `      containers: [{ name: ${app}, image: "registry.example.com/${app}:${version}" }]`,
    '',
  ].join('\n');
}

const HISTORY: { subject: string; version: string; file: [string, string] }[] = [
  { subject: 'Initial service', version: '1.0.0', file: ['README.md', '# service\n'] },
  { subject: 'Add health endpoint', version: '1.1.0', file: ['src/health.ts', 'export const ok = true;\n'] },
  { subject: 'Cache configuration reads', version: '1.2.0', file: ['src/config.ts', 'export const cache = new Map();\n'] },
  { subject: 'Retry upstream calls with backoff', version: '1.3.0', file: ['src/retry.ts', 'export const retries = 3;\n'] },
  { subject: 'Paginate the orders list', version: '1.4.0', file: ['src/orders.ts', 'export const pageSize = 50;\n'] },
];

/** Branch → index in HISTORY, and how many days ago its deploy tag was made. */
const PLACES: Record<Exclude<EnvBranch, 'develop'>, { at: number; daysAgo: number }> = {
  prod: { at: 1, daysAgo: 21 },
  staging: { at: 2, daysAgo: 12 },
  qa: { at: 3, daysAgo: 5 },
};

function tagDay(d: Date): string {
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${d.getUTCFullYear()}.${pad(d.getUTCMonth() + 1)}.${pad(d.getUTCDate())}`;
}

async function build(fake: GitHubFake, owner: string, repo: string, dir: string, app: string, now: Date): Promise<void> {
  const shas: string[] = [];
  for (const c of HISTORY) {
    const files = { [c.file[0]]: c.file[1], 'k8s/deployment.yaml': deployment(app, c.version) };
    shas.push(await fake.commitFiles(owner, repo, 'develop', files, c.subject));
  }
  for (const [env, place] of Object.entries(PLACES)) {
    const sha = shas[place.at]!;
    const when = new Date(now.getTime() - place.daysAgo * DAY);
    await git(dir, ['update-ref', `refs/heads/${env}`, sha, '']);
    const message = `Deploy of ${app} to ${env}\n\nSource-Commit: ${sha}\nOperation: seed\nKind: promote\nRequested-By: U_DEMO\nApproved-By: (seeded history)`;
    await git(dir, ['tag', '-a', `${env}/${tagDay(when)}.1`, sha, '-m', message], {
      GIT_COMMITTER_NAME: 'Conveyor Seed',
      GIT_COMMITTER_EMAIL: 'seed@localhost',
      GIT_COMMITTER_DATE: when.toISOString(),
    });
  }
}

/** Create `owner/repo` in the fake and fill it; returns where everything is. */
export async function seedGitHubRepo(fake: GitHubFake, owner: string, repo: string, options: SeedOptions = {}): Promise<SeededRepo> {
  const dir = await fake.createRepo(owner, repo, { defaultBranch: 'develop' });
  if (options.from) {
    await git(options.from, ['push', '--quiet', dir, 'refs/heads/*:refs/heads/*', 'refs/tags/*:refs/tags/*']);
  } else {
    await build(fake, owner, repo, dir, options.app ?? repo, options.now ?? new Date());
  }
  const head = (branch: string) => git(dir, ['rev-parse', `refs/heads/${branch}`]);
  const heads = { develop: await head('develop'), qa: await head('qa'), staging: await head('staging'), prod: await head('prod') };
  const tagOn = async (env: Exclude<EnvBranch, 'develop'>) => {
    const names = (await git(dir, ['tag', '--points-at', heads[env], '--list', `${env}/*`])).split('\n').filter(Boolean);
    if (!names.length) throw new Error(`seed: ${env} of ${owner}/${repo} carries no deploy tag`);
    return names.at(-1)!;
  };
  return {
    owner,
    repo,
    dir,
    commits: (await git(dir, ['rev-list', '--reverse', 'refs/heads/develop'])).split('\n'),
    heads,
    tags: { qa: await tagOn('qa'), staging: await tagOn('staging'), prod: await tagOn('prod') },
  };
}
