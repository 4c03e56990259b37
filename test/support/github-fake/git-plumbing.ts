/** git for the GitHub fake: running it in a bare repository, reading commit and tag objects. */
import { createHash } from 'node:crypto';
import { GitHelper } from '../../../src/adapters/git-helper.js';
import { runGit } from './git-process.js';
import type { RepoState } from './state.js';

export const GIT_ENV = { ...process.env, GIT_CONFIG_GLOBAL: '/dev/null', GIT_CONFIG_NOSYSTEM: '1' };
export const BOT = { name: 'conveyor-bot', email: 'bot@users.noreply.github.test' };
export const SHA = /^[0-9a-f]{40}$/;

/** git in `cwd`, run by the fake's own git helper process (git-process.ts), never forked from the test's. */
export function run(args: string[], opts: { cwd?: string; input?: Buffer | string; env?: NodeJS.ProcessEnv } = {}) {
  return runGit(args, { cwd: opts.cwd, input: opts.input, env: { ...GIT_ENV, ...opts.env } });
}
/** git in `dir`; stdout trimmed; throws on a non-zero exit. */
export async function git(dir: string, args: string[], input?: string, env?: NodeJS.ProcessEnv): Promise<string> {
  const r = await run(args, { cwd: dir, input, env });
  if (r.code !== 0) throw new Error(`git ${args[0]} failed: ${r.stderr.trim()}`);
  return r.stdout.toString().trim();
}
/**
 * Read-only git for the fake's hottest answers (a poll's `matching-refs`), run from a helper
 * process rather than forked from the test's: the fake stands in for GitHub, whose work must
 * not be charged to the process under test (a fork from a process holding PGlite costs tens of
 * ms and blocks its event loop). Same git, same repository, same answer.
 */
export const readGit = new GitHelper();

/** git in `dir` through `readGit`; stdout trimmed; throws on a non-zero exit. */
export async function gitRead(dir: string, args: string[]): Promise<string> {
  const r = await readGit.exec(args, dir);
  if (r.code !== 0) throw new Error(`git ${args[0]} failed: ${r.stderr.trim()}`);
  return r.stdout.trim();
}
/** git in `dir`; null instead of throwing. */
export async function gitMaybe(dir: string, args: string[]): Promise<string | null> {
  const r = await run(args, { cwd: dir });
  return r.code === 0 ? r.stdout.toString().trim() : null;
}
/** Raw (untrimmed) content of an object of the given type, or null. */
export async function catFile(dir: string, type: string, sha: string): Promise<string | null> {
  const r = await run(['cat-file', type, sha], { cwd: dir });
  return r.code === 0 ? r.stdout.toString() : null;
}

export const iso = (d: Date) => d.toISOString().replace(/\.\d{3}Z$/, 'Z');
export const nodeId = (kind: string, id: number | string) => Buffer.from(`${kind}:${id}`).toString('base64');
export const sha1 = (s: string) => createHash('sha1').update(s).digest('hex');

export interface Person {
  name: string;
  email: string;
  date: string;
}
export interface GitCommitObj {
  sha: string;
  tree: string;
  parents: string[];
  author: Person;
  committer: Person;
  message: string;
}
export function parsePerson(line: string): Person {
  const m = /^(.*) <(.*)> (\d+) ([+-]\d{4})$/.exec(line);
  if (!m) return { name: line, email: '', date: iso(new Date(0)) };
  return { name: m[1]!, email: m[2]!, date: iso(new Date(Number(m[3]) * 1000)) }; // no optional group
}
export function parseObject(raw: string): { headers: [string, string][]; message: string } {
  const split = raw.indexOf('\n\n');
  const head = split < 0 ? raw : raw.slice(0, split);
  const headers: [string, string][] = [];
  for (const line of head.split('\n')) {
    const last = headers.at(-1);
    if (line.startsWith(' ') && last) last[1] += `\n${line.slice(1)}`;
    else {
      const sp = line.indexOf(' ');
      headers.push([line.slice(0, sp), line.slice(sp + 1)]);
    }
  }
  return { headers, message: split < 0 ? '' : raw.slice(split + 2) };
}
export const header = (h: [string, string][], k: string) => h.find(([key]) => key === k)?.[1] ?? '';
export const gitPersonEnv = (
  role: 'AUTHOR' | 'COMMITTER',
  p: { name?: unknown; email?: unknown; date?: unknown },
  now: Date,
) => ({
  [`GIT_${role}_NAME`]: typeof p.name === 'string' ? p.name : BOT.name,
  [`GIT_${role}_EMAIL`]: typeof p.email === 'string' ? p.email : BOT.email,
  [`GIT_${role}_DATE`]: typeof p.date === 'string' ? p.date : now.toISOString(),
});

/** The commit `sha` of the repository, parsed, or null when there is none. */
export async function readCommit(r: RepoState, sha: string): Promise<GitCommitObj | null> {
  if (!SHA.test(sha)) return null;
  const raw = await catFile(r.dir, 'commit', sha);
  if (raw === null) return null;
  const { headers, message } = parseObject(raw);
  return {
    sha,
    tree: header(headers, 'tree'),
    parents: headers.filter(([k]) => k === 'parent').map(([, v]) => v),
    author: parsePerson(header(headers, 'author')),
    committer: parsePerson(header(headers, 'committer')),
    message: message.replace(/\n$/, ''),
  };
}
