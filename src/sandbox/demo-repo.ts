/**
 * Write a small demo repository in two Git processes: `git init --bare`, then one
 * `git fast-import` that takes every commit, branch and annotated tag. A tag's message may name
 * the commit it points at (deploy tags carry `Source-Commit:`), so the commits go first and their
 * ids are asked back with `get-mark` before the tags are written. The sandbox's first start
 * spent most of its time in the forty-odd processes this replaces.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';

export interface DemoRepoCommit {
  subject: string;
  author: string;
  /** Files added or changed by this commit (path → text); earlier files stay. */
  files: Record<string, string>;
  /** The author and commit date. */
  date: Date;
}

export interface DemoRepo {
  /** Commits in order, each the parent of the next; the first branch below starts at the last. */
  commits: DemoRepoCommit[];
  /** Branch → index of the commit it points at. The first one is HEAD. */
  branches: Record<string, number>;
  tags?: { name: string; commit: number; date: Date; message(sha: string): string }[];
}

const SANDBOX = 'Conveyor Sandbox <sandbox@localhost>';

/** A name and address Git accepts in an ident line, from "Ana Ops". */
function ident(author: string): string {
  return `${author} <${author.split(' ')[0]!.toLowerCase()}@example.com>`;
}

const when = (d: Date) => `${Math.floor(d.getTime() / 1000)} +0000`;

function data(text: string): string {
  return `data ${Buffer.byteLength(text)}\n${text}\n`;
}

async function git(args: string[], env: NodeJS.ProcessEnv): Promise<void> {
  const child = spawn('git', args, { stdio: ['ignore', 'ignore', 'pipe'], env });
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const [code] = (await once(child, 'close')) as [number | null];
  if (code !== 0) throw new Error(`git ${args[0]} failed: ${err.trim().slice(0, 300)}`);
}

export async function writeDemoRepo(bare: string, repo: DemoRepo): Promise<void> {
  const env = { ...process.env, GIT_CONFIG_NOSYSTEM: '1', GIT_TERMINAL_PROMPT: '0' };
  const head = Object.keys(repo.branches)[0];
  if (!head) throw new Error('a demo repository needs a branch');
  await git(['init', '--bare', '--quiet', `--initial-branch=${head}`, bare], env);
  const child = spawn('git', ['--git-dir', bare, 'fast-import', '--quiet', '--date-format=raw'], {
    stdio: ['pipe', 'pipe', 'pipe'],
    env,
  });
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const closed = once(child, 'close') as Promise<[number | null]>;
  const shas: string[] = [];
  let out = '';
  const gotMarks = new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const lines = out.split('\n');
      out = lines.pop()!;
      shas.push(...lines.filter(Boolean));
      if (shas.length >= repo.commits.length) resolve();
    });
    child.once('close', () => reject(new Error(`git fast-import failed: ${err.trim().slice(0, 300)}`)));
  });
  let stream = '';
  repo.commits.forEach((c, i) => {
    stream += `commit refs/heads/${head}\nmark :${i + 1}\n`;
    stream += `author ${ident(c.author)} ${when(c.date)}\ncommitter ${SANDBOX} ${when(c.date)}\n${data(`${c.subject}\n`)}`;
    if (i > 0) stream += `from :${i}\n`;
    for (const [path, text] of Object.entries(c.files)) stream += `M 100644 inline ${path}\n${data(text)}`;
    stream += '\n';
  });
  for (const [branch, i] of Object.entries(repo.branches)) stream += `reset refs/heads/${branch}\nfrom :${i + 1}\n\n`;
  stream += repo.commits.map((_, i) => `get-mark :${i + 1}\n`).join('');
  child.stdin.write(stream);
  await gotMarks;
  let tags = '';
  for (const t of repo.tags ?? []) {
    tags += `tag ${t.name}\nfrom :${t.commit + 1}\ntagger ${SANDBOX} ${when(t.date)}\n${data(`${t.message(shas[t.commit]!).trimEnd()}\n`)}`;
  }
  child.stdin.end(`${tags}done\n`);
  const [code] = await closed;
  if (code !== 0) throw new Error(`git fast-import failed: ${err.trim().slice(0, 300)}`);
}
