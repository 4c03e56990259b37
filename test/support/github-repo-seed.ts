/**
 * Seeds a repository of the GitHub fake with the environment branches Conveyor promotes along
 * (develop → qa → staging → prod), a short history and one older annotated deploy tag on each
 * of qa, staging and prod, the shape of the sandbox's demo repositories.
 *
 *   const gh = await startGitHubFake({ token });
 *   const api = await seedGitHubRepo(gh, 'acme', 'api');
 *   api.heads.prod; api.tags.prod; git('--git-dir', api.dir, 'log', 'prod');
 *
 * History: five commits on develop (30 to 2 days old), prod on the 2nd, staging on the 3rd,
 * qa on the 4th, each with an annotated tag `{env}/{yyyy.mm.dd}.1` dated days before "now",
 * written with `git fast-import` (a few processes instead of dozens per repository).
 */
import { execFile } from 'node:child_process';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
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
  /** App name used in the files and tag messages (default: the repo name). */
  app?: string;
  /** "Today" for the older deploy tags' dates (default: now). */
  now?: Date;
}

async function git(dir: string, args: string[]): Promise<string> {
  const { stdout } = await exec('git', ['--git-dir', dir, ...args], { env: GIT_ENV });
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

const HISTORY: { subject: string; author: string; daysAgo: number; version: string; file: [string, string] }[] = [
  { subject: 'Initial service', author: 'Ana Ops', daysAgo: 30, version: '1.0.0', file: ['README.md', '# service\n'] },
  {
    subject: 'Add health endpoint',
    author: 'Ben Dev',
    daysAgo: 21,
    version: '1.1.0',
    file: ['src/health.ts', 'export const ok = true;\n'],
  },
  {
    subject: 'Cache configuration reads',
    author: 'Chloe Dev',
    daysAgo: 12,
    version: '1.2.0',
    file: ['src/config.ts', 'export const cache = new Map();\n'],
  },
  {
    subject: 'Retry upstream calls with backoff',
    author: 'Ben Dev',
    daysAgo: 5,
    version: '1.3.0',
    file: ['src/retry.ts', 'export const retries = 3;\n'],
  },
  {
    subject: 'Paginate the orders list',
    author: 'Dara Dev',
    daysAgo: 2,
    version: '1.4.0',
    file: ['src/orders.ts', 'export const pageSize = 50;\n'],
  },
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

const dataCmd = (text: string) => `data ${Buffer.byteLength(text)}\n${text}\n`;

/** The commits of develop and the environment branches, as a `git fast-import` stream. */
function historyStream(app: string, now: Date): string {
  const at = (daysAgo: number) => `${Math.floor((now.getTime() - daysAgo * DAY) / 1000)} +0000`;
  const out: string[] = [];
  HISTORY.forEach((c, i) => {
    const who = `${c.author} <${c.author.split(' ')[0]!.toLowerCase()}@example.com> ${at(c.daysAgo)}`;
    out.push(`commit refs/heads/develop\nmark :${i + 1}\nauthor ${who}\ncommitter ${who}\n${dataCmd(c.subject)}`);
    if (i > 0) out.push(`from :${i}\n`);
    for (const [path, text] of [c.file, ['k8s/deployment.yaml', deployment(app, c.version)]] as const) {
      out.push(`M 100644 inline ${path}\n${dataCmd(text)}`);
    }
    out.push('\n');
  });
  for (const [env, place] of Object.entries(PLACES)) out.push(`reset refs/heads/${env}\nfrom :${place.at + 1}\n\n`);
  return `${out.join('')}done\n`;
}

/** One older annotated deploy tag per environment branch, with the trailers Conveyor writes. */
function tagStream(app: string, now: Date, shas: string[]): string {
  const out: string[] = [];
  for (const [env, place] of Object.entries(PLACES)) {
    const when = now.getTime() - place.daysAgo * DAY;
    const sha = shas[place.at]!;
    const message = `Deploy of ${app} to ${env}\n\nSource-Commit: ${sha}\nOperation: seed\nKind: promote\nRequested-By: U_DEMO\nApproved-By: (seeded history)\n`;
    out.push(
      `tag ${env}/${tagDay(new Date(when))}.1\nfrom ${sha}\ntagger Conveyor Seed <seed@localhost> ${Math.floor(when / 1000)} +0000\n${dataCmd(message)}`,
    );
  }
  return `${out.join('')}done\n`;
}

function fastImport(dir: string, stream: string, marks: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      'git',
      ['--git-dir', dir, 'fast-import', '--quiet', '--done', `--export-marks=${marks}`],
      { env: GIT_ENV },
      (err) => (err ? reject(err) : resolve()),
    );
    child.stdin!.end(stream);
  });
}

/** Create `owner/repo` in the fake and fill it (a few git processes in all); returns where everything is. */
export async function seedGitHubRepo(
  fake: GitHubFake,
  owner: string,
  repo: string,
  options: SeedOptions = {},
): Promise<SeededRepo> {
  const app = options.app ?? repo;
  const now = options.now ?? new Date();
  const dir = await fake.createRepo(owner, repo, { defaultBranch: 'develop' });
  const marks = join(dir, 'seed-marks');
  await fastImport(dir, historyStream(app, now), marks);
  const byMark = new Map(
    (await readFile(marks, 'utf8'))
      .trim()
      .split('\n')
      .map((l) => l.split(' ') as [string, string]),
  );
  const commits = HISTORY.map((_, i) => byMark.get(`:${i + 1}`)!);
  await fastImport(dir, tagStream(app, now, commits), marks);
  await rm(marks, { force: true });

  const refs = new Map(
    (await git(dir, ['for-each-ref', '--format=%(refname) %(objectname)', 'refs/heads', 'refs/tags']))
      .split('\n')
      .map((l) => l.split(' ') as [string, string]),
  );
  const head = (branch: EnvBranch) => refs.get(`refs/heads/${branch}`)!;
  const tagOf = (env: keyof typeof PLACES) =>
    [...refs.keys()].find((r) => r.startsWith(`refs/tags/${env}/`))!.slice('refs/tags/'.length);
  return {
    owner,
    repo,
    dir,
    commits,
    heads: { develop: head('develop'), qa: head('qa'), staging: head('staging'), prod: head('prod') },
    tags: { qa: tagOf('qa'), staging: tagOf('staging'), prod: tagOf('prod') },
  };
}
